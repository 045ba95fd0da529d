"""Early stopping of sweep trials (pruning): the rule's typed config and the rules themselves.

How a trial learns it is pruned: each trial runs in its own process (on any executor), so no
in-memory Optuna study can watch it. Instead the trial's trainer applies the rule itself
(``trainers.callbacks.SweepPruning``): at the end of each validation epoch it reads its siblings'
per-epoch objective from the store (the other trials of its parent, ``mlflow.parentRunId``; a
finished sibling's curve is read once) and asks :func:`should_prune`. A pruned trial stops after
that epoch and ends ``KILLED`` with ``runboard.error`` = ``pruned at epoch N``, its points kept.
No worker round trip, so the stop is exact to the epoch and works the same for a Ray trial.
Not under DDP (several devices): its child ranks never read the store, so they could not follow
rank zero's stop; such a trial trains to the end.

The rule comes from the sweep's definition (``experiments.sweeps.create(prune=...)``, validated
once by :func:`parse`) and reaches each trial as its ``runboard.sweep.prune`` tag. Epoch ``k`` of
a curve is its ``k``-th point, so the objective is a metric logged once per validation epoch
(``val/loss``, ``val/acc``; validation runs every epoch). Rules, as Optuna's:

- ``median`` (``optuna.pruners.MedianPruner``): from epoch ``min_epochs`` on, once
  ``warmup_trials`` trials FINISHED, stop a trial whose value at epoch k is worse than the median
  of the finished trials' values at epoch k.
- ``asha`` (``optuna.pruners.SuccessiveHalvingPruner``, asynchronous successive halving, the
  building block of Hyperband): rungs at epochs ``min_epochs * eta**r``; at a rung a trial goes
  on only if its value is in the best ``1/eta`` of every trial that reached that rung (any
  status); while fewer than ``eta`` trials reached it, only the best so far goes on.

Grid and random sweeps use the same rules. Pure: no store, no torch.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trainers.config import ConfigError

RULES = ("median", "asha")
_REASON = "pruned at epoch "


@dataclass(frozen=True)
class PruneRule:
    rule: str  # median | asha
    warmup_trials: int = 3  # median: finished trials needed before anything is pruned
    min_epochs: int = 1  # no trial is pruned before this epoch (asha: the first rung)
    eta: int = 3  # asha: one in eta trials goes on at each rung


def parse(raw: Mapping | None) -> PruneRule | None:
    """``None`` or ``{"rule": "median"|"asha", "warmup_trials", "min_epochs", "eta"}`` (all but
    ``rule`` optional); raises ``ConfigError`` on field ``prune`` for anything else."""
    if raw is None or (isinstance(raw, Mapping) and raw.get("rule") in (None, "", "off")):
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"rule", "warmup_trials", "min_epochs", "eta"}:
        raise ConfigError(f"prune: rule, warmup_trials, min_epochs and eta only (got {raw!r})", field="prune")
    if raw["rule"] not in RULES:
        raise ConfigError(f"prune: rule is one of off, {', '.join(RULES)} (got {raw['rule']!r})", field="prune")
    limits = {"warmup_trials": (0, 1000), "min_epochs": (1, 100_000), "eta": (2, 100)}
    out = {"rule": raw["rule"]}
    for key, (low, high) in limits.items():
        value = raw.get(key, getattr(PruneRule, key))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"prune: {key} is a whole number from {low} to {high} (got {value!r})", field="prune")
        out[key] = value
    return PruneRule(**out)


def reason(epoch: int) -> str:
    return f"{_REASON}{epoch}"


def pruned_epoch(error: str | None) -> int | None:
    """The epoch a trial was pruned at, from its ``runboard.error``; None if it was not pruned."""
    tail = error[len(_REASON):] if error and error.startswith(_REASON) else ""
    return int(tail) if tail.isdigit() else None


def _worse(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "minimize" else a < b


def median_prunes(
    value: float, epoch: int, finished: Sequence[Sequence[float]], rule: PruneRule, direction: str
) -> bool:
    """``finished``: each FINISHED sibling's curve (``curve[k-1]`` = its value at epoch k)."""
    if epoch < rule.min_epochs or len(finished) < max(rule.warmup_trials, 1):
        return False
    at_k = [c[epoch - 1] for c in finished if len(c) >= epoch and math.isfinite(c[epoch - 1])]
    if not at_k:
        return False
    return not math.isfinite(value) or _worse(value, statistics.median(at_k), direction)


def asha_prunes(value: float, epoch: int, others: Sequence[Sequence[float]], rule: PruneRule, direction: str) -> bool:
    """``others``: every sibling's curve so far, whatever its status."""
    rung, r = rule.min_epochs, 0
    while rung < epoch:
        r += 1
        rung = rule.min_epochs * rule.eta**r
    if rung != epoch:
        return False  # decisions only at rungs
    if not math.isfinite(value):
        return True
    competing = sorted([c[epoch - 1] for c in others if len(c) >= epoch and math.isfinite(c[epoch - 1])] + [value],
                       reverse=direction == "maximize")
    keep = max(len(competing) // rule.eta, 1)  # the first eta-1 arrivals: only a new best goes on
    return _worse(value, competing[keep - 1], direction)


def should_prune(rule: PruneRule, direction: str, value: float, epoch: int,
                 siblings: Sequence[tuple[str, Sequence[float]]]) -> bool:
    """Whether a trial whose objective at ``epoch`` (1-based) is ``value`` stops now, given its
    siblings as ``(status, curve)``."""
    if rule.rule == "median":
        return median_prunes(value, epoch, [c for s, c in siblings if s == "FINISHED"], rule, direction)
    return asha_prunes(value, epoch, [c for _, c in siblings], rule, direction)
