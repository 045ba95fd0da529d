"""A sweep's search space: the fields it varies (``Dim``), checked against the family's rules,
and the trials of a grid or random sweep (``plan``: same inputs, same list). Optuna's
distributions are built from the same ``Dim``s in ``experiments.sweeps``.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

from trainers.config import ConfigError
from trainers.registry import get as get_family
from trainers.spec import build_spec


@dataclass(frozen=True)
class Dim:
    name: str
    values: list | None = None  # choices, or None for a range
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    num: int = 3  # grid points of a range


def dim(family: str, name: str, raw: Any) -> Dim:
    fields = get_family(family).config.model_fields
    if name not in fields:
        raise ConfigError(f"{name}: unknown field for family '{family}'", field=name)
    integer = fields[name].annotation is int
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise ConfigError(f"{name}: give at least one value to try", field=name)
        return Dim(name, values=list(raw), integer=integer)
    if not isinstance(raw, dict) or set(raw) - {"low", "high", "log", "num"} or {"low", "high"} - set(raw):
        raise ConfigError(f"{name}: a list of values or {{low, high, log, num}}", field=name)
    try:
        low, high, num = float(raw["low"]), float(raw["high"]), int(raw.get("num", 3))
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: low, high and num must be numbers (got {raw!r})", field=name) from None
    log = bool(raw.get("log", False))
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high or (log and low <= 0) or not 1 <= num <= 1000:
        raise ConfigError(f"{name}: need low < high (both > 0 for log) and 1 <= num <= 1000 (got {raw!r})", field=name)
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return Dim(name, None, low, high, log, integer, num)


def parse_space(family: str, space: dict[str, Any], base: dict[str, Any]) -> list[Dim]:
    """Check every field exists and every end of every range passes the family's rules."""
    if not space:
        raise ConfigError("space: choose at least one field to sweep", field="space")
    dims = [dim(family, name, raw) for name, raw in space.items()]
    for d in dims:
        for value in d.values if d.values is not None else (d.low, d.high):
            build_spec(family, {**base, d.name: int(value) if d.integer and isinstance(value, float) else value})
    return dims


def _range_points(d: Dim) -> list:
    if d.num == 1:
        pts = [d.low]
    elif d.log:
        pts = [d.low * (d.high / d.low) ** (i / (d.num - 1)) for i in range(d.num)]
    else:
        pts = [d.low + (d.high - d.low) * i / (d.num - 1) for i in range(d.num)]
    return list(dict.fromkeys(round(p) for p in pts)) if d.integer else pts


def _sample(d: Dim, rng: random.Random):
    if d.values is not None:
        return rng.choice(d.values)
    x = math.exp(rng.uniform(math.log(d.low), math.log(d.high))) if d.log else rng.uniform(d.low, d.high)
    return min(max(round(x), int(d.low)), int(d.high)) if d.integer else x


def plan(kind: str, dims: list[Dim], budget: int, seed: int) -> list[dict]:
    """The trials of a grid or random sweep, in order (same inputs, same list)."""
    if kind == "grid":
        axes = [d.values if d.values is not None else _range_points(d) for d in dims]
        points = [dict(zip([d.name for d in dims], combo)) for combo in itertools.product(*axes)]
        if len(points) > budget:
            raise ConfigError(
                f"budget: the grid has {len(points)} trials, more than the budget of {budget}", field="budget"
            )
        return points
    rng = random.Random(seed)
    return [{d.name: _sample(d, rng) for d in dims} for _ in range(budget)]
