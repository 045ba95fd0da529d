"""Trace primitives shared by single-run and grouped curves: a run's points as a ``Curve``, the
EMA, the x axis, and one run's traces (band, faint raw line, line).

Every trace carries ``meta = {"run_id", "role"}`` so tests and the browser can count lines per run:
role ``line`` is exactly one per run; ``raw`` is the faint unsmoothed line; ``band`` the bucket
min–max of a downsampled curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.charts._style import rgba

X_TITLES = {"step": "Step", "epoch": "Epoch", "relative": "Relative time (s)", "wall": "Wall time"}
# A spike that lives in one bucket of ~1,000 is a sliver of fill one or two pixels wide: the band's
# edges are drawn as thin lines so its max (and min) show at a glance, over a fill you can see.
BAND_FILL_ALPHA = 0.3
BAND_EDGE_ALPHA = 0.6
BAND_EDGE_WIDTH = 1.0


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average; non-finite inputs are gaps.

    Non-finite points (NaN, ±inf) come out as NaN and do not enter the average, so one inf
    cannot poison the rest of the line. Debiasing divides by ``1 - weight**k`` (k = finite points
    seen so far) so the line starts at the first value instead of rising from zero.
    """
    y = np.asarray(values, dtype=np.float64)
    out = np.full(y.shape, np.nan)
    if weight <= 0:
        return np.where(np.isfinite(y), y, np.nan)
    ok = np.isfinite(y)
    finite = y[ok]
    if finite.size == 0:
        return out
    # s_k = w·s_{k-1} + (1-w)·x_k, as a linear filter over the finite points only (C speed).
    # Imported here: SciPy is ~50 MB of a dashboard process that may never smooth a curve.
    from scipy.signal import lfilter

    smoothed = lfilter([1.0 - weight], [1.0, -weight], finite)
    smoothed /= 1.0 - weight ** np.arange(1, finite.size + 1)
    out[ok] = smoothed
    return out


@dataclass
class Curve:
    """One run's points for one metric, sorted by step; ``x`` is float (ms since epoch for wall)."""

    run_id: str
    x: np.ndarray
    y: np.ndarray  # bucket last values, non-finite → NaN
    lo: np.ndarray  # bucket min
    hi: np.ndarray  # bucket max
    downsampled: bool


def _start_ms(value, fallback: float) -> float:
    """A run's start as ms since epoch from a Timestamp / datetime / number; fallback when missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return fallback
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:  # the data layer's datetimes are UTC; a naive one is taken as UTC too
        ts = ts.tz_localize("UTC")
    return ts.timestamp() * 1000.0


def _finite(a: np.ndarray, logy: bool) -> np.ndarray:
    """Non-finite → NaN (gaps), and non-positive too on a log axis."""
    bad = ~np.isfinite(a) | ((a <= 0) if logy else False)
    return np.where(bad, np.nan, a)


def split_curves(curves: pd.DataFrame, metric: str, x: str = "step", *, logy: bool = False,
                 start_times: Mapping | None = None) -> list[Curve]:
    """The frame's rows for ``metric`` as one :class:`Curve` per run, in order of first appearance."""
    if x not in X_TITLES:
        raise ValueError(f"x must be one of {sorted(X_TITLES)}, not {x!r}")
    df = curves[curves["metric"] == metric]
    if df.empty:
        return []
    # One sort of the whole frame, then slices: a groupby + sort per run is 5× slower at 500 runs.
    codes, run_ids = pd.factorize(df["run_id"])
    order = np.lexsort((df["step"].to_numpy(), codes))
    col = {k: df[k].to_numpy(dtype=np.float64)[order]
           for k in ("step", "epoch", "timestamp", "value", "min", "max", "n")}
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    start_times = start_times or {}
    out = []
    for i, part in enumerate(np.split(np.arange(len(order)), bounds)):
        run_id = str(run_ids[i])
        sl = slice(part[0], part[-1] + 1)
        if x in ("step", "epoch"):
            xs = col[x][sl]
        else:
            ts = col["timestamp"][sl]
            start = _start_ms(start_times.get(run_id), float(ts.min()))
            xs = (ts - start) / 1000.0 if x == "relative" else ts
        out.append(Curve(run_id=run_id, x=xs, y=_finite(col["value"][sl], logy),
                         lo=_finite(col["min"][sl], logy), hi=_finite(col["max"][sl], logy),
                         downsampled=bool((col["n"][sl] > 1).any())))
    return out


INT32 = np.iinfo(np.int32)


def x_out(xs: np.ndarray, x: str) -> np.ndarray:
    """What Plotly gets on the x axis: datetimes (UTC) for wall time; whole numbers (steps, whole
    epochs) as int32, half the bytes of float64 in the figure's JSON and the same values; else the
    floats."""
    if x == "wall":
        return xs.astype("int64").astype("datetime64[ms]")
    if xs.size and np.isfinite(xs).all() and INT32.min <= xs.min() and xs.max() <= INT32.max \
            and (xs == np.round(xs)).all():
        return xs.astype(np.int32)
    return xs


def run_traces(curve: Curve, name: str, colour: str, *, x: str, smooth: float, best: bool,
               kind: str = "scatter", faint: bool = False, legendgroup: str | None = None) -> list:
    """Band (if downsampled), faint raw line (if smoothed) and the run's line, in drawing order.

    ``faint`` draws only the line, see-through and without legend (a member of a group).
    """
    rid = curve.run_id
    xs = x_out(curve.x, x)
    common = dict(legendgroup=legendgroup or rid, x=xs)
    traces = []
    if curve.downsampled and not faint:
        # fill="tonexty" fills to the trace just before it, so low must come right before high.
        edge = dict(width=BAND_EDGE_WIDTH, color=rgba(colour, BAND_EDGE_ALPHA))
        band = dict(type=kind, mode="lines", line=edge, showlegend=False, hoverinfo="skip",
                    meta={"run_id": rid, "role": "band"}, **common)
        traces.append(dict(band, y=curve.lo))
        traces.append(dict(band, y=curve.hi, fill="tonexty", fillcolor=rgba(colour, BAND_FILL_ALPHA)))
    y = curve.y
    if smooth > 0:
        if not faint:
            traces.append(dict(type=kind, y=y, mode="lines", line=dict(color=colour, width=1),
                               opacity=0.25, showlegend=False, hoverinfo="skip", name=name,
                               meta={"run_id": rid, "role": "raw"}, **common))
        y = ema(y, smooth)
    mode = "lines" if np.isfinite(y).sum() > 1 else "lines+markers"  # a lone point needs a marker
    traces.append(dict(
        type=kind, y=y, mode=mode, name=f"★ {name}" if best else name,
        line=dict(color=colour, width=3.0 if best else 1.5), opacity=0.3 if faint else 1.0,
        showlegend=not faint, meta={"run_id": rid, "role": "line"}, **common))
    return traces
