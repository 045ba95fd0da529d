"""Metric curves: one line per run (or per group of runs) for ONE metric.

Input is the data layer's long curves frame (``run_id, metric, step, value, first, min, max, n,
timestamp, epoch``). Arrays stay numpy end to end: Plotly ≥ 6 ships numpy as base64 typed arrays,
Python lists are ~10× slower to build and serialise (BASELINES.md, Charting).

Every trace carries ``meta = {"run_id", "role"}`` so tests and the browser can count lines per run:
role ``line`` is exactly one per run; ``raw`` is the faint unsmoothed line; ``band`` the bucket
min–max of a downsampled curve. Group mode adds ``group`` / ``group_band`` traces (see groups.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.signal import lfilter

from dashboard.charts._style import empty_figure, palette, plain, rgba

X_TITLES = {"step": "Step", "epoch": "Epoch", "relative": "Relative time (s)", "wall": "Wall time"}
WEBGL_MIN_RUNS = 20  # auto WebGL above this many runs …
WEBGL_MIN_POINTS = 50_000  # … or this many points: SVG gets sluggish in the browser past here
UNIFIED_HOVER_MAX_LINES = 10  # a unified hover box with more lines than this covers the chart


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


def x_out(xs: np.ndarray, x: str) -> np.ndarray:
    """What Plotly gets on the x axis: datetimes (UTC) for wall time, the floats otherwise."""
    return xs.astype("int64").astype("datetime64[ms]") if x == "wall" else xs


def curves_figure(curves: pd.DataFrame, metric: str, *, x: str = "step", smooth: float = 0.0,
                  logy: bool = False, labels: Mapping[str, str] | None = None,
                  start_times: Mapping | None = None, groups: Mapping[str, str] | None = None,
                  band: str = "std", highlight: str | None = None,
                  webgl: bool | None = None) -> go.Figure:
    """Overlay one line per run (or per group) of ``metric`` against ``x``."""
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), not {smooth}")
    runs = split_curves(curves, metric, x, logy=logy, start_times=start_times)
    if not runs:
        return empty_figure(f"No points yet for {metric}")
    labels = {k: plain(v) for k, v in (labels or {}).items()}
    groups = {k: plain(v) for k, v in groups.items()} if groups else groups
    n_points = sum(c.x.size for c in runs)
    if webgl is None:
        webgl = len(runs) > WEBGL_MIN_RUNS or n_points > WEBGL_MIN_POINTS
    kind = "scattergl" if webgl else "scatter"  # traces are dicts: Plotly validates once, in Figure
    if groups:
        from dashboard.charts.groups import group_traces  # groups.py imports this module

        traces = group_traces(runs, groups, x=x, smooth=smooth, band=band, labels=labels,
                              kind=kind)
        n_lines = len(set(groups.get(c.run_id, c.run_id) for c in runs))
    else:
        traces = []
        for curve, colour in zip(runs, palette(len(runs))):
            name = labels.get(curve.run_id, curve.run_id[:8])
            traces += run_traces(curve, name, colour, x=x, smooth=smooth,
                                 best=curve.run_id == highlight, kind=kind)
        n_lines = len(runs)
    fig = go.Figure(data=traces)
    _layout(fig, metric, x, logy, n_lines)
    return fig


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
        edge = dict(width=0, color=colour)
        band = dict(type=kind, mode="lines", line=edge, showlegend=False, hoverinfo="skip",
                    meta={"run_id": rid, "role": "band"}, **common)
        traces.append(dict(band, y=curve.lo))
        traces.append(dict(band, y=curve.hi, fill="tonexty", fillcolor=rgba(colour, 0.15)))
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


def _layout(fig: go.Figure, metric: str, x: str, logy: bool, n_lines: int) -> None:
    fig.update_layout(
        xaxis_title=X_TITLES[x], yaxis_title=metric,
        hovermode="x unified" if n_lines <= UNIFIED_HOVER_MAX_LINES else "closest",
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(itemsizing="constant"),
    )
    if logy:
        fig.update_yaxes(type="log")
