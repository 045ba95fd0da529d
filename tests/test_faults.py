"""Fault injection on the write path, real stores: a full filesystem under a SQLite store."""

from __future__ import annotations

import logging
import os
import subprocess
import threading

import pytest
from mlflow import MlflowClient

from trainers.log_sinks import DirectSink


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path):
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
        try:
            os.fsync(f.fileno())
        except OSError:
            pass


def test_full_disk_retries_then_writes_every_point_once(small_fs, caplog, monkeypatch):
    monkeypatch.setenv("RUNBOARD_WRITE_RETRY_SECONDS", "30")
    client = MlflowClient(tracking_uri=f"sqlite:///{small_fs}/mlflow.db")
    run_id = client.create_run(client.create_experiment("x", artifact_location=str(small_fs / "a"))).info.run_id
    sink = DirectSink(client, run_id)
    sink.write([("train/loss", float(s), 1000 + s, s) for s in range(50)], {}, [])
    _fill(small_fs / "fill")
    threading.Timer(2.0, (small_fs / "fill").unlink).start()  # space comes back mid-retry
    with caplog.at_level(logging.WARNING, logger="trainers.log_sinks"):
        sink.write([("train/loss", float(s), 1000 + s, s) for s in range(50, 3050)], {}, [])
    steps = [m.step for m in client.get_metric_history(run_id, "train/loss")]
    assert sorted(steps) == list(range(3050))  # every point, exactly once
    assert sink.not_written == 0
    lines = [r.getMessage() for r in caplog.records]
    assert sum("store unreachable" in m for m in lines) == 1
    assert sum("store back" in m for m in lines) == 1


def test_store_never_back_counts_points_not_written(small_fs, monkeypatch):
    monkeypatch.setenv("RUNBOARD_WRITE_RETRY_SECONDS", "1")
    client = MlflowClient(tracking_uri=f"sqlite:///{small_fs}/mlflow.db")
    run_id = client.create_run(client.create_experiment("x", artifact_location=str(small_fs / "a"))).info.run_id
    sink = DirectSink(client, run_id)
    sink.write([("train/loss", 0.0, 1000, 0)], {}, [])
    _fill(small_fs / "fill")
    sink.write([("train/loss", float(s), 1000 + s, s) for s in range(1, 3001)], {}, [])
    assert sink.not_written > 0 and "full" in sink.cause
    (small_fs / "fill").unlink()
    stored = len(client.get_metric_history(run_id, "train/loss"))
    assert stored + sink.not_written == 3001  # nothing dropped without being counted


def test_a_retried_batch_whose_commit_did_land_is_stored_once(store):
    """The reply of a committed batch was lost and the writer sends it again: MLflow's primary key
    (key, timestamp, step, run, value, is_nan) and its SQL store's skip of rows already there keep
    one copy; the writer resends the same points (same timestamps), so the retry is idempotent."""
    client = MlflowClient(tracking_uri=store)
    run_id = client.create_run(client.create_experiment("x")).info.run_id
    batch = [("train/loss", float(s) / 7, 1000 + s, s) for s in range(1500)]
    DirectSink(client, run_id).write(batch[:1000], {}, [])  # committed; its reply "lost"
    DirectSink(client, run_id).write(batch, {"t": "1"}, [])  # the retry: all of it again, and more
    steps = [m.step for m in client.get_metric_history(run_id, "train/loss")]
    assert sorted(steps) == list(range(1500))


def test_pending_points_past_the_memory_bound_go_to_the_journal_in_order(tmp_path, monkeypatch):
    from trainers.journal import Journal, Pending

    monkeypatch.setenv("RUNBOARD_RUNTIME_DIR", str(tmp_path))
    pending = Pending(Journal("r1"), bound=25)
    for i in range(10):
        pending.put([("m", float(i), i, s) for s in range(10 * i, 10 * i + 10)], {"i": str(i)})
    assert pending.journal.points() == 80  # two batches (20 points) fit in memory, the rest spilled
    seen = []
    for _ in range(4):  # the store takes four batches, then the run ends with the store away
        seen.append(pending.head()[1]["i"])
        pending.pop()
    assert seen == ["0", "1", "2", "3"]
    assert pending.persist() == 60
    assert [tags["i"] for _, tags in Journal("r1").read()[0]] == ["4", "5", "6", "7", "8", "9"]
