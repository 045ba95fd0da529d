"""Grouped curves: per group the mean line across its runs, a spread band, and the members faint.

Alignment (simple on purpose): each member is (optionally EMA-smoothed, then) linearly interpolated
onto the union of the members' x values — only inside that member's own x range, never
extrapolated — and the mean / spread at each grid point uses the members that cover it. When the
union is large (downsampled runs rarely share bucket edges) the grid becomes ``GRID_POINTS`` evenly
spaced values over the covered range instead.

On wall time, runs of a group rarely overlap (a sweep's trials run one after another): averaging
them at equal wall-clock x would join one run's end to the next one's start. So on ``x="wall"``
each member is aligned on time since its own first point and the group's mean and band are drawn
from the group's earliest first point; the members stay faint at their real wall times.

Traces: members keep role ``line`` (still one per run, drawn faint, no legend); each group adds
``meta = {"group": label, "run_ids": [...], "role": "group"}`` for the mean and
``role: "group_band"`` for the two band edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from dashboard.charts._style import palette, rgba
from dashboard.charts.traces import Curve, ema, run_traces, x_out

MAX_UNION = 2_000  # a union grid up to this size is used as is …
GRID_POINTS = 1_000  # … else an even grid of this many points
Z95 = 1.96


def align(curves: list[Curve], smooth: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Members on a common x grid: ``(grid (g,), values (members, g))``, NaN where not covered."""
    pairs = []
    for c in curves:
        y = ema(c.y, smooth) if smooth > 0 else c.y
        ok = np.isfinite(c.x) & np.isfinite(y)
        order = np.argsort(c.x[ok], kind="stable")
        pairs.append((c.x[ok][order], y[ok][order]))
    xs = [p[0] for p in pairs if p[0].size]
    if not xs:
        return np.empty(0), np.empty((len(curves), 0))
    grid = np.unique(np.concatenate(xs))
    if grid.size > MAX_UNION:
        grid = np.linspace(grid[0], grid[-1], GRID_POINTS)
    values = np.full((len(curves), grid.size), np.nan)
    for i, (px, py) in enumerate(pairs):
        if px.size:
            inside = (grid >= px[0]) & (grid <= px[-1])
            values[i, inside] = np.interp(grid[inside], px, py)
    return grid, values


def aggregate(values: np.ndarray, band: str = "std") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise ``(mean, half-width of the band, count)`` over finite values.

    ``std`` is the sample standard deviation (ddof=1; 0 where one member covers the point);
    ``ci95`` is 1.96·std/√n.
    """
    if band not in ("std", "ci95"):
        raise ValueError(f"band must be 'std' or 'ci95', not {band!r}")
    ok = np.isfinite(values)
    count = ok.sum(axis=0)
    filled = np.where(ok, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, filled.sum(axis=0) / count, np.nan)
        sq = np.where(ok, (values - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(count > 1, np.sqrt(sq / (count - 1)), 0.0)
        half = std if band == "std" else Z95 * std / np.sqrt(np.maximum(count, 1))
    return mean, np.where(count > 0, half, np.nan), count


def group_traces(curves: list[Curve], groups: Mapping[str, str], *, x: str, smooth: float,
                 band: str, labels: Mapping[str, str], kind: str = "scatter") -> list:
    """Traces for every group, groups in order of their first member; ungrouped runs stand alone."""
    members: dict[str, list[Curve]] = {}
    for c in curves:
        members.setdefault(groups.get(c.run_id) or labels.get(c.run_id, c.run_id[:8]), []).append(c)
    traces = []
    for (label, group), colour in zip(members.items(), palette(len(members))):
        for c in group:
            traces += run_traces(c, labels.get(c.run_id, c.run_id[:8]), colour, x=x,
                                 smooth=smooth, best=False, kind=kind, faint=True,
                                 legendgroup=label)
        traces += _mean_traces(label, group, colour, x=x, smooth=smooth, band=band,
                               kind=kind)
    return traces


def _mean_traces(label: str, group: list[Curve], colour: str, *, x: str, smooth: float,
                 band: str, kind: str) -> list:
    origin = 0.0
    if x == "wall":
        firsts = [float(np.nanmin(c.x)) for c in group if np.isfinite(c.x).any()]
        origin = min(firsts) if firsts else 0.0
        group = [_since_first(c) for c in group]
    grid, values = align(group, smooth)
    mean, half, _ = aggregate(values, band)
    run_ids = [c.run_id for c in group]
    gx = x_out(grid + origin, x)
    edge = dict(width=0, color=colour)
    band_meta = {"group": label, "run_ids": run_ids, "role": "group_band"}
    band_edge = dict(type=kind, x=gx, mode="lines", line=edge, showlegend=False,
                     hoverinfo="skip", legendgroup=label, meta=band_meta)
    return [
        dict(band_edge, y=mean - half),  # low edge first: "tonexty" fills to the previous trace
        dict(band_edge, y=mean + half, fill="tonexty", fillcolor=rgba(colour, 0.2)),
        dict(type=kind, x=gx, y=mean, mode="lines", name=f"{label} (n={len(group)})",
             legendgroup=label, line=dict(color=colour, width=2.5),
             meta={"group": label, "run_ids": run_ids, "role": "group"}),
    ]


def _since_first(c: Curve) -> Curve:
    """The member with x counted from its own first point (wall time -> elapsed ms)."""
    if not np.isfinite(c.x).any():
        return c
    return replace(c, x=c.x - float(np.nanmin(c.x)))
