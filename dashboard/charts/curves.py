"""Metric curves: one line per run (or per group of runs) for ONE metric.

Input is the data layer's long curves frame (``run_id, metric, step, value, first, min, max, n,
timestamp, epoch``). Arrays stay numpy end to end: Plotly ≥ 6 ships numpy as base64 typed arrays,
Python lists are ~10× slower to build and serialise (BASELINES.md, Charting). The traces are built
in ``traces.py`` (one run) and ``groups.py`` (a group's mean and band).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts._style import empty_figure, palette, plain
from dashboard.charts.groups import group_traces
from dashboard.charts.traces import X_TITLES, run_traces, split_curves

# Auto WebGL only past this many points. Measured in headless Chromium without a GPU (the
# benchmark's, and any browser whose WebGL is software): 100 runs × 1,000 points × 4 charts as SVG
# took 12 s of main-thread time per page view vs 51 s as WebGL (readPixels, context set-up; the
# old rule: WebGL above 20 runs). Past ~200k points per chart SVG paths get heavy themselves.
WEBGL_MIN_POINTS = 200_000
UNIFIED_HOVER_MAX_LINES = 10  # a unified hover box with more lines than this covers the chart
# Plotly labels a log axis's in-between ticks with their leading digit only (0.3 reads "3"); a
# d3 format makes every tick the full number, trailing zeros trimmed (0.3, 0.05, 1e-5). Full labels
# are wider and full size, so fewer ticks: past two decades 1-2-5 or powers of ten, not every digit.
LOG_TICK_FORMAT = "~g"
LOG_NTICKS = 4


def curves_figure(curves: pd.DataFrame, metric: str, *, x: str = "step", smooth: float = 0.0,
                  logy: bool = False, labels: Mapping[str, str] | None = None,
                  start_times: Mapping | None = None, groups: Mapping[str, str] | None = None,
                  band: str = "std", highlight: str | None = None,
                  webgl: bool | None = None, colours: Mapping[str, str] | None = None) -> go.Figure:
    """Overlay one line per run (or per group) of ``metric`` against ``x``. ``colours`` (run_id →
    hex) keeps a run's colour the same across charts and the runs table; else a palette in order."""
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), not {smooth}")
    runs = split_curves(curves, metric, x, logy=logy, start_times=start_times)
    if not runs:
        return empty_figure(f"No points yet for {metric}")
    labels = {k: plain(v) for k, v in (labels or {}).items()}
    groups = {k: plain(v) for k, v in groups.items()} if groups else groups
    n_points = sum(c.x.size for c in runs)
    if webgl is None:
        webgl = n_points > WEBGL_MIN_POINTS
    kind = "scattergl" if webgl else "scatter"  # traces are dicts: Plotly validates once, in Figure
    if groups:
        traces = group_traces(runs, groups, x=x, smooth=smooth, band=band, labels=labels,
                              kind=kind)
        n_lines = len(set(groups.get(c.run_id, c.run_id) for c in runs))
    else:
        traces = []
        for curve, colour in zip(runs, palette(len(runs))):
            colour = (colours or {}).get(curve.run_id, colour)
            name = labels.get(curve.run_id, curve.run_id[:8])
            traces += run_traces(curve, name, colour, x=x, smooth=smooth,
                                 best=curve.run_id == highlight, kind=kind)
        n_lines = len(runs)
    fig = go.Figure(data=traces)
    _layout(fig, metric, x, logy, n_lines)
    return fig


def _layout(fig: go.Figure, metric: str, x: str, logy: bool, n_lines: int) -> None:
    fig.update_layout(
        xaxis_title=X_TITLES[x], yaxis_title=metric,
        hovermode="x unified" if n_lines <= UNIFIED_HOVER_MAX_LINES else "closest",
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(itemsizing="constant"),
    )
    if logy:
        fig.update_yaxes(type="log", tickformat=LOG_TICK_FORMAT, nticks=LOG_NTICKS)
