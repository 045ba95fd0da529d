"""Is a run sick? Health flags from a run's full-resolution curves, as pure numpy.

Per curve (``curve_health``): the first step with a NaN/inf, the first upward loss jump whose
robust z-score (against the median and MAD of the step-to-step changes of its block of
``BLOCK``, on the log of a positive loss) passes ``SPIKE_Z`` and stands above the points before
it, and the loss's trend over the last part (a least-squares line over the last third: its
relative rise when the slope is clear of the noise, else 0). Per run (``run_flags``):

- ``nan``: a NaN/inf appeared in any metric (the earliest step);
- ``spike``: a loss jumped (where);
- ``overfitting``: a validation loss rises over the last part while its training twin falls;
- ``diverging``: any other loss that rises over the last part;
- ``stalled``: decided by the caller from the run's liveness (``trainers.progress``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from trainers.metrics import higher_is_better

FLAGS = ("nan", "spike", "stalled", "diverging", "overfitting")  # display and filter order
VERSION = 1  # of the rules below: bump it when one changes, and flags cached by older ones are redone
SPIKE_Z = 6.0  # robust z of a jump (of the log, for a positive loss): no false spike over 30 × 10^4
# steps of Gaussian, log-normal or chi-square noise; heavy-tailed noise's outliers do count
SPIKE_REL = 0.05  # ... and the jump is at least 5 % of the curve's typical level
BLOCK = 100  # jumps per block of the noise estimate
BASELINE = 5  # points before a jump its height is measured from
MIN_SPIKE_POINTS = 8  # fewer changes than this give no robust scale
TAIL = 1 / 3  # the "last part" a trend is fitted over
MIN_TAIL_POINTS = 5
RISE = 0.05  # a trend counts when the fitted line moves by 5 % of the level over the tail ...
TREND_T = 3.0  # ... and its slope is this many standard errors from flat
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class CurveHealth:
    nan_step: int | None = None  # first step whose value is NaN or ±inf
    spike_step: int | None = None  # step at the top of the first spike (losses only)
    trend: float = 0.0  # relative rise of the fitted tail line (> 0 up, < 0 down, 0 unclear)
    tail_step: int | None = None  # first step of the fitted tail


@dataclass(frozen=True)
class Flag:
    flag: str  # one of FLAGS
    metric: str | None = None
    step: int | None = None  # where to mark the curve


def is_loss(metric: str) -> bool:
    """Loss-like curves get spike and trend checks: a ``loss`` in the leaf name, lower is better."""
    return "loss" in metric.rsplit("/", 1)[-1].lower() and not higher_is_better(metric)


def curve_health(steps, values, loss: bool = True) -> CurveHealth:
    """One curve's health; ``steps``/``values`` in logging order by step (NaN/inf as such)."""
    steps, values = np.asarray(steps, np.int64), np.asarray(values, np.float64)
    bad = ~np.isfinite(values)
    nan_at = int(steps[bad][0]) if bad.any() else None
    if not loss:
        return CurveHealth(nan_step=nan_at)
    steps, values = steps[~bad], values[~bad]
    trend, tail = tail_trend(steps, values)
    return CurveHealth(nan_at, spike_step(steps, values), trend, tail)


def spike_step(steps: np.ndarray, values: np.ndarray, z: float = SPIKE_Z) -> int | None:
    """Step of the first upward jump beyond ``z`` robust standard deviations of the changes
    around it (per block of ``BLOCK`` changes: minibatch noise shrinks as the loss falls)."""
    if len(values) <= MIN_SPIKE_POINTS:
        return None
    # A positive loss is judged on its log: minibatch noise is roughly proportional to the loss,
    # which falls by orders of magnitude (and an exponential blow-up is then a trend, not a jump).
    log = bool((values > 0).all())
    y = np.log(values) if log else values
    jumps = np.diff(y)
    centre, scale, level = _block_stats(jumps, y[1:])
    least = np.full(len(jumps), np.log1p(SPIKE_REL)) if log else SPIKE_REL * level
    for i in np.flatnonzero((jumps - centre > z * scale) & (jumps > least)) + 1:
        # Above the points before it too: the way back up from a dip is no spike.
        base = float(np.median(y[max(i - BASELINE, 0):i]))
        if y[i] - base > max(z * scale[i - 1], least[i - 1]):
            return int(steps[i])
    return None


def _block_stats(jumps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per jump: its block's median jump, robust SD of the jumps (MAD based, floored so that a
    perfectly smooth curve's rounding never counts) and typical |value|."""
    n = len(jumps)
    pad = -n % BLOCK
    blocks = np.pad(jumps, (0, pad), constant_values=np.nan).reshape(-1, BLOCK)
    levels = np.pad(np.abs(values), (0, pad), constant_values=np.nan).reshape(-1, BLOCK)
    centre = np.nanmedian(blocks, axis=1, keepdims=True)
    mad = _MAD_TO_SD * np.nanmedian(np.abs(blocks - centre), axis=1)
    level = np.nanmedian(levels, axis=1)
    scale = np.maximum(mad, 1e-9 * np.maximum(level, 1e-12))
    return tuple(np.repeat(a, BLOCK)[:n] for a in (centre[:, 0], scale, level))


def tail_trend(steps: np.ndarray, values: np.ndarray) -> tuple[float, int | None]:
    """(relative rise of a line fitted to the last third, its first step); 0.0 when unclear."""
    if len(values) < 2 * MIN_TAIL_POINTS:  # too short to have a "last part"
        return 0.0, None
    n = max(MIN_TAIL_POINTS, int(np.ceil(len(values) * TAIL)))
    x, y = steps[-n:].astype(np.float64), values[-n:]
    x = x - x.mean()
    sxx = float(np.sum(x * x))
    if sxx == 0:
        return 0.0, None
    slope = float(np.sum(x * (y - y.mean())) / sxx)
    resid = y - y.mean() - slope * x
    se = np.sqrt(float(np.sum(resid * resid)) / max(n - 2, 1) / sxx)
    rise = slope * (x[-1] - x[0]) / max(abs(float(np.median(y))), 1e-12)
    clear = se == 0 or abs(slope) / se >= TREND_T
    return (rise if clear and abs(rise) >= RISE else 0.0), int(steps[-n])


def twin(metric: str) -> str | None:
    """The training curve of a validation metric: ``val/loss`` → ``train/loss`` (also ``val_``)."""
    for val, train in (("val/", "train/"), ("val_", "train_"), ("validation/", "train/")):
        if metric.startswith(val):
            return train + metric[len(val):]
    return None


def run_flags(curves: Mapping[str, CurveHealth], stalled: bool = False) -> list[Flag]:
    """A run's flags in ``FLAGS`` order, each once, at its earliest evidence."""
    found: dict[str, Flag] = {}
    for metric in sorted(curves):
        h = curves[metric]
        if h.nan_step is not None:
            _keep_earliest(found, Flag("nan", metric, h.nan_step))
        if h.spike_step is not None:
            _keep_earliest(found, Flag("spike", metric, h.spike_step))
        if h.trend > 0:
            train = curves.get(twin(metric) or "")
            kind = "overfitting" if train is not None and train.trend < 0 else "diverging"
            _keep_earliest(found, Flag(kind, metric, h.tail_step))
    if stalled:
        found["stalled"] = Flag("stalled")
    return [found[f] for f in FLAGS if f in found]


def _keep_earliest(found: dict[str, Flag], flag: Flag) -> None:
    old = found.get(flag.flag)
    if old is None or (flag.step is not None and old.step is not None and flag.step < old.step):
        found[flag.flag] = flag


def text(flags: list[Flag]) -> str:
    """The runs table's ``health`` cell: flag names joined by ", " ("" for a healthy run)."""
    return ", ".join(f.flag for f in flags)
