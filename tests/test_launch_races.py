"""Issue 19: the windows in which a healthy trial could be ended by the reaper, or end without a
reason, each held open deterministically (a paused attach, a claim older than the timeout)."""

import os
import subprocess
import sys
import time

import tiny_family  # noqa: F401 - registers "tiny"
from launch_util import kill_trainers, runtime_in_tmp, set_launch_env, wait_until  # noqa: F401 - autouse fixture

from experiments import queue, supervisor, sweeps
from experiments.executors.local import LocalExecutor
from experiments.supervisor import Supervisor
from trainers import run_status, tracking
from trainers.run_record import ERROR_TAG, PID_TAG, SPEC_TAG
from trainers.run_tags import CLAIMED
from trainers.spec import build_spec


def test_a_trainer_paused_between_its_claim_and_its_pid_tag_is_not_reconciled(sqlite_store, monkeypatch, tmp_path):
    """The race: a trial queued longer than the claim timeout is claimed by its trainer
    (``--run-id``), and a reconcile runs before the trainer has written its pid. It used to see
    "RUNNING, queued long ago, no pid" and fail the live run; the pid now lands with the claim."""
    set_launch_env(monkeypatch)
    monkeypatch.setattr(supervisor, "CLAIM_TIMEOUT_S", 1.0)
    run_id = queue.submit(build_spec("tiny", {"max_epochs": 1}))
    time.sleep(1.5)  # waited in the queue longer than the claim timeout, like a sweep's later trials
    env = {**os.environ, "RUNBOARD_TEST_ATTACH_PAUSE_S": "20"}
    with open(tmp_path / "trainer.log", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trainers.train", "--run-id", run_id],
            cwd=tracking.REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = tracking.client()
        wait_until(lambda: client.get_run(run_id).info.status == "RUNNING", 120, 0.05, message="the trainer's claim")
        assert proc.poll() is None  # paused in the attach window (20 s) right now
        assert Supervisor(LocalExecutor(limit=1)).reconcile() == []  # a restarted worker's first look
        run = client.get_run(run_id)
        assert run.info.status == "RUNNING", run.data.tags.get(ERROR_TAG)
        assert run.data.tags.get(PID_TAG) == str(proc.pid) and CLAIMED in run.data.tags
        assert proc.wait(300) == 0, (tmp_path / "trainer.log").read_text()[-3000:]
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED" and ERROR_TAG not in run.data.tags
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_trainers()


def test_the_claim_timeout_counts_from_the_claim_not_the_submit(store, monkeypatch):
    """A worker that claimed a long-queued run and died before starting it: the next worker waits
    the claim timeout from the claim, then fails the run with the reason."""
    monkeypatch.setattr(supervisor, "CLAIM_TIMEOUT_S", 1.0)
    run_id = queue.submit(build_spec("tiny", {"max_epochs": 1}))
    time.sleep(1.5)
    assert run_status.claim(run_id)
    sup = Supervisor(LocalExecutor(limit=1))
    assert sup.reconcile() == []
    time.sleep(1.5)
    assert sup.reconcile() == [run_id]
    run = tracking.client().get_run(run_id)
    assert run.info.status == "FAILED" and "before starting its process" in run.data.tags[ERROR_TAG]


def test_cancelling_a_sweep_gives_each_queued_trial_its_reason(store):
    parent = sweeps.create("grid", "tiny", {"max_epochs": 1}, {"lr": [0.01, 0.02, 0.05]}, budget=3, parallelism=2)
    assert queue.cancel(parent)
    kids = queue.children(parent, tracking.experiment_id())
    assert len(kids) == 3
    assert {(k.info.status, k.data.tags.get(ERROR_TAG)) for k in kids} == {
        ("KILLED", "sweep cancelled before this trial started")
    }


def test_a_trainer_that_dies_before_training_is_failed_with_its_last_words(sqlite_store, monkeypatch):
    set_launch_env(monkeypatch)
    run_id = queue.submit(build_spec("tiny", {"max_epochs": 1}))
    tracking.client().set_tag(run_id, SPEC_TAG, "{not json")
    sup = Supervisor(LocalExecutor(limit=1))
    assert sup.start_queued([]) == [run_id]

    def ended():
        sup.reap()
        return tracking.client().get_run(run_id).info.status != "RUNNING"

    wait_until(ended, 120, 0.2, message="the reaper")
    run = tracking.client().get_run(run_id)
    assert run.info.status == "FAILED"
    reason = run.data.tags[ERROR_TAG]
    assert "without ending the run; its last output: " in reason and len(reason) < 800
