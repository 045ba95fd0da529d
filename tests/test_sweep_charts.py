"""A sweep's results view, pure parts: the trials table built from runs-frame rows, the objective
by trial with its best-so-far line (direction-aware) and the parallel coordinates of the trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.charts.sweep import (
    best_so_far,
    best_trial,
    objective_figure,
    pruning_savings,
    sweep_parallel_figure,
    trials_table,
)
from trainers.run_tags import SWEEP_TRIAL

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def children(rows):
    """Runs-frame rows (shape of dashboard.data.children) from (trial, status, lr, hidden, val/loss, val/acc),
    newest first as the data layer returns them."""
    frame = pd.DataFrame([{
        "run_id": f"{trial:032x}", "run_name": f"sweep-{trial}", "status": status, "duration_s": 10.0 + trial,
        "queued_time": T0 + pd.Timedelta(seconds=trial), f"tags.{SWEEP_TRIAL}": str(trial),
        "params.lr": lr, "params.hidden": hidden, "params.seed": "0", "metrics.val/loss": loss, "metrics.val/acc": acc,
    } for trial, status, lr, hidden, loss, acc in rows])
    return frame.iloc[::-1].reset_index(drop=True)


ROWS = [
    (0, "FINISHED", "0.1", "16", 0.9, 0.60),
    (1, "FINISHED", "0.01", "32", 0.5, 0.80),
    (2, "FAILED", "0.001", "16", np.nan, np.nan),
    (3, "FINISHED", "0.001", "32", 0.7, 0.90),
    (4, "RUNNING", "0.1", "32", 0.1, 0.99),  # a value already, but not a finished trial: not scored
    (5, "FINISHED", "0.01", "16", 0.3, 0.70),
]


def trials(metric="val/loss"):
    return trials_table(children(ROWS), ["lr", "hidden"], metric)


def roles(fig, role):
    return [t for t in fig.data if (t.meta or {}).get("role") == role]


def test_trials_are_in_trial_order_with_swept_fields_as_numbers_and_the_objective():
    t = trials()
    assert list(t["trial"]) == [0, 1, 2, 3, 4, 5]
    assert list(t["params.lr"]) == [0.1, 0.01, 0.001, 0.001, 0.1, 0.01]
    assert "params.seed" not in t.columns  # a field the sweep held fixed is not a column
    assert list(t["status"]) == ["FINISHED", "FINISHED", "FAILED", "FINISHED", "RUNNING", "FINISHED"]
    assert list(t["scored"]) == [True, True, False, True, False, True]
    assert t["metrics.val/loss"].iloc[1] == 0.5


def test_runs_nested_by_hand_are_numbered_in_creation_order():
    frame = children(ROWS[:3]).drop(columns=f"tags.{SWEEP_TRIAL}")
    t = trials_table(frame, ["lr"], "val/loss")
    assert list(t["trial"]) == [0, 1, 2] and list(t["run_name"]) == ["sweep-0", "sweep-1", "sweep-2"]


def test_best_so_far_goes_down_when_minimising_and_up_when_maximising():
    values = np.array([0.9, 0.5, 0.7, 0.3])
    assert list(best_so_far(values, "minimize")) == [0.9, 0.5, 0.5, 0.3]
    assert list(best_so_far(values, "maximize")) == [0.9, 0.9, 0.9, 0.9]


@pytest.mark.parametrize("metric, direction, trial, line", [
    ("val/loss", "minimize", 5, [0.9, 0.5, 0.5, 0.3]),
    ("val/acc", "maximize", 3, [0.6, 0.8, 0.9, 0.9]),
])
def test_objective_by_trial_draws_finished_trials_and_the_best_so_far_in_the_sweeps_direction(
        metric, direction, trial, line):
    fig = objective_figure(trials(metric), metric, direction)
    (points,) = roles(fig, "trial")
    assert list(points.x) == [0, 1, 3, 5]  # failed and running trials are not scored
    (best_line,) = roles(fig, "best_so_far")
    assert list(best_line.x) == [0, 1, 3, 5] and list(best_line.y) == line
    assert best_line.line.shape == "hv"
    (star,) = roles(fig, "best")
    assert list(star.x) == [trial] and star.meta["run_id"] == f"{trial:032x}"
    assert fig.layout.xaxis.title.text == "Trial" and fig.layout.yaxis.title.text == metric


def test_the_sweeps_direction_wins_over_the_metric_name():
    """A sweep that maximised a loss-named metric (say, a reward logged as val/loss) is taken at its word."""
    fig = objective_figure(trials(), "val/loss", "maximize")
    assert list(roles(fig, "best_so_far")[0].y) == [0.9, 0.9, 0.9, 0.9]
    assert best_trial(trials(), "val/loss", "maximize")["trial"] == 0


def test_no_scored_trial_is_an_explained_empty_chart():
    t = trials_table(children([r for r in ROWS if r[1] != "FINISHED"]), ["lr"], "val/loss")
    fig = objective_figure(t, "val/loss", "minimize")
    assert not fig.data and "No trial has finished" in fig.layout.annotations[0].text
    assert best_trial(t, "val/loss", "minimize") is None
    assert (
        "No trial has finished" in sweep_parallel_figure(t, ["lr"], "val/loss", "minimize").layout.annotations[0].text
    )


def test_parallel_coordinates_of_the_scored_trials_with_the_objective_last():
    fig = sweep_parallel_figure(trials(), ["lr", "hidden"], "val/loss", "minimize")
    (par,) = fig.data
    assert [d.label for d in par.dimensions] == ["lr", "hidden", "val/loss"]
    assert list(par.dimensions[0].values) == [0.1, 0.01, 0.001, 0.01]
    assert list(par.dimensions[2].values) == [0.9, 0.5, 0.7, 0.3]
    assert par.meta["run_ids"] == [f"{i:032x}" for i in (0, 1, 3, 5)]
    assert par.line.reversescale is True  # minimising: low values get the "good" colour


def test_parallel_colour_follows_the_sweeps_direction():
    fig = sweep_parallel_figure(trials("val/acc"), ["lr"], "val/acc", "maximize")
    assert fig.data[0].line.reversescale is False
    fig = sweep_parallel_figure(trials(), ["lr"], "val/loss", "maximize")
    assert fig.data[0].line.reversescale is False


def test_a_sweep_without_trials_yet_has_an_empty_table_and_explained_charts():
    from dashboard.data.frames import RUN_COLUMNS

    t = trials_table(pd.DataFrame(columns=RUN_COLUMNS), ["lr"], "val/loss")
    assert t.empty and {"trial", "params.lr", "metrics.val/loss", "scored"} <= set(t.columns)
    assert "No trial has finished" in objective_figure(t, "val/loss", "minimize").layout.annotations[0].text


def test_pruning_savings_count_only_what_pruned_trials_did_not_run():
    trials = pd.DataFrame({
        "status": ["FINISHED", "KILLED", "FAILED", "RUNNING"], "steps": [100, 20, 10, 50], "max_steps": [100] * 4,
        "epochs": [5, 1, 0, 2], "max_epochs": [5] * 4, "pruned_at": [float("nan"), 1.0, float("nan"), float("nan")]})
    saved = pruning_savings(trials)
    assert (saved["pruned"], saved["ended"], saved["steps"], saved["max_steps"]) == (1, 3, 130, 300)
    assert saved["saved"] == pytest.approx(80 / 300)  # the failed trial's 90 unrun steps are not a saving
    assert pruning_savings(trials.iloc[3:]) is None  # nothing ended yet
