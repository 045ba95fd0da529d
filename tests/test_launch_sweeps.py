"""Sweeps: plans (pure), validation before anything exists, and real grid / Optuna sweeps."""

import json
import logging
import math
import threading

import pytest
import tiny_family  # noqa: F401 - registers "tiny"
from launch_util import (
    all_runs,
    check_pruned_sweep,
    create_pruned_sweep,
    describe_runs,
    kill_trainers,
    runtime_in_tmp,  # noqa: F401 - autouse fixture
    set_launch_env,
    wait_until,
)

from experiments import queue, sweep_space, sweeps
from experiments.worker import start_in_thread
from trainers import tracking
from trainers.config import ConfigError


def test_grid_plan_is_the_cartesian_product_with_log_spaced_ranges():
    space = {"lr": {"low": 1e-4, "high": 1e-2, "log": True, "num": 3}, "hidden": [16, 32]}
    dims = sweep_space.parse_space("mlp", space, {})
    points = sweep_space.plan("grid", dims, budget=100, seed=0)
    assert len(points) == 6
    assert sorted({round(p["lr"], 10) for p in points}) == [1e-4, 1e-3, 1e-2]
    assert sorted({p["hidden"] for p in points}) == [16, 32]


def test_random_plan_is_seeded_log_uniform_and_within_bounds():
    dims = sweep_space.parse_space(
        "mlp", {"lr": {"low": 1e-5, "high": 1e-1, "log": True}, "layers": {"low": 1, "high": 4}}, {}
    )
    a = sweep_space.plan("random", dims, budget=200, seed=7)
    assert a == sweep_space.plan("random", dims, budget=200, seed=7) and len(a) == 200
    assert all(1e-5 <= p["lr"] <= 1e-1 and p["layers"] in (1, 2, 3, 4) for p in a)
    below_1e3 = sum(p["lr"] < 1e-3 for p in a)  # log-uniform: half the mass below the geometric middle
    assert 60 < below_1e3 < 140


@pytest.mark.parametrize("kwargs, field", [
    ({"space": {"lr": [0.1, -1.0]}}, "lr"),
    ({"space": {"nosuch": [1]}}, "nosuch"),
    ({"space": {"lr": {"low": 0.1, "high": 0.01}}}, "lr"),
    ({"space": {"lr": [0.1, 0.2], "hidden": [8, 16]}, "budget": 3}, "budget"),
    ({"space": {"lr": [0.1]}, "parallelism": 0}, "parallelism"),
    ({"space": {"lr": [0.1]}, "kind": "bayes"}, "kind"),
    ({"space": {"lr": [0.1]}, "prune": {"rule": "hyperband!"}}, "prune"),
])
def test_an_invalid_sweep_creates_no_run(kwargs, field, sqlite_store):
    args = {"kind": "grid", "budget": 4, **kwargs}
    with pytest.raises(ConfigError) as err:
        sweeps.create(args.pop("kind"), "mlp", {}, args.pop("space"), **args)
    assert err.value.field == field and str(err.value).startswith(f"{field}:")
    assert all_runs() == []


@pytest.fixture
def worker(monkeypatch):
    set_launch_env(monkeypatch)
    w = start_in_thread(limit=3, poll_s=0.2)  # more room than the sweep's parallelism: the sweep must bound itself
    yield w
    w.stop()
    kill_trainers()


def _sample_running(parent_id, stop, seen):
    client = tracking.client()
    while not stop.is_set():
        kids = client.search_runs([tracking.experiment_id()], f"tags.`mlflow.parentRunId` = '{parent_id}'")
        seen.append(sum(k.info.status == "RUNNING" for k in kids))
        stop.wait(0.1)


def test_grid_sweep_of_4_with_parallelism_2(store, worker):
    base = {"max_epochs": 1, "step_sleep": 0.05}
    parent_id = sweeps.create(
        "grid", "tiny", base, {"lr": [0.01, 0.05], "batch_size": [8, 16]}, budget=4, parallelism=2
    )
    kids = queue.children(parent_id, tracking.experiment_id())
    assert len(kids) == 4 and {k.info.status for k in kids} <= {"SCHEDULED", "RUNNING"}  # all queued at once
    stop, seen = threading.Event(), []
    sampler = threading.Thread(target=_sample_running, args=(parent_id, stop, seen))
    sampler.start()
    try:
        wait_until(
            lambda: tracking.client().get_run(parent_id).info.status == "FINISHED",
            300,
            0.5,
            message="sweep end",
            explain=lambda: describe_runs([k.info.run_id for k in queue.children(parent_id, tracking.experiment_id())]),
        )
    finally:
        stop.set()
        sampler.join()
    assert max(seen) == 2
    kids = queue.children(parent_id, tracking.experiment_id())
    assert [k.info.status for k in kids] == ["FINISHED"] * 4, describe_runs([k.info.run_id for k in kids])
    assert sorted((k.data.params["lr"], k.data.params["batch_size"]) for k in kids) == [
        ("0.01", "16"), ("0.01", "8"), ("0.05", "16"), ("0.05", "8")]
    best = min(kids, key=lambda k: k.data.metrics["val/loss"])
    assert tracking.client().get_run(parent_id).data.tags["runboard.sweep.best_run_id"] == best.info.run_id


def test_optuna_sweep_of_6_records_the_best_trial_on_the_parent(sqlite_store, worker, caplog):
    caplog.set_level(logging.INFO, logger="experiments")  # the supervisor says what it reaped or reconciled
    space = {"lr": {"low": 1e-3, "high": 0.2, "log": True}}
    parent_id = sweeps.create("optuna", "tiny", {"max_epochs": 1}, space, budget=6, parallelism=2,
                              metric="val/loss", direction="minimize", seed=3)

    def explain():
        kids = queue.children(parent_id, tracking.experiment_id())
        return f"trials:\n{describe_runs([k.info.run_id for k in kids])}\nsupervisor log:\n{caplog.text[-4000:]}"

    wait_until(lambda: tracking.client().get_run(parent_id).info.status == "FINISHED", 400, 0.5, message="sweep end",
               explain=explain)
    kids = queue.children(parent_id, tracking.experiment_id())
    assert len(kids) == 6 and all(k.info.status == "FINISHED" for k in kids), explain()
    assert len({k.data.params["lr"] for k in kids}) == 6  # six different asks
    best = min(kids, key=lambda k: k.data.metrics["val/loss"])
    parent = tracking.client().get_run(parent_id)
    assert parent.data.tags["runboard.sweep.best_run_id"] == best.info.run_id
    assert math.isclose(parent.data.metrics["best/val/loss"], best.data.metrics["val/loss"])
    assert json.loads(parent.data.tags["runboard.sweep.best_params"]) == {"lr": float(best.data.params["lr"])}
    assert all(1e-3 <= float(k.data.params["lr"]) <= 0.2 for k in kids)



@pytest.mark.slow  # ~2 min on 2 loaded cores: 12 trainer processes; test_sweep_pruning has the in-process one
def test_optuna_sweep_of_12_with_pruning_kills_bad_rates_early_and_still_finds_the_best(sqlite_store, worker, caplog):
    """Acceptance (issue 17), through the worker: SGD on the tiny regression makes a small rate
    obviously bad after one epoch; the median rule stops those trials."""
    caplog.set_level(logging.INFO, logger="experiments")
    parent_id = create_pruned_sweep()

    def explain():
        kids = queue.children(parent_id, tracking.experiment_id())
        return f"trials:\n{describe_runs([k.info.run_id for k in kids])}\nsupervisor log:\n{caplog.text[-4000:]}"

    wait_until(lambda: tracking.client().get_run(parent_id).info.status == "FINISHED", 600, 0.5, message="sweep end",
               explain=explain)
    check_pruned_sweep(parent_id, 12, explain)
    best = tracking.client().get_run(tracking.client().get_run(parent_id).data.tags["runboard.sweep.best_run_id"])
    assert best.data.metrics["val/loss"] < 1e-3  # a good rate was found and trained to the end
