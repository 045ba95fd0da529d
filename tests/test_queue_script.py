"""A user's own script from the queue: the local executor starts it, its RunboardLogger attaches,
and Stop (as the UI's Stop button does it) ends it KILLED with the points written so far kept."""

import time
from pathlib import Path

from mlflow import MlflowClient

from experiments import queue
from experiments.executors.local import LocalExecutor
from experiments.scripts import submit_script
from trainers import run_status

SCRIPT = Path(__file__).resolve().parent / "byo" / "byo_script.py"


def test_queued_script_runs_and_stops_killed(sqlite_store):
    uri = sqlite_store
    run_id = submit_script(SCRIPT, ["500"], experiment="byo-queue", run_name="mine", uri=uri)
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "SCHEDULED"
    assert run_status.claim(run_id, uri)
    ex = LocalExecutor(uri)
    ex.start(run_id)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and "my/train_loss" not in client.get_run(run_id).data.metrics:
        time.sleep(1)
    assert "my/train_loss" in client.get_run(run_id).data.metrics, ex.logs(run_id)
    assert queue.stop(run_id, grace_s=120, uri=uri) == "stopping"
    while time.monotonic() < deadline and client.get_run(run_id).info.status == "RUNNING":
        time.sleep(1)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED", ex.logs(run_id)
    points = client.get_metric_history(run_id, "my/train_loss")
    assert 0 < len(points) < 500 * 8  # stopped early; what was logged is kept
    assert run.data.params["lr"] == "0.05"
