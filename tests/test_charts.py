"""Curve charts (``dashboard.charts.traces``, ``curves``, ``live``): assert on traces, points and
axis titles of the returned figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from charts_util import T0, A, B, by_role, curve_rows, frame

from dashboard.charts import curves_figure, ema, live_figure
from dashboard.charts.curves import WEBGL_MIN_POINTS

# --- ema ---------------------------------------------------------------------------------------

def test_ema_zero_weight_returns_the_values():
    np.testing.assert_allclose(ema(np.array([1.0, 2.0, 3.0]), 0.0), [1.0, 2.0, 3.0])


def test_ema_is_debiased_tensorboard_style():
    # s1 = 1; s2 = (0.6·0.4·1 + 0.4·3) / (1 - 0.36) = 2.25
    np.testing.assert_allclose(ema(np.array([1.0, 3.0]), 0.6), [1.0, 2.25])


def test_ema_of_a_constant_is_the_constant():
    np.testing.assert_allclose(ema(np.full(50, 7.0), 0.9), np.full(50, 7.0))


def test_ema_skips_nan_and_inf_as_gaps():
    out = ema(np.array([1.0, np.nan, np.inf, 3.0]), 0.6)
    assert np.isnan(out[1]) and np.isnan(out[2])
    np.testing.assert_allclose(out[[0, 3]], [1.0, 2.25])


def test_ema_of_all_non_finite_is_all_nan():
    assert np.isnan(ema(np.array([np.nan, -np.inf]), 0.5)).all()


# --- curves_figure -------------------------------------------------------------------------------

def test_empty_frame_says_no_points_yet():
    fig = curves_figure(curve_rows(A, [])[:0], "val/loss")
    assert fig.data == ()
    assert fig.layout.annotations[0].text == "No points yet for val/loss"


def test_one_line_per_run_with_axis_titles():
    fig = curves_figure(frame(curve_rows(A, [3, 2, 1]), curve_rows(B, [4, 3])), "val/loss")
    lines = by_role(fig, "line")
    assert [t.meta["run_id"] for t in lines] == [A, B]
    assert fig.layout.xaxis.title.text == "Step"
    assert fig.layout.yaxis.title.text == "val/loss"


def test_only_the_requested_metric_is_drawn():
    df = frame(curve_rows(A, [1, 2]), curve_rows(A, [0.5, 0.6], metric="val/acc"))
    fig = curves_figure(df, "val/acc")
    np.testing.assert_allclose(by_role(fig, "line")[0].y, [0.5, 0.6])


def test_trace_names_use_labels_else_short_id():
    fig = curves_figure(frame(curve_rows(A, [1, 2]), curve_rows(B, [1, 2])), "val/loss",
                        labels={A: "baseline"})
    assert [t.name for t in by_role(fig, "line")] == ["baseline", B[:8]]


def test_points_are_sorted_by_step_and_kept_as_numpy():
    fig = curves_figure(curve_rows(A, [3.0, 1.0, 2.0], steps=[2, 0, 1]), "val/loss")
    line = by_role(fig, "line")[0]
    np.testing.assert_allclose(line.x, [0, 1, 2])
    np.testing.assert_allclose(line.y, [1.0, 2.0, 3.0])
    assert isinstance(line.y, np.ndarray)


def test_smoothing_draws_a_faint_raw_line_under_the_smoothed_one():
    fig = curves_figure(curve_rows(A, [1.0, 3.0]), "val/loss", smooth=0.6)
    raw, line = by_role(fig, "raw")[0], by_role(fig, "line")[0]
    assert raw.opacity == pytest.approx(0.25) and raw.showlegend is False
    assert raw.legendgroup == line.legendgroup == A and raw.line.color == line.line.color
    np.testing.assert_allclose(line.y, [1.0, 2.25])
    assert fig.data.index(raw) < fig.data.index(line)


def test_non_finite_values_become_gaps():
    fig = curves_figure(curve_rows(A, [1.0, np.inf, 2.0, np.nan]), "val/loss")
    y = by_role(fig, "line")[0].y
    assert np.isnan(y[[1, 3]]).all() and list(y[[0, 2]]) == [1.0, 2.0]


def test_log_axis_turns_non_positive_values_into_gaps():
    fig = curves_figure(curve_rows(A, [1.0, 0.0, -1.0, 0.1]), "val/loss", logy=True)
    assert fig.layout.yaxis.type == "log"
    y = by_role(fig, "line")[0].y
    assert np.isnan(y[[1, 2]]).all()


def test_downsampled_run_gets_a_min_max_band_holding_the_spike():
    df = curve_rows(A, [1.0, 0.9, 0.8], n=10, mins=[0.9, 0.8, 0.7], maxs=[1.1, 50.0, 0.9])
    fig = curves_figure(df, "val/loss")
    low, high = by_role(fig, "band")
    assert high.fill == "tonexty" and low.showlegend is False and high.showlegend is False
    assert fig.data.index(high) == fig.data.index(low) + 1
    assert 50.0 in high.y and max(by_role(fig, "line")[0].y) < 50.0


def _alpha(rgba: str) -> float:
    return float(rgba.rsplit(",", 1)[1].rstrip(")"))


def test_a_one_bucket_spike_in_a_downsampled_curve_shows_as_a_visible_band_edge():
    values = np.ones(1000)  # ~1,000 buckets: the spike's fill alone would be a sliver
    maxs = values.copy()
    maxs[500] = 40.0
    fig = curves_figure(curve_rows(A, values, n=20, mins=values * 0.9, maxs=maxs), "val/loss")
    low, high = by_role(fig, "band")
    assert _alpha(high.fillcolor) >= 0.3
    for edge in (low, high):  # the edges are lines you can see, so the spike's max is drawn
        assert edge.line.width >= 1 and _alpha(edge.line.color) >= 0.5
    assert np.nanmax(high.y) == 40.0 and max(by_role(fig, "line")[0].y) == 1.0
    assert fig.layout.yaxis.range is None and fig.layout.yaxis.autorange in (None, True)  # nothing caps it


def test_log_axis_ticks_are_labelled_with_full_numbers():
    fig = curves_figure(curve_rows(A, [0.9, 0.3, 0.05]), "val/loss", logy=True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.tickformat == "~g"  # 0.3, not "3"


def test_full_detail_run_has_no_band():
    assert by_role(curves_figure(curve_rows(A, [1.0, 2.0]), "val/loss"), "band") == []


def test_exactly_one_line_role_per_run_with_smoothing_and_bands():
    df = frame(curve_rows(A, [1, 2, 3], n=4), curve_rows(B, [2, 3, 4]))
    fig = curves_figure(df, "val/loss", smooth=0.5)
    assert sorted(t.meta["run_id"] for t in by_role(fig, "line")) == [A, B]


def test_highlighted_run_is_thicker_with_a_star():
    fig = curves_figure(frame(curve_rows(A, [1, 2]), curve_rows(B, [1, 2])), "val/loss",
                        highlight=B)
    a, b = by_role(fig, "line")
    assert b.name.startswith("★") and b.line.width > a.line.width


def test_epoch_x_axis():
    fig = curves_figure(curve_rows(A, [1, 2], epochs=[0, 1]), "val/loss", x="epoch")
    assert fig.layout.xaxis.title.text == "Epoch"
    np.testing.assert_allclose(by_role(fig, "line")[0].x, [0, 1])


def test_relative_time_counts_from_the_given_start():
    start = pd.Timestamp(T0 - 5_000, unit="ms", tz="UTC")
    fig = curves_figure(curve_rows(A, [1, 2]), "val/loss", x="relative", start_times={A: start})
    assert fig.layout.xaxis.title.text == "Relative time (s)"
    np.testing.assert_allclose(by_role(fig, "line")[0].x, [5.0, 6.0])


def test_relative_time_falls_back_to_the_first_point():
    fig = curves_figure(curve_rows(A, [1, 2, 3]), "val/loss", x="relative")
    np.testing.assert_allclose(by_role(fig, "line")[0].x, [0.0, 1.0, 2.0])


def test_relative_time_accepts_start_in_ms():
    fig = curves_figure(curve_rows(A, [1]), "val/loss", x="relative", start_times={A: T0 - 2000})
    np.testing.assert_allclose(by_role(fig, "line")[0].x, [2.0])


def test_wall_time_axis_holds_datetimes():
    fig = curves_figure(curve_rows(A, [1, 2]), "val/loss", x="wall")
    assert fig.layout.xaxis.title.text == "Wall time"
    assert pd.Timestamp(by_role(fig, "line")[0].x[0]) == pd.Timestamp(T0, unit="ms")


def test_unknown_x_is_rejected():
    with pytest.raises(ValueError):
        curves_figure(curve_rows(A, [1]), "val/loss", x="bogus")


def test_webgl_is_chosen_for_many_points_only():
    many_runs = frame(*(curve_rows(f"{i:032x}", [1, 2]) for i in range(101)))
    assert curves_figure(many_runs, "val/loss").data[0].type == "scatter"  # SVG: cheaper here
    many_points = frame(*(curve_rows(f"{i:032x}", np.ones(WEBGL_MIN_POINTS // 2)) for i in range(3)))
    assert curves_figure(many_points, "val/loss").data[0].type == "scattergl"


def test_svg_scatter_for_few_runs_unless_forced():
    df = curve_rows(A, [1, 2])
    assert curves_figure(df, "val/loss").data[0].type == "scatter"
    assert curves_figure(df, "val/loss", webgl=True).data[0].type == "scattergl"


def test_unified_hover_for_few_runs_only():
    assert curves_figure(curve_rows(A, [1, 2]), "val/loss").layout.hovermode == "x unified"
    many = frame(*(curve_rows(f"{i:032x}", [1, 2]) for i in range(11)))
    assert curves_figure(many, "val/loss").layout.hovermode == "closest"


def test_single_point_run_gets_a_marker():
    assert "markers" in by_role(curves_figure(curve_rows(A, [1.0]), "val/loss"), "line")[0].mode


def test_run_names_with_markup_are_escaped_in_legends():
    df = pd.DataFrame({"run_id": ["a" * 32] * 2, "metric": ["m"] * 2, "step": [0, 1], "value": [1.0, 2.0],
                       "first": [1.0, 2.0], "min": [1.0, 2.0], "max": [1.0, 2.0], "n": [1, 1],
                       "timestamp": [0, 1], "epoch": [0.0, 0.0]})
    fig = curves_figure(df, "m", labels={"a" * 32: "<b>bold</b>"})
    assert {t.name for t in fig.data if t.meta["role"] == "line"} == {"&lt;b&gt;bold&lt;/b&gt;"}


def test_live_figure_draws_loss_left_and_the_first_val_metric_present_right():
    df = frame(
        curve_rows(A, [3.0, 2.0, 1.0], metric="train/loss"),
        curve_rows(A, [0.5, 0.8], metric="val/acc", steps=[1, 2]),
        curve_rows(A, [9.0], metric="val/loss"),
        curve_rows(B, [7.0, 7.0], metric="train/loss"),
    )
    fig = live_figure(df, A, "train/loss", ["val/f1", "val/acc", "val/loss"])
    assert [(t.meta["metric"], t.yaxis) for t in fig.data] == [("train/loss", "y"), ("val/acc", "y2")]
    assert list(fig.data[0].y) == [3.0, 2.0, 1.0] and list(fig.data[1].x) == [1, 2]
    assert {t.meta["run_id"] for t in fig.data} == {A}  # B's points stay out of A's chart
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.title.text == "val/acc"


def test_live_figure_of_a_run_without_points_says_so():
    fig = live_figure(curve_rows(B, [1.0], metric="train/loss"), A, "train/loss", ["val/loss"])
    assert not fig.data and "No points yet" in fig.layout.annotations[0].text
