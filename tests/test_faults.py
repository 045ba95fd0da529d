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
