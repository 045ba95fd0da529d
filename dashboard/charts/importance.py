"""Param importance as a horizontal bar chart: longest bar on top, Spearman's rho in the hover."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.charts._style import empty_figure, plain


def importance_figure(ranked: list, metric: str) -> go.Figure:
    """``ranked``: ``dashboard.analysis.importance.Importance`` rows, highest first."""
    if not ranked:
        return empty_figure(f"No varying params to rank for {metric}")
    names = [plain(r.param) for r in reversed(ranked)]
    rho = ["—" if not np.isfinite(r.spearman) else f"{r.spearman:+.2f}" for r in reversed(ranked)]
    fig = go.Figure(
        go.Bar(
            x=[r.importance for r in reversed(ranked)],
            y=names,
            orientation="h",
            customdata=rho,
            marker_color=[
                "#636EFA" if not np.isfinite(r.spearman) or r.spearman >= 0 else "#EF553B" for r in reversed(ranked)
            ],
            hovertemplate="%{y}: importance %{x:.3g}<br>Spearman ρ %{customdata}<extra></extra>",
            meta={"role": "importance"},
        )
    )
    fig.update_layout(
        title=dict(text=f"What matters for {plain(metric)}"),
        xaxis_title="Permutation importance (R² drop)",
        height=80 + 28 * len(ranked),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return fig
