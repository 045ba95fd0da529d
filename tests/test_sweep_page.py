"""A sweep parent's Run page under AppTest, on a real store: the trials as a table and their charts
(objective by trial with the best so far, parallel coordinates) instead of the parent's one
``best/<metric>`` point. The sweep is made by ``experiments.sweeps`` itself (parent, queued
trials, their tags and params); each trial then moves and ends as a worker and trainer would."""

from __future__ import annotations

import re

import pytest
from app_util import array, figures, open_page

from experiments import queue, sweeps
from trainers import run_status, tracking

# a grid runs over the fields sorted by name: trials 0..3 = (16, 0.1) (16, 0.01) (32, 0.1) (32, 0.01)
SPACE = {"lr": [0.1, 0.01], "hidden": [16, 32]}


@pytest.fixture(autouse=True)
def _runtime_in_tmp(tmp_path, monkeypatch):
    """The queue's submit lock in the test's folder (a PostgreSQL store's default is under mlruns/)."""
    monkeypatch.setenv("RUNBOARD_RUNTIME_DIR", str(tmp_path / "runtime"))


pytestmark = pytest.mark.usefixtures("fresh_page_caches")


def make_sweep(outcomes: dict[int, tuple[str, float | None]], direction: str = "minimize", metric: str = "val/loss"):
    """(parent id, {trial: run id}); ``outcomes``: trial -> (status it ends in, or RUNNING; its metric value).
    Trials not named stay queued. The parent is finished by the sweep itself once every trial ended."""
    parent = sweeps.create("grid", "mlp", {"max_epochs": 1}, SPACE, budget=4, metric=metric, direction=direction)
    client = tracking.client()
    kids = {int(k.data.tags["runboard.sweep.trial"]): k.info.run_id
            for k in queue.children(parent, tracking.experiment_id())}
    for trial, (status, value) in outcomes.items():
        rid = kids[trial]
        assert run_status.claim(rid)
        if value is not None:
            client.log_metric(rid, metric, value, step=0)
        if status != "RUNNING":
            run_status.end_if_active(rid, status, None if status == "FINISHED" else "boom")
    sweeps.advance(client.get_run(parent))
    return parent, kids


def trials_table(at):
    (table,) = [df for df in at.dataframe if "trial" in df.value.columns]
    return table.value


def by_role(at, role):
    return [t for f in figures(at) for t in f["data"] if (t.get("meta") or {}).get("role") == role]


def test_a_finished_sweeps_page_shows_its_trials_and_their_charts_instead_of_one_dot(store):
    parent, kids = make_sweep({0: ("FINISHED", 0.9), 1: ("FINISHED", 0.4), 2: ("FAILED", None), 3: ("FINISHED", 0.6)})
    assert tracking.client().get_run(parent).info.status == "FINISHED"
    at = open_page("run", run=parent)
    table = trials_table(at)
    assert list(table["trial"]) == [0, 1, 2, 3]
    assert list(table["run_id"]) == [kids[i] for i in range(4)]
    assert list(table["status"]) == ["FINISHED", "FINISHED", "FAILED", "FINISHED"]
    assert list(table["params.hidden"]) == [16, 16, 32, 32] and list(table["params.lr"]) == [0.1, 0.01, 0.1, 0.01]
    assert list(table["metrics.val/loss"].fillna(-1)) == [0.9, 0.4, -1, 0.6]
    (points,) = by_role(at, "trial")
    assert array(points["x"]) == [0, 1, 3] and array(points["y"]) == [0.9, 0.4, 0.6]
    (line,) = by_role(at, "best_so_far")
    assert array(line["y"]) == [0.9, 0.4, 0.4]  # minimised: the best so far only goes down
    (best,) = by_role(at, "best")
    assert best["meta"]["run_id"] == kids[1]
    (par,) = [t for f in figures(at) for t in f["data"] if t["type"] == "parcoords"]
    assert [d["label"] for d in par["dimensions"]] == ["hidden", "lr", "val/loss"]
    assert not [f for f in figures(at) if "best/val/loss" in str(f["layout"].get("title"))]  # the single dot is gone
    assert "Best so far: trial 1" in re.sub(r"\\(.)", r"\1", at.success[0].value)  # markdown escapes undone


def test_a_maximised_sweeps_best_so_far_goes_up(sqlite_store):
    parent, kids = make_sweep({0: ("FINISHED", 0.7), 1: ("FINISHED", 0.9), 2: ("FINISHED", 0.8), 3: ("FINISHED", 0.95)},
                              direction="maximize", metric="val/acc")
    at = open_page("run", run=parent)
    (line,) = by_role(at, "best_so_far")
    assert array(line["x"]) == [0, 1, 2, 3] and array(line["y"]) == [0.7, 0.9, 0.9, 0.95]
    assert by_role(at, "best")[0]["meta"]["run_id"] == kids[3]


def test_a_running_sweep_lists_queued_and_running_trials_and_charts_the_finished_ones(sqlite_store):
    parent, kids = make_sweep({0: ("FINISHED", 0.5), 1: ("RUNNING", 0.3)})
    assert tracking.client().get_run(parent).info.status == "RUNNING"
    at = open_page("run", run=parent)
    assert list(trials_table(at)["status"]) == ["FINISHED", "RUNNING", "SCHEDULED", "SCHEDULED"]
    (points,) = by_role(at, "trial")
    assert array(points["x"]) == [0]  # a running trial's latest value is not its result yet


def test_open_best_trial_goes_to_the_trials_run_page_in_the_same_tab(sqlite_store):
    parent, kids = make_sweep({0: ("FINISHED", 0.9), 1: ("FINISHED", 0.4), 2: ("FINISHED", 0.5), 3: ("FINISHED", 0.6)})
    at = open_page("run", run=parent)
    at.button(key="run_sweep_best").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["run"] == kids[1]
    assert at.title[0].value == r"mlp\-grid\-1"  # markdown-escaped run name
    assert not [df for df in at.dataframe if "trial" in df.value.columns]  # a trial's own page, not the sweep's


def test_a_trials_page_links_back_to_its_sweep(sqlite_store):
    parent, kids = make_sweep({0: ("FINISHED", 0.9)})
    at = open_page("run", run=kids[2])
    (link,) = [el.proto for el in at.get("page_link") if el.proto.page == "run"]
    assert link.query_string == f"run={parent}" and link.label == r"Trial 2 of sweep mlp\-grid\-sweep"


def test_a_pruned_sweeps_page_shows_the_compute_early_stopping_saved(store):
    """Trials 0, 1 ran all 3 epochs (96 steps); 2 and 3 were pruned after epochs 1 and 2: 288 of
    384 steps run, 25 % saved."""
    parent = sweeps.create(
        "grid", "mlp", {"max_epochs": 3}, SPACE, budget=4, prune={"rule": "median", "warmup_trials": 2}
    )
    client = tracking.client()
    kids = {
        int(k.data.tags["runboard.sweep.trial"]): k.info.run_id
        for k in queue.children(parent, tracking.experiment_id())
    }
    for trial, epochs in ((0, 3), (1, 3), (2, 1), (3, 2)):
        rid = kids[trial]
        assert run_status.claim(rid)
        for e in range(1, epochs + 1):
            client.log_metric(rid, "val/loss", 1.0 / e + trial, step=32 * e)
        for key, value in {"step": 32 * epochs, "total_steps": 96, "epoch": epochs, "max_epochs": 3}.items():
            client.set_tag(rid, f"runboard.progress.{key}", str(value))
        run_status.end_if_active(
            rid, "FINISHED" if epochs == 3 else "KILLED", None if epochs == 3 else f"pruned at epoch {epochs}"
        )
    sweeps.advance(client.get_run(parent))
    at = open_page("run", run=parent)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Early stopping (median)"] == "2 of 4 pruned"
    assert shown["Steps run"] == "288 of 384"
    assert shown["Compute saved"] == "25%"
    table = trials_table(at)
    assert list(table["pruned_at"].fillna(0)) == [0, 0, 1, 2]
    assert client.get_run(parent).data.tags["runboard.sweep.best_run_id"] == kids[0]  # the best is a finished trial


def test_a_sweep_without_early_stopping_shows_no_savings(store):
    parent, _ = make_sweep({0: ("FINISHED", 0.9), 1: ("FINISHED", 0.4)})
    at = open_page("run", run=parent)
    assert not [m for m in at.metric if m.label.startswith("Early stopping")]
