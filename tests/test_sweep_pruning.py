"""Early stopping of sweep trials: the rules with known answers, the config's one check, and a real
trial trained in this process that its trainer prunes against siblings' curves in a real store."""

from __future__ import annotations

import math

import pytest
import tiny_family  # noqa: F401 - registers "tiny"
from launch_util import check_pruned_sweep, create_pruned_sweep, runtime_in_tmp  # noqa: F401 - autouse fixture

from experiments import queue, sweeps
from trainers import pruning, run_status, tracking
from trainers.config import ConfigError
from trainers.run_record import TERMINAL, stored_spec
from trainers.spec import spec_from_json
from trainers.train import train

# finished trials' curves: medians are 2.0 (epoch 1), 1.0 (epoch 2), 0.4 (epoch 3)
FINISHED = [[1.0, 0.8, 0.6], [2.0, 1.0, 0.4], [3.0, 1.2, 0.2]]
MEDIAN = pruning.PruneRule("median", warmup_trials=3, min_epochs=1)


@pytest.mark.parametrize("value, epoch, expected", [
    (2.5, 1, True),  # worse than the median 2.0
    (1.5, 1, False),
    (2.0, 1, False),  # equal to the median is not worse
    (1.1, 2, True),
    (0.3, 3, False),
    (0.5, 3, True),
    (9.0, 4, False),  # no finished trial reached epoch 4: nothing to compare with
    (math.nan, 1, True),
])
def test_median_rule_minimising(value, epoch, expected):
    siblings = [("FINISHED", c) for c in FINISHED]
    assert pruning.should_prune(MEDIAN, "minimize", value, epoch, siblings) is expected


def test_median_rule_maximising_prunes_below_the_median():
    siblings = [("FINISHED", c) for c in FINISHED]
    assert pruning.should_prune(MEDIAN, "maximize", 1.5, 1, siblings)
    assert not pruning.should_prune(MEDIAN, "maximize", 2.5, 1, siblings)


def test_median_rule_waits_for_warm_up_trials_and_min_epochs_and_counts_finished_trials_only():
    siblings = [("FINISHED", c) for c in FINISHED]
    assert not pruning.should_prune(pruning.PruneRule("median", warmup_trials=4), "minimize", 2.5, 1, siblings)
    assert not pruning.should_prune(
        pruning.PruneRule("median", warmup_trials=3, min_epochs=2), "minimize", 2.5, 1, siblings
    )
    assert pruning.should_prune(
        pruning.PruneRule("median", warmup_trials=3, min_epochs=2), "minimize", 1.1, 2, siblings
    )
    running_and_killed = [("RUNNING", [0.1]), ("KILLED", [0.1])] + siblings[:2]  # median of the 2 finished: 1.5
    assert not pruning.should_prune(
        pruning.PruneRule("median", warmup_trials=2), "minimize", 1.4, 1, running_and_killed
    )
    assert pruning.should_prune(pruning.PruneRule("median", warmup_trials=2), "minimize", 1.6, 1, running_and_killed)


@pytest.mark.parametrize("value, others, expected", [
    (0.15, [0.1, 0.2, 0.3, 0.4, 0.5], False),  # 6 at the rung, eta 3: the best 2 go on; 0.15 is 2nd
    (0.25, [0.1, 0.2, 0.3, 0.4, 0.5], True),  # 3rd of 6
    (0.2, [0.3], False),  # fewer than eta at the rung: only a new best goes on
    (0.4, [0.3], True),
    (0.4, [], False),  # the first to arrive
])
def test_asha_rule_at_a_rung(value, others, expected):
    rule = pruning.PruneRule("asha", min_epochs=1, eta=3)
    siblings = [("RUNNING", [v, 0.0, 0.0]) for v in others]
    assert pruning.should_prune(rule, "minimize", value, 1, siblings) is expected


def test_asha_rule_decides_only_at_rungs():
    rule = pruning.PruneRule("asha", min_epochs=1, eta=3)  # rungs at epochs 1, 3, 9
    siblings = [("FINISHED", [0.1] * 9) for _ in range(5)]
    assert [pruning.should_prune(rule, "minimize", 5.0, e, siblings) for e in range(1, 10)] == [
        True, False, True, False, False, False, False, False, True]


@pytest.mark.parametrize("raw", [
    {"rule": "hyperband"}, {"rule": "median", "warmup_trials": -1}, {"rule": "asha", "eta": 1},
    {"rule": "median", "min_epochs": 0}, {"rule": "median", "patience": 3}, {"rule": "median", "eta": "3"}, ["median"],
])
def test_an_invalid_rule_is_refused_on_the_prune_field(raw):
    with pytest.raises(ConfigError) as err:
        pruning.parse(raw)
    assert err.value.field == "prune" and str(err.value).startswith("prune:")


def test_off_is_no_rule_and_the_reason_reads_back():
    assert pruning.parse(None) is None and pruning.parse({"rule": "off"}) is None
    assert pruning.parse({"rule": "asha"}) == pruning.PruneRule("asha", 3, 1, 3)
    assert pruning.pruned_epoch(pruning.reason(7)) == 7
    assert pruning.pruned_epoch("stopped by request") is None and pruning.pruned_epoch(None) is None


def _sweep_with_two_finished(prune: dict, lrs: list[float]) -> tuple[str, dict[int, str]]:
    """A grid sweep over ``lrs`` whose trials 0 and 1 finished with known val/loss curves (epochs 1-3)."""
    parent = sweeps.create("grid", "tiny", {"max_epochs": 3}, {"lr": lrs}, budget=len(lrs), prune=prune)
    client = tracking.client()
    kids = {
        int(k.data.tags["runboard.sweep.trial"]): k.info.run_id
        for k in queue.children(parent, tracking.experiment_id())
    }
    for trial, curve in ((0, [1.0, 0.6, 0.5]), (1, [2.0, 1.0, 0.7])):
        assert run_status.claim(kids[trial])
        for epoch, value in enumerate(curve, start=1):
            client.log_metric(kids[trial], "val/loss", value, step=32 * epoch)
        run_status.end_if_active(kids[trial], "FINISHED", None)
    return parent, kids


def test_a_trial_worse_than_the_median_is_pruned_by_its_trainer_and_keeps_its_points(sqlite_store):
    _, kids = _sweep_with_two_finished({"rule": "median", "warmup_trials": 2}, [0.05, 0.05, 1e-5])
    client = tracking.client()
    result = train(
        spec_from_json(stored_spec(client, kids[2])), kids[2]
    )  # lr 1e-5: val/loss ~4 at epoch 1 > median 1.5
    run = client.get_run(kids[2])
    assert (result.status, run.info.status) == ("KILLED", "KILLED")
    assert run.data.tags["runboard.error"] == "pruned at epoch 1"
    assert len(client.get_metric_history(kids[2], "val/loss")) == 1  # the epoch it was judged on is kept
    assert len(client.get_metric_history(kids[2], "train/loss")) > 0
    tags = run.data.tags
    print(f"pruned trial ran {tags['runboard.progress.step']} of {tags['runboard.progress.total_steps']} steps")
    assert int(tags["runboard.progress.step"]) < int(tags["runboard.progress.total_steps"])


def test_a_trial_better_than_the_median_trains_to_the_end(sqlite_store):
    _, kids = _sweep_with_two_finished({"rule": "median", "warmup_trials": 2}, [0.05, 0.05, 0.05])
    result = train(spec_from_json(stored_spec(tracking.client(), kids[2])), kids[2])
    assert result.status == "FINISHED", result.error
    assert len(tracking.client().get_metric_history(kids[2], "val/loss")) == 3


def _run_in_process(parent_id: str, limit: int = 100) -> None:
    """What the worker does, in this process and one trial at a time: advance the sweep, train
    what it queued, until the sweep ends."""
    client = tracking.client()
    for _ in range(limit):
        parent = client.get_run(parent_id)
        if parent.info.status in TERMINAL:
            return
        sweeps.advance(parent)
        for kid in queue.children(parent_id, tracking.experiment_id()):
            if kid.info.status == "SCHEDULED":
                train(spec_from_json(stored_spec(client, kid.info.run_id)), kid.info.run_id)
    raise AssertionError(f"the sweep did not end in {limit} rounds")


@pytest.fixture
def fast_trials(monkeypatch):
    """Trials in this process write their points from a thread, not a writer process each."""
    monkeypatch.setenv("RUNBOARD_LOG_WRITER", "thread")


def test_optuna_sweep_of_12_with_pruning_in_process_spends_fewer_steps_and_finds_the_best(sqlite_store, fast_trials):
    """Acceptance (issue 17), fast: the real Optuna asks and real trainers of the worker test
    (test_launch_sweeps, marked slow), without 12 trainer processes, on 64 samples (8 steps an epoch)."""
    parent_id = create_pruned_sweep()
    _run_in_process(parent_id)
    check_pruned_sweep(parent_id, 12)
    from optuna.trial import TrialState

    kids = queue.children(parent_id, tracking.experiment_id())
    states = {sweeps._state(k, sweeps._value(k, "val/loss"), "val/loss")[0] for k in kids}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED}  # what the sampler was told of each trial
    best = tracking.client().get_run(tracking.client().get_run(parent_id).data.tags["runboard.sweep.best_run_id"])
    assert best.data.metrics["val/loss"] < 1e-3


def test_a_grid_sweep_prunes_with_asha_too(sqlite_store, fast_trials):
    lrs = [0.05, 1e-5, 0.02, 1e-4, 2e-5, 0.03]
    parent_id = sweeps.create("grid", "tiny", {"max_epochs": 3, "n_samples": 64}, {"lr": lrs}, budget=6, parallelism=1,
                              prune={"rule": "asha", "min_epochs": 1, "eta": 2})
    _run_in_process(parent_id)
    check_pruned_sweep(parent_id, 6)
