"""A running run's mini chart for the Activity page: its training loss and one validation metric.

Input is the data layer's curves frame (see ``curves.py``); the two metrics get their own y axes
(left: training loss per step, right: the validation metric per epoch, lines and markers since it
has one point per epoch) because a loss and an accuracy do not share a scale. Every trace carries
``meta = {"run_id", "metric", "role": "live"}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts._style import empty_figure, palette, plain
from dashboard.charts.traces import split_curves


def live_metric(curves: pd.DataFrame, run_id: str, candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` that ``run_id`` has points for (e.g. accuracy, else val loss)."""
    have = set(curves.loc[curves["run_id"] == run_id, "metric"])
    return next((m for m in candidates if m in have), None)


def live_figure(curves: pd.DataFrame, run_id: str, train_metric: str, val_metrics: Sequence[str],
                height: int = 180) -> go.Figure:
    """``train_metric`` (left axis) and the first of ``val_metrics`` the run has (right axis) by step."""
    df = curves[curves["run_id"] == run_id]
    val = live_metric(df, run_id, val_metrics)
    train_colour, val_colour = palette(2)
    traces = []
    for metric, axis, colour, mode in ((train_metric, "y", train_colour, "lines"),
                                       (val, "y2", val_colour, "lines+markers")):
        found = split_curves(df, metric) if metric else []
        if found:
            c = found[0]
            traces.append(dict(type="scatter", x=c.x, y=c.y, mode=mode, yaxis=axis, name=plain(metric),
                               line=dict(color=colour, width=1.5), marker=dict(size=5),
                               meta={"run_id": run_id, "metric": metric, "role": "live"}))
    if not traces:
        return empty_figure("No points yet")
    fig = go.Figure(data=traces)
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=24, b=10), hovermode="x unified",
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"), xaxis_title="Step",
        yaxis=dict(title=plain(train_metric)),
        yaxis2=dict(title=plain(val) if val else None, overlaying="y", side="right", showgrid=False),
    )
    return fig
