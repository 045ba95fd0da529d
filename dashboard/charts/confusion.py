"""Confusion matrix heatmap: rows = actual class, columns = predicted class."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.charts._style import empty_figure


def confusion_figure(matrix: list[list[int]], labels: list[str], *, normalize: bool = False,
                     title: str | None = None) -> go.Figure:
    """Heatmap with the counts written in the cells; row 0 on top like the printed matrix.

    ``normalize`` colours by the share of each actual class (row sums to 1) so small classes are
    readable; the cell text then shows the share and the count.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    if counts.size == 0:
        return empty_figure("No confusion matrix logged")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(labels):
        raise ValueError(f"matrix shape {counts.shape} does not match {len(labels)} labels")
    names = [str(label) for label in labels]
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
        text = [[f"{s:.0%}<br>{c}" for s, c in zip(zr, cr)] for zr, cr in zip(z, counts)]
    else:
        z = counts
        text = [[str(c) for c in row] for row in counts]
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
        hovertemplate="Actual %{y}<br>Predicted %{x}<br>%{text}<extra></extra>",
        zmin=0, zmax=1 if normalize else None,
    ))
    fig.update_layout(title=title, xaxis_title="Predicted", yaxis_title="Actual",
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    # Category axes keep the label order; reversed y puts row 0 (first class) on top.
    fig.update_xaxes(type="category", side="bottom")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig
