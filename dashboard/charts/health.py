"""Health flags on a run's curve: a marker and a dotted line at the step each flag was found."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.analysis.health import Flag

COLOURS = {"nan": "#7f7f7f", "spike": "#d62728", "diverging": "#ff7f0e", "overfitting": "#9467bd"}


def mark_flags(fig: go.Figure, part: pd.DataFrame, flags: Iterable[Flag]) -> go.Figure:
    """``fig`` (a curve against step, drawn from ``part``: step, value) with one marker per flag
    found on this curve, at the curve's last finite value up to that step (a NaN has no height)."""
    steps = part["step"].to_numpy(np.int64) if not part.empty else np.array([], np.int64)
    values = part["value"].to_numpy(np.float64) if not part.empty else np.array([])
    for flag in flags:
        if flag.step is None:
            continue
        upto = np.isfinite(values) & (steps <= flag.step)
        y = float(values[upto][-1]) if upto.any() else None
        colour = COLOURS.get(flag.flag, "#333333")
        fig.add_vline(x=flag.step, line_dash="dot", line_color=colour, opacity=0.6)
        fig.add_trace(go.Scatter(x=[flag.step], y=[y], mode="markers+text", text=[flag.flag], textposition="top center",
                                 marker=dict(symbol="x", size=11, color=colour), name=flag.flag, showlegend=False,
                                 hovertemplate=f"{flag.flag} at step %{{x}}<extra></extra>",
                                 meta={"role": "health", "flag": flag.flag}))
    return fig
