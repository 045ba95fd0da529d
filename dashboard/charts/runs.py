"""One-point-per-run charts over the runs frame: parallel coordinates and param-vs-metric scatter.

Params arrive as the strings MLflow stores; a param whose present values all parse as numbers is
drawn on a numeric axis, any other param as categories (sorted labels, missing shown as "—").
Names may be given with or without their prefix (``lr`` or ``params.lr``, ``val/acc`` or
``metrics.val/acc``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts._style import empty_figure, plain
from dashboard.names import bare, run_name
from trainers.metrics import higher_is_better

MISSING = "—"


def column(runs: pd.DataFrame, name: str, prefix: str) -> str:
    """The runs-frame column for ``name``: itself if present, else ``prefix + name``."""
    if name in runs.columns:
        return name
    if f"{prefix}{name}" in runs.columns:
        return f"{prefix}{name}"
    raise KeyError(f"no column {name!r} or {prefix}{name!r} in the runs frame")


def run_labels(runs: pd.DataFrame, labels: Mapping[str, str] | None = None) -> np.ndarray:
    """Per row: ``labels[run_id]``, else the run name, else the first 8 characters of the id."""
    labels = labels or {}
    names = runs["run_name"] if "run_name" in runs.columns else pd.Series(None, index=runs.index)
    return np.array([
        plain(labels.get(rid) or run_name(name, rid))
        for rid, name in zip(runs["run_id"], names)
    ], dtype=object)


def encode(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """``(numbers, None)`` for a numeric column, else ``(integer codes, tick labels)``."""
    numbers = pd.to_numeric(values, errors="coerce")
    present = values.notna()
    if present.any() and numbers[present].notna().all():
        return numbers.to_numpy(dtype=np.float64), None
    text = values.astype(object).where(present, MISSING).astype(str)
    ticks = sorted(set(text))
    codes = text.map({t: i for i, t in enumerate(ticks)})
    return codes.to_numpy(dtype=np.float64), ticks


def parallel_figure(runs: pd.DataFrame, params: list[str], metric: str, higher_better: bool | None = None) -> go.Figure:
    """Parallel coordinates: one axis per param, the metric last, lines coloured by the metric.

    Runs without a value for the metric are left out: they can be neither placed on the metric
    axis nor coloured. The colour scale is flipped for lower-is-better metrics so that the
    "good" end has the same colour for loss and accuracy; ``higher_better`` is the direction when
    the caller knows it (a sweep's), else it is guessed from the metric's name.
    """
    try:
        mcol = column(runs, metric, "metrics.")
    except KeyError:
        return empty_figure(f"No runs have logged {metric}")
    df = runs[np.isfinite(pd.to_numeric(runs[mcol], errors="coerce"))]
    if df.empty:
        return empty_figure(f"No runs have logged {metric}")
    dims = []
    for p in params:
        pcol = column(df, p, "params.")
        values, ticks = encode(df[pcol])
        dim = dict(label=bare(pcol), values=values)
        if ticks is not None:
            dim.update(tickvals=np.arange(len(ticks)), ticktext=ticks)
        dims.append(dim)
    score = df[mcol].to_numpy(dtype=np.float64)
    dims.append(dict(label=bare(mcol), values=score))
    fig = go.Figure(go.Parcoords(
        dimensions=dims,
        line=dict(color=score, colorscale="Viridis", showscale=True,
                  reversescale=not (higher_is_better(bare(mcol)) if higher_better is None else higher_better),
                  colorbar=dict(title=dict(text=bare(mcol)))),
        meta={"run_ids": list(df["run_id"])},
    ))
    fig.update_layout(margin=dict(l=60, r=60, t=40, b=20))
    return fig


def scatter_figure(runs: pd.DataFrame, param: str, metric: str,
                   labels: Mapping[str, str] | None = None) -> go.Figure:
    """``param`` (x) against ``metric`` (y), one point per run; hover shows the run's name."""
    try:
        pcol, mcol = column(runs, param, "params."), column(runs, metric, "metrics.")
    except KeyError as exc:
        return empty_figure(str(exc.args[0]))
    df = runs[np.isfinite(pd.to_numeric(runs[mcol], errors="coerce"))]
    if df.empty:
        return empty_figure(f"No runs have logged {metric}")
    xs, ticks = encode(df[pcol])
    if ticks is not None:  # categorical param: plot the labels on a category axis, sorted
        xs = np.array([ticks[int(i)] for i in xs], dtype=object)
    fig = go.Figure(go.Scatter(
        x=xs, y=df[mcol].to_numpy(dtype=np.float64), mode="markers",
        text=run_labels(df, labels), customdata=df["run_id"].to_numpy(dtype=object),
        hovertemplate=f"%{{text}}<br>{bare(pcol)}=%{{x}}<br>{bare(mcol)}=%{{y}}<extra></extra>",
        marker=dict(size=9),
    ))
    fig.update_layout(xaxis_title=bare(pcol), yaxis_title=bare(mcol),
                      margin=dict(l=10, r=10, t=30, b=10))
    if ticks is not None:
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=ticks)
    return fig
