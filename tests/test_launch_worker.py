"""Real trainer processes started by the worker: run to the end, stop, kill -9, worker restart."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_family  # noqa: F401 - registers "tiny" in this process
from launch_util import TESTS, all_runs, describe_runs, kill_trainers, runtime_in_tmp, set_launch_env, wait_until  # noqa: F401 - autouse fixture

from experiments import queue
from experiments.executors.local import LocalExecutor, pid_alive
from experiments.worker import start_in_thread
from trainers import tracking
from trainers.run_record import ERROR_TAG, PID_TAG, TERMINAL
from trainers.spec import build_spec


@pytest.fixture
def launch_env(monkeypatch):
    set_launch_env(monkeypatch)
    yield
    kill_trainers()


@pytest.fixture
def worker(launch_env):
    w = start_in_thread(limit=2, poll_s=0.2)
    assert w is not None
    yield w
    w.stop()


def tiny(**values):
    return build_spec("tiny", {"max_epochs": 1, **values})


def status(run_id):
    return tracking.client().get_run(run_id).info.status


def test_queued_run_runs_to_finished_with_its_log_and_pid(store, worker):
    run_id = queue.submit(tiny())
    wait_until(lambda: status(run_id) == "FINISHED", 180, message="FINISHED", explain=lambda: describe_runs([run_id]))
    run = tracking.client().get_run(run_id)
    assert run.data.tags[PID_TAG].isdigit() and run.data.tags[queue.EXECUTOR] == "local"
    assert len(tracking.client().get_metric_history(run_id, "train/loss")) == 32  # 256 samples / batch 8
    assert f"starting run {run_id}" in LocalExecutor().logs(run_id, tail=200)


def _environ(pid: int) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in open(f"/proc/{pid}/environ", "rb").read().decode().split("\0") if kv)


def _writer_of(pid: int) -> int | None:
    """The trainer's child writer process (``trainers.log_sinks``), once it has started."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
            if parent == str(pid) and b"trainers.log_sinks" in (stat.parent / "cmdline").read_bytes():
                return int(stat.parent.name)
        except (OSError, IndexError):
            continue
    return None


def test_trainer_gets_an_argv_an_allow_listed_env_and_its_own_group(store, monkeypatch, launch_env):
    monkeypatch.setenv("DASHBOARD_SECRET_TOKEN", "s3cret")
    w = start_in_thread(limit=1, poll_s=0.2)
    try:
        run_id = queue.submit(tiny(max_epochs=1000, step_sleep=0.05))
        pid = int(wait_until(lambda: tracking.client().get_run(run_id).data.tags.get(PID_TAG), 60, message="pid"))
        argv = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")[:-1]
        env = _environ(pid)
        assert argv == [sys.executable, "-m", "trainers.train", "--run-id", run_id]
        assert "DASHBOARD_SECRET_TOKEN" not in env and env["MLFLOW_TRACKING_URI"] == store
        # its writer process reaches the same store, told through the environment: never in argv,
        # where a database password would be readable by every user of the host
        writer = wait_until(lambda: _writer_of(pid), 120, message="the trainer's writer process")
        assert _environ(writer)["MLFLOW_TRACKING_URI"] == store
        assert store.encode() not in open(f"/proc/{writer}/cmdline", "rb").read()
        assert env["RUNBOARD_FAMILIES"] == "tiny_family" and os.getpgid(pid) == pid != os.getpgid(0)
    finally:
        w.stop()


def test_kill_9_of_a_running_trainer_is_failed_within_5_s(store, worker):
    run_id = queue.submit(tiny(max_epochs=1000, step_sleep=0.05))
    wait_until(lambda: tracking.client().get_run(run_id).data.tags.get("runboard.heartbeat"), 180, message="training")
    pid = int(tracking.client().get_run(run_id).data.tags[PID_TAG])
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: status(run_id) == "FAILED", 5, 0.05, message="FAILED after kill -9")
    assert "SIGKILL" in tracking.client().get_run(run_id).data.tags[ERROR_TAG]


def test_stop_ends_a_running_run_killed_with_its_points(store, worker):
    run_id = queue.submit(tiny(max_epochs=1000, step_sleep=0.02))
    client = tracking.client()
    wait_until(lambda: len(client.get_metric_history(run_id, "train/loss")) >= 10, 180, message="points")
    assert queue.stop(run_id, grace_s=60) == "stopping"
    wait_until(lambda: status(run_id) in TERMINAL, 60, message="stopped")
    assert status(run_id) == "KILLED", describe_runs([run_id])
    steps = sorted(p.step for p in client.get_metric_history(run_id, "train/loss"))
    assert len(steps) >= 10 and steps == list(range(len(steps)))


def test_stop_tag_alone_stops_the_trainer_between_steps(store, worker):
    """What a cluster executor relies on: no signal, just the tag read by the writer thread."""
    run_id = queue.submit(tiny(max_epochs=1000, step_sleep=0.02))
    client = tracking.client()
    wait_until(lambda: len(client.get_metric_history(run_id, "train/loss")) >= 10, 180, message="points")
    client.set_tag(run_id, "runboard.stop_requested", f"{time.time():.0f}")
    wait_until(lambda: status(run_id) in TERMINAL, 60, message="stopped")
    assert status(run_id) == "KILLED"


def test_only_one_worker_per_store(sqlite_store, worker):
    assert start_in_thread(limit=1) is None


def _worker_process(limit: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{tracking.REPO}{os.pathsep}{TESTS}", "RUNBOARD_FAMILIES": "tiny_family"}
    return subprocess.Popen([sys.executable, "-m", "experiments.worker", "--limit", str(limit), "--poll", "0.2"],
                            cwd=tracking.REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _starts(run_id) -> int:
    return LocalExecutor().logs(run_id, tail=10_000).count(f"starting run {run_id}")


def test_worker_killed_and_restarted_loses_nothing_and_runs_nothing_twice(store, launch_env):
    ids = [queue.submit(tiny(max_epochs=2, step_sleep=0.1, seed=i)) for i in range(4)]
    first = _worker_process(limit=2)
    try:
        def two_running():  # both trainers attached (each writes its pid); a load can delay the second
            found = [r for r in ids if status(r) == "RUNNING" and tracking.client().get_run(r).data.tags.get(PID_TAG)]
            return found if len(found) >= 2 else None

        running = wait_until(two_running, 120, message="2 running")
        assert len(running) == 2 and sum(status(r) == "SCHEDULED" for r in ids) == 2
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    # While no worker runs, one trainer dies: the next worker must reconcile it, not wait forever.
    victim = running[0]
    os.killpg(int(tracking.client().get_run(victim).data.tags[PID_TAG]), signal.SIGKILL)
    second = _worker_process(limit=2)
    try:
        wait_until(lambda: all(status(r) in TERMINAL for r in ids), 300, 0.5, message="all runs ended")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    finals = {r: status(r) for r in ids}
    assert finals[victim] == "FAILED" and "is gone" in tracking.client().get_run(victim).data.tags[ERROR_TAG]
    assert [finals[r] for r in ids if r != victim] == ["FINISHED"] * 3, describe_runs(ids)
    assert [_starts(r) for r in ids] == [1, 1, 1, 1]
    for r in ids:
        if r != victim:
            steps = [p.step for p in tracking.client().get_metric_history(r, "train/loss")]
            assert sorted(steps) == list(range(64))  # 2 epochs x 32 steps, each once
    assert not [r for r in all_runs() if r.info.status == "RUNNING"]


def test_a_live_trainer_left_by_a_dead_worker_is_adopted_not_failed(store, launch_env):
    run_id = queue.submit(tiny(max_epochs=1000, step_sleep=0.05))
    first = _worker_process(limit=1)
    try:
        wait_until(
            lambda: tracking.client().get_run(run_id).data.tags.get("runboard.heartbeat"), 180, message="training"
        )
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    w = start_in_thread(limit=1, poll_s=0.2)
    try:
        wait_until(lambda: w.supervisor.executor.watches(run_id), 30, message="adopted")
        pid = int(tracking.client().get_run(run_id).data.tags[PID_TAG])
        assert status(run_id) == "RUNNING" and pid_alive(pid, run_id)
        os.killpg(pid, signal.SIGKILL)  # not our child any more: found by polling the pid
        wait_until(lambda: status(run_id) == "FAILED", 10, 0.1, message="FAILED")
    finally:
        w.stop()


def test_a_hand_run_trainer_on_a_queued_run_is_adopted_by_the_worker_not_started_again(sqlite_store, launch_env):
    run_id = queue.submit(tiny(max_epochs=3, step_sleep=0.1))
    env = {**os.environ, "PYTHONPATH": f"{tracking.REPO}{os.pathsep}{TESTS}", "RUNBOARD_FAMILIES": "tiny_family"}
    hand = subprocess.Popen([sys.executable, "-m", "trainers.train", "--run-id", run_id], cwd=tracking.REPO, env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: tracking.client().get_run(run_id).data.tags.get(PID_TAG) == str(hand.pid), 120,
                   message="the hand-run's claim", explain=lambda: describe_runs([run_id]))
        w = start_in_thread(limit=2, poll_s=0.2)  # the queue moves while the hand-run trains
        try:
            wait_until(
                lambda: w.supervisor.executor.watches(run_id) or status(run_id) in TERMINAL, 60, message="adopted"
            )
            out, _ = hand.communicate(timeout=180)
            wait_until(
                lambda: status(run_id) in TERMINAL and not w.supervisor.executor.watches(run_id), 30, message="reaped"
            )
        finally:
            w.stop()
    finally:
        if hand.poll() is None:
            os.killpg(hand.pid, signal.SIGKILL)
    assert hand.returncode == 0 and status(run_id) == "FINISHED", out + describe_runs([run_id])
    assert _starts(run_id) == 0  # the worker never started a second trainer for it
    steps = sorted(p.step for p in tracking.client().get_metric_history(run_id, "train/loss"))
    assert steps == list(range(96))  # 3 epochs x 32 steps, each once
