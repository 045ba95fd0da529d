"""The queue is the store: submit, idempotency, cancel, atomic claims and the reaper's rules.
No processes here; the worker tests start real trainers."""

import subprocess
import sys
import threading
import time

import pytest
import tiny_family  # noqa: F401 - registers "tiny"
from launch_util import all_runs, runtime_in_tmp  # noqa: F401 - autouse fixture

from experiments import launch, queue
from experiments.executors.local import LocalExecutor
from experiments.supervisor import Supervisor
from trainers import run_status, tracking
from trainers.run_record import ERROR_TAG, HOST_TAG, PID_TAG, SPEC_TAG
from trainers.spec import build_spec, spec_from_json


def test_submit_creates_a_scheduled_run_with_exactly_the_params(store):
    spec = build_spec("mlp", {"lr": "0.01", "hidden": 32, "max_epochs": 2}, run_name="form run")
    run_id = queue.submit(spec, launched_by="ada@example.com")
    run = tracking.client().get_run(run_id)
    assert run.info.status == "SCHEDULED" and run.info.run_name == "form run"
    expected = {"family": "mlp", **{k: str(v) for k, v in spec.config.model_dump().items()}}
    assert run.data.params == expected
    assert run.data.params["lr"] == "0.01" and run.data.params["hidden"] == "32"
    tags = run.data.tags
    assert spec_from_json(tags[SPEC_TAG]) == spec
    assert tags["runboard.family"] == "mlp" and tags[queue.LAUNCHED_BY] == "ada@example.com"


@pytest.mark.parametrize("raw, name, field", [
    ({"lr": "-1"}, None, "lr"),
    ({"max_epochs": "abc"}, None, "max_epochs"),
    ({"hidden": "99999"}, None, "hidden"),
    ({}, "x; rm -rf ~", "name"),
    ({}, "--help", "name"),
    ({"nosuch": "1"}, None, "nosuch"),
])
def test_invalid_form_values_create_no_run(raw, name, field, sqlite_store):
    run_id, errors = launch.launch_form("mlp", raw, run_name=name)
    assert run_id is None and list(errors) == [field] and errors[field].startswith(f"{field}:")
    assert all_runs() == []


def test_same_idempotency_key_starts_one_run_even_when_clicked_at_once(store):
    spec = build_spec("mlp", {"max_epochs": 1})
    ids: list[str] = []
    threads = [
        threading.Thread(target=lambda: ids.append(queue.submit(spec, idempotency_key="form-abc-1"))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(all_runs()) == 1
    assert queue.submit(spec, idempotency_key="form-abc-2") != ids[0]  # a new key is a new launch


def test_cancel_marks_a_scheduled_run_killed_and_no_worker_can_claim_it(store):
    run_id = queue.submit(build_spec("mlp", {}))
    assert queue.cancel(run_id) is True
    run = tracking.client().get_run(run_id)
    assert run.info.status == "KILLED" and run.info.end_time and "cancelled" in run.data.tags[ERROR_TAG]
    assert run_status.claim(run_id) is False and queue.cancel(run_id) is False


def test_exactly_one_of_many_concurrent_claims_wins(store):
    run_id = queue.submit(build_spec("mlp", {}))
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(run_status.claim(run_id))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert tracking.client().get_run(run_id).info.status == "RUNNING"


def test_a_terminal_status_is_never_overwritten(store):
    run_id = queue.submit(build_spec("mlp", {}))
    tracking.client().set_terminated(run_id, "FINISHED")
    assert run_status.end_if_active(run_id, "FAILED", "late reaper") is False
    run = tracking.client().get_run(run_id)
    assert run.info.status == "FINISHED" and ERROR_TAG not in run.data.tags


def _running_run(tags: dict[str, str]) -> str:
    c = tracking.client()
    run_id = c.create_run(tracking.experiment_id(), tags=tags).info.run_id  # RUNNING
    return run_id


def test_reaper_fails_dead_pids_and_stale_heartbeats_and_leaves_the_rest(store):
    import socket

    dead = subprocess.Popen(["true"])
    dead.wait()
    here = socket.gethostname()
    gone = _running_run({PID_TAG: str(dead.pid), HOST_TAG: here})
    stale = _running_run({HOST_TAG: "elsewhere", "runboard.heartbeat": f"{time.time() - 3600:.0f}"})
    fresh = _running_run({HOST_TAG: "elsewhere", "runboard.heartbeat": f"{time.time():.0f}"})
    finished = _running_run({PID_TAG: str(dead.pid), HOST_TAG: here})
    tracking.client().set_terminated(finished, "FINISHED")
    failed = Supervisor(LocalExecutor(limit=1), stale_s=600).reconcile()
    assert sorted(failed) == sorted([gone, stale])
    c = tracking.client()
    assert "is gone" in c.get_run(gone).data.tags[ERROR_TAG]
    assert "no heartbeat" in c.get_run(stale).data.tags[ERROR_TAG]
    assert c.get_run(fresh).info.status == "RUNNING" and c.get_run(finished).info.status == "FINISHED"


def test_a_trainer_started_by_hand_is_left_alone_and_a_recycled_pid_is_not_taken_for_it(store):
    import socket

    by_hand = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "trainers.train"])
    try:
        here = {PID_TAG: str(by_hand.pid), HOST_TAG: socket.gethostname()}
        live = _running_run(here)  # created after its process started, like `trainers.train mlp`
        c = tracking.client()
        older = c.create_run(
            tracking.experiment_id(), start_time=int((time.time() - 3600) * 1000), tags=here
        ).info.run_id
        assert Supervisor(LocalExecutor(limit=1)).reconcile() == [older]  # that pid cannot be the old run's trainer
        assert c.get_run(live).info.status == "RUNNING"
    finally:
        by_hand.kill()
        by_hand.wait()


def test_a_trainer_attaching_to_a_queued_run_claims_it_like_the_worker(store):
    """``trainers.train --run-id`` on a SCHEDULED run takes it with the worker's conditional UPDATE:
    afterwards no worker can claim it, and an attach that lost the same race stops before training."""
    from trainers import run_record
    from trainers.config import ConfigError

    spec = build_spec("tiny", {"max_epochs": 1})
    run_id = queue.submit(spec)
    client = tracking.client()
    assert run_record.start(client, spec, run_id) == run_id
    assert client.get_run(run_id).info.status == "RUNNING" and not run_status.claim(run_id)
    with pytest.raises(ConfigError) as err:
        run_record.claim(client, run_id)  # what the slower of two starters meets
    assert err.value.field == "run-id" and "not starting it twice" in str(err.value)


class _ClusterDown(LocalExecutor):
    """A real local executor whose cluster side is unreachable until ``up`` is set."""

    up = False

    def reap(self):
        if not self.up:
            raise ConnectionError("cluster at 127.0.0.1:1 refused the connection")
        return super().reap()


def test_a_failure_that_repeats_every_poll_is_logged_once(sqlite_store, caplog):
    sup = Supervisor(_ClusterDown(sqlite_store, limit=1), sqlite_store)
    stop = threading.Event()
    loop = threading.Thread(target=sup.run, args=(stop, 0.02))
    with caplog.at_level("WARNING", logger="experiments.supervisor"):
        loop.start()
        time.sleep(1.0)  # ~50 failing ticks
        sup.executor.up = True
        time.sleep(0.3)
        stop.set()
        loop.join(10)
    said = [(r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert said == [("supervisor tick failed", True), ("supervisor recovered", False)]
