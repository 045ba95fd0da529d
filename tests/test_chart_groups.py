"""Grouped curves (``dashboard.charts.groups``): a mean line and band per group over faint members."""

from __future__ import annotations

import numpy as np
from charts_util import A, B, C, by_role, curve_rows, frame

from dashboard.charts import aggregate, align, curves_figure
from dashboard.charts.traces import split_curves

# --- groups --------------------------------------------------------------------------------------

def test_groups_draw_a_mean_line_per_group_and_faint_members():
    df = frame(curve_rows(A, [1.0, 2.0]), curve_rows(B, [3.0, 4.0]), curve_rows(C, [9.0, 9.0]))
    fig = curves_figure(df, "val/loss", groups={A: "lr=0.1", B: "lr=0.1", C: "lr=1"})
    means = by_role(fig, "group")
    assert [t.meta["group"] for t in means] == ["lr=0.1", "lr=1"]
    np.testing.assert_allclose(means[0].y, [2.0, 3.0])
    assert all(t.opacity < 1 and t.showlegend is False for t in by_role(fig, "line"))


def test_group_std_band_surrounds_the_mean():
    df = frame(curve_rows(A, [1.0, 2.0]), curve_rows(B, [3.0, 4.0]))
    fig = curves_figure(df, "val/loss", groups={A: "g", B: "g"})
    low, high = by_role(fig, "group_band")
    std = np.std([1.0, 3.0], ddof=1)
    np.testing.assert_allclose(low.y, [2.0 - std, 3.0 - std])
    np.testing.assert_allclose(high.y, [2.0 + std, 3.0 + std])
    assert high.fill == "tonexty"


def test_group_ci95_band_is_narrower_by_sqrt_n():
    df = frame(curve_rows(A, [1.0]), curve_rows(B, [3.0]))
    fig = curves_figure(df, "val/loss", groups={A: "g", B: "g"}, band="ci95")
    high = by_role(fig, "group_band")[1]
    np.testing.assert_allclose(high.y, [2.0 + 1.96 * np.std([1.0, 3.0], ddof=1) / np.sqrt(2)])


def test_align_interpolates_on_the_union_of_steps_without_extrapolating():
    curves = split_curves(frame(curve_rows(A, [0.0, 2.0], steps=[0, 2]),
                                curve_rows(B, [5.0], steps=[1])), "val/loss")
    grid, values = align(curves)
    np.testing.assert_allclose(grid, [0, 1, 2])
    np.testing.assert_allclose(values[0], [0.0, 1.0, 2.0])
    assert np.isnan(values[1, [0, 2]]).all() and values[1, 1] == 5.0


def test_aggregate_uses_only_covering_members():
    mean, half, count = aggregate(np.array([[1.0, np.nan], [3.0, 4.0]]))
    np.testing.assert_allclose(mean, [2.0, 4.0])
    assert list(count) == [2, 1] and half[1] == 0.0
