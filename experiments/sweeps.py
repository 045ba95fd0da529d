"""Sweeps: grid, random and Bayesian (Optuna) search over a family's config fields.

A sweep is a parent run (RUNNING while trials run, FINISHED at the end with the best trial as tags
and a ``best/<metric>`` metric) and each trial a nested run (``mlflow.parentRunId``) in the queue.
The whole plan lives in the parent's ``runboard.sweep`` tag, so the worker can carry a sweep on
after any restart: grid/random trials are a deterministic list (missing ones are re-submitted
under the same idempotency key), and Optuna's study is rebuilt from the finished trials before
each ``ask``. Space: ``{"field": [choices...]}`` or ``{"field": {"low": a, "high": b, "log": bool,
"num": n}}`` (``num``: grid points of a range; ints follow the field's type).

Early stopping (``prune``, any kind): ``{"rule": "median" | "asha", "warmup_trials", "min_epochs",
"eta"}``, validated once here by ``trainers.pruning.parse``. Each trial carries the rule, the
objective and its direction in its ``runboard.sweep.prune`` tag, and its own trainer applies the
rule at every validation epoch's end against its siblings' curves in the store
(``trainers.callbacks.SweepPruning``; the module docstring of ``trainers.pruning`` says why the
trial decides and not this driver). A pruned trial ends KILLED with ``pruned at epoch N``; Optuna
counts it as a PRUNED trial, the best trial is picked among FINISHED ones only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mlflow.entities import Param

from experiments import placement, queue
from experiments.sweep_space import dim, parse_space, plan
from trainers import pruning, run_status, run_tags, tracking
from trainers.config import ConfigError
from trainers.run_record import FAMILY_TAG, SPEC_TAG, TERMINAL
from trainers.spec import build_spec, check_name

SWEEP_TAG = run_tags.SWEEP
KINDS = ("grid", "random", "optuna")
BEST = run_tags.SWEEP_BEST


def _config(parent) -> dict:
    return json.loads(parent.data.tags[SWEEP_TAG])


@dataclass(frozen=True)
class Definition:
    """What a results view needs of a sweep: the swept fields and the objective it optimises."""
    kind: str
    fields: tuple[str, ...]  # the space's fields (sorted: the definition is stored with sorted keys)
    metric: str
    direction: str  # minimize | maximize
    budget: int
    prune: str | None = None  # the early-stopping rule (median | asha), None when trials run to the end


def definition(tags: Mapping[str, str]) -> Definition | None:
    """The sweep a parent run's tags define; None for any other run or an unreadable definition."""
    try:
        cfg = json.loads(tags[SWEEP_TAG])
        return Definition(str(cfg["kind"]), tuple(cfg["space"]), str(cfg["metric"]), str(cfg["direction"]),
                          int(cfg["budget"]), (cfg.get("prune") or {}).get("rule"))
    except (KeyError, TypeError, ValueError):
        return None


def parallelism(parent) -> int:
    return int(_config(parent)["parallelism"])


def create(
    kind: str,
    family: str,
    base: dict[str, Any],
    space: dict[str, Any],
    *,
    budget: int,
    parallelism: int = 2,
    metric: str = "val/loss",
    direction: str = "minimize",
    experiment: str | None = None,
    name: str | None = None,
    launched_by: str | None = None,
    seed: int = 0,
    idempotency_key: str | None = None,
    uri: str | None = None,
    resources: dict | None = None,
    prune: dict | None = None,
) -> str:
    """Validate the whole sweep, create its parent run and queue its first trials; returns the parent id.
    ``resources`` (``{"cpus", "gpus"}``) is every trial's request to the executor; ``prune`` the
    early-stopping rule (see the module docstring), None for none.
    Raises ``ConfigError`` naming the field, with nothing created, for any invalid input."""
    if kind not in KINDS:
        raise ConfigError(f"kind: one of {', '.join(KINDS)} (got {kind!r})", field="kind")
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f"direction: minimize or maximize (got {direction!r})", field="direction")
    if not isinstance(budget, int) or not 1 <= budget <= 10_000:
        raise ConfigError(f"budget: 1 to 10000 trials (got {budget!r})", field="budget")
    if not isinstance(parallelism, int) or not 1 <= parallelism <= 1000:
        raise ConfigError(f"parallelism: 1 to 1000 (got {parallelism!r})", field="parallelism")
    if not isinstance(metric, str) or not metric.strip():
        raise ConfigError("metric: name the metric to optimise", field="metric")
    request = placement.check_request(resources) if resources is not None else None
    rule = pruning.parse(prune)
    base_spec = build_spec(family, base, experiment, name)
    values = base_spec.config.model_dump()
    dims = parse_space(family, space, values)
    if kind != "optuna":
        for point in plan(kind, dims, budget, seed):  # every trial valid before anything exists
            build_spec(family, {**values, **point})
    cfg = {"kind": kind, "family": family, "base": values, "experiment": experiment, "name": name, "space": space,
           "budget": budget, "parallelism": parallelism, "metric": metric, "direction": direction, "seed": seed,
           "launched_by": launched_by, "resources": request, "prune": asdict(rule) if rule else None}
    parent_id = _create_parent(cfg, base_spec, idempotency_key, uri)
    advance(tracking.client(uri).get_run(parent_id), uri)
    return parent_id


def _create_parent(cfg: dict, base_spec, key: str | None, uri: str | None) -> str:
    uri = uri or tracking.tracking_uri()
    client = tracking.client(uri)
    exp = tracking.experiment_id(cfg["experiment"], uri)
    with queue.submit_lock(uri):
        if key and (found := queue.find_by_key(client, exp, key)):
            return found
        tags = queue.launch_tags(base_spec, cfg["launched_by"], key=key)
        tags.pop(queue.QUEUED)  # a parent has no process to start
        tags.pop(SPEC_TAG)
        tags.update(
            {SWEEP_TAG: json.dumps(cfg, sort_keys=True), queue.SWEEP_KIND: cfg["kind"], FAMILY_TAG: cfg["family"]}
        )
        name = cfg["name"] or f"{cfg['family']}-{cfg['kind']}-sweep"
        parent_id = client.create_run(exp, tags=tags, run_name=name).info.run_id  # RUNNING until its trials end
        fixed = {k: str(v) for k, v in cfg["base"].items() if k not in cfg["space"]}
        params = {"family": cfg["family"], "sweep.kind": cfg["kind"], "sweep.budget": str(cfg["budget"]),
                  "sweep.parallelism": str(cfg["parallelism"]), "sweep.metric": cfg["metric"], **fixed}
        client.log_batch(parent_id, params=[Param(k, v) for k, v in params.items()])
    return parent_id


def _submit_trial(parent, cfg: dict, index: int, point: dict, uri: str | None) -> str:
    label = (cfg["name"] or f"{cfg['family']}-{cfg['kind']}")[:90]
    spec = build_spec(
        cfg["family"], {**cfg["base"], **point}, cfg["experiment"], check_name(f"{label}-{index}", "name")
    )
    return queue.submit(spec, cfg["launched_by"], parent_run_id=parent.info.run_id,
                        idempotency_key=f"sweep-{parent.info.run_id}-{index}", uri=uri,
                        extra_tags={queue.SWEEP_TRIAL: str(index), **placement.request_tags(cfg.get("resources")),
                                    **_prune_tag(cfg)})


def _prune_tag(cfg: dict) -> dict[str, str]:
    """What a trial's trainer needs to apply the sweep's early stopping (none: no tag)."""
    if not cfg.get("prune"):
        return {}
    return {
        run_tags.SWEEP_PRUNE: json.dumps(
            {"rule": cfg["prune"], "metric": cfg["metric"], "direction": cfg["direction"]}, sort_keys=True
        )
    }


def _value(run, metric: str) -> float | None:
    v = run.data.metrics.get(metric)
    return v if run.info.status == "FINISHED" and v is not None and math.isfinite(v) else None


def advance(parent, uri: str | None = None) -> None:
    """Queue whatever trials the sweep may queue now; finish the parent when every trial ended."""
    if parent.info.status in TERMINAL:
        return
    cfg = _config(parent)
    kids = queue.children(parent.info.run_id, parent.info.experiment_id, uri)
    if cfg["kind"] == "optuna":
        active = sum(k.info.status not in TERMINAL for k in kids)
        free = min(cfg["parallelism"] - active, cfg["budget"] - len(kids))
        if free > 0:
            for i, point in enumerate(_ask(cfg, kids, free)):
                _submit_trial(parent, cfg, len(kids) + i, point, uri)
            return
    else:
        dims = [dim(cfg["family"], n, raw) for n, raw in cfg["space"].items()]
        points = plan(cfg["kind"], dims, cfg["budget"], cfg["seed"])
        have = {int(k.data.tags.get(queue.SWEEP_TRIAL, -1)) for k in kids}
        missing = [i for i in range(len(points)) if i not in have]
        for i in missing:  # all at once; the worker's parallelism check bounds how many run
            _submit_trial(parent, cfg, i, points[i], uri)
        if missing:
            return
        cfg["budget"] = len(points)
    if len(kids) >= cfg["budget"] and all(k.info.status in TERMINAL for k in kids):
        _finish(parent, cfg, kids, uri)


def _distributions(cfg: dict) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, raw in cfg["space"].items():
        d = dim(cfg["family"], name, raw)
        if d.values is not None:
            out[name] = CategoricalDistribution(d.values)
        elif d.integer:
            out[name] = IntDistribution(int(d.low), int(d.high), log=d.log)
        else:
            out[name] = FloatDistribution(d.low, d.high, log=d.log)
    return out


def _ask(cfg: dict, kids: list, n: int) -> list[dict]:
    """Rebuild the study from the trials in the store (nothing lives only in memory), then ask."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = _distributions(cfg)
    sampler = optuna.samplers.TPESampler(
        seed=cfg["seed"] + len(kids), n_startup_trials=max(cfg["parallelism"], cfg["budget"] // 3)
    )
    study = optuna.create_study(direction=cfg["direction"], sampler=sampler)
    for kid in kids:
        params = json.loads(kid.data.tags[SPEC_TAG])["config"]
        point = {k: params[k] for k in dists}
        value = _value(kid, cfg["metric"])
        state, steps = _state(kid, value, cfg["metric"])
        try:
            study.add_trial(create_trial(state=state, value=value if state == TrialState.COMPLETE else None,
                                         params=point, distributions=dists, intermediate_values=steps))
        except ValueError:  # e.g. a value outside the space after an edit: the sampler skips it
            continue
    return [study.ask(dists).params for _ in range(n)]


def _state(kid, value: float | None, metric: str):
    """The Optuna state of a trial, and for a pruned one its last value at the epoch it stopped
    (TPE ranks pruned trials by how far they got and how well they did there)."""
    from optuna.trial import TrialState

    if kid.info.status not in TERMINAL:
        return TrialState.RUNNING, None
    if value is not None:
        return TrialState.COMPLETE, None
    epoch, last = pruning.pruned_epoch(kid.data.tags.get(run_tags.ERROR)), kid.data.metrics.get(metric)
    if kid.info.status == "KILLED" and epoch is not None and last is not None and math.isfinite(last):
        return TrialState.PRUNED, {epoch: last}
    return TrialState.FAIL, None


def _finish(parent, cfg: dict, kids: list, uri: str | None) -> None:
    client = tracking.client(uri)
    scored = [(v, k) for k in kids if (v := _value(k, cfg["metric"])) is not None]
    if not scored:
        run_status.end_if_active(parent.info.run_id, "FAILED", f"no trial finished with a {cfg['metric']} value", uri)
        return
    pick = min if cfg["direction"] == "minimize" else max
    value, best = pick(scored, key=lambda vk: vk[0])
    config = json.loads(best.data.tags[SPEC_TAG])["config"]
    client.set_tag(parent.info.run_id, BEST + "run_id", best.info.run_id)
    client.set_tag(parent.info.run_id, BEST + "value", repr(value))
    client.set_tag(
        parent.info.run_id, BEST + "params", json.dumps({k: config[k] for k in cfg["space"]}, sort_keys=True)
    )
    client.set_tag(parent.info.run_id, run_tags.SWEEP_FINISHED_TRIALS, str(len(scored)))
    client.log_metric(parent.info.run_id, f"best/{cfg['metric']}", value)
    run_status.end_if_active(parent.info.run_id, "FINISHED", None, uri)

