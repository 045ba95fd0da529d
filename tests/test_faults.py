"""Fault injection on the write path, real stores: a full filesystem under a SQLite store."""

from __future__ import annotations

import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from mlflow import MlflowClient

from trainers import run_tags as T
from trainers.log_sinks import DirectSink


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], capture_output=True).returncode:
        if os.environ.get("CI") == "true":  # the full-disk cases are required in CI
            pytest.fail("cannot mount a tmpfs here (needs root)")
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path):
    """Take every free byte (a disk that is full already stays full)."""
    try:
        f = open(path, "wb")
    except OSError:
        return
    with f:
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
    assert [tags["i"] for _, tags, _ in Journal("r1").read()[0]] == ["4", "5", "6", "7", "8", "9"]


def _train_tiny(uri: str, epochs: int, retry_s: str = "1", **popen):
    from trainers import tracking

    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RUNBOARD_FAMILIES": "tiny_family",
           "RUNBOARD_WRITE_RETRY_SECONDS": retry_s,
           "PYTHONPATH": os.pathsep.join([str(tracking.REPO), os.path.dirname(__file__)])}
    return subprocess.Popen(
        [sys.executable, "-m", "trainers.train", "tiny", "--set", f"max_epochs={epochs}", "--name", "f"],
        cwd=tracking.REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_points_the_store_never_takes_fail_the_run_and_recover_completes_it(sqlite_store):
    """Acceptance 3 on SQLite: the store refuses every metric insert for the whole run (a trigger
    raising SQLite's full-disk error), the status still gets through: FAILED with "N points not
    written", exit 1, the journal kept; once the store takes points again recover writes each once
    and sets FINISHED."""
    db = sqlite3.connect(sqlite_store.removeprefix("sqlite:///"))
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON metrics BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    db.commit()
    out, err = _train_tiny(sqlite_store, epochs=2).communicate(timeout=600)
    run_id = out.strip().splitlines()[-1]
    client = MlflowClient(tracking_uri=sqlite_store)
    run = client.get_run(run_id)
    error = run.data.tags[T.ERROR]
    lost = int(error.split(" points not written: ")[0])
    assert run.info.status == "FAILED" and lost > 0 and "full" in error, error
    assert run.data.tags[T.POINTS_NOT_WRITTEN] == str(lost)
    assert f"{lost} points not written" in err and "Traceback" not in err, err[-3000:]
    assert not client.get_metric_history(run_id, "train/loss")
    db.execute("DROP TRIGGER refuse")
    db.commit()
    recovered = subprocess.run([sys.executable, "-m", "trainers.recover", run_id], capture_output=True, text=True,
                               env={**os.environ, "MLFLOW_TRACKING_URI": sqlite_store})
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.startswith(f"{lost} points written")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert T.ERROR not in run.data.tags and T.POINTS_NOT_WRITTEN not in run.data.tags
    total = int(run.data.tags[T.PROGRESS_TOTAL_STEPS])
    assert sorted(m.step for m in client.get_metric_history(run_id, "train/loss")) == list(range(total))
    stored = db.execute(
        "SELECT count(*), count(DISTINCT key || '/' || step) FROM metrics WHERE run_uuid = ?", (run_id,)
    ).fetchone()
    assert stored == (lost, lost)  # every point once


def test_writer_process_sigkilled_mid_run_the_trainer_writes_what_it_had_and_finishes(sqlite_store):
    """The writer process is SIGKILLed mid-run: the trainer writes in-process from then on, first
    resending what the dead writer may not have written (the store keeps one copy of what it had):
    FINISHED, exit 0, every point exactly once, and the log says what happened."""
    trainer = _train_tiny(sqlite_store, epochs=6, retry_s="5")
    client = MlflowClient(tracking_uri=sqlite_store)
    try:
        writer = _writer_of(trainer)
        deadline = time.monotonic() + 300
        while not _stored(sqlite_store) and time.monotonic() < deadline:
            time.sleep(0.2)
        writer.send_signal(signal.SIGKILL)
        out, err = trainer.communicate(timeout=600)
    finally:
        if trainer.poll() is None:
            trainer.kill()
    assert trainer.returncode == 0, err[-3000:]
    assert "writer process exited (-9); writing in-process" in err, err[-3000:]
    run = client.get_run(out.strip().splitlines()[-1])
    assert run.info.status == "FINISHED"
    total = int(run.data.tags[T.PROGRESS_TOTAL_STEPS])
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "train/loss")) == list(range(total))
    assert _stored(sqlite_store, distinct=True) == _stored(sqlite_store)  # no point twice, in any curve


def _writer_of(trainer):
    import psutil

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert trainer.poll() is None, trainer.communicate()[1][-3000:]
        for child in psutil.Process(trainer.pid).children():
            if "trainers.log_sinks" in child.cmdline():
                return child
        time.sleep(0.2)
    raise AssertionError("no writer process")


def _stored(uri: str, distinct: bool = False) -> int:
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        what = "DISTINCT run_uuid || key || '/' || step" if distinct else "*"
        return db.execute(f"SELECT count({what}) FROM metrics").fetchone()[0]


def test_the_issues_full_disk_run_ends_finished_with_all_460_points_once(small_fs, sqlite_template):
    """Acceptance 1, the issue's case end to end: ``mlp`` for 20 epochs (460 steps) on a SQLite
    store whose disk fills mid-run and frees again while the trainer is alive: the writer keeps the
    points (the journal's disk is full too: in memory), writes them when space is back, and the
    run ends FINISHED with every point exactly once."""
    import shutil

    shutil.copyfile(sqlite_template, small_fs / "mlflow.db")
    uri = f"sqlite:///{small_fs}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (small_fs / "artifacts").as_uri()}
    from trainers import tracking

    trainer = subprocess.Popen([sys.executable, "-m", "trainers.train", "mlp", "--set", "max_epochs=20"],
                               cwd=tracking.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while _stored(uri) < 50 and time.monotonic() < deadline:
            assert trainer.poll() is None, trainer.communicate()[1][-3000:]
            time.sleep(0.2)
        _fill(small_fs / "fill")
        time.sleep(3)  # the writer meets the full disk and keeps the points
        (small_fs / "fill").unlink()
        out, err = trainer.communicate(timeout=600)
    finally:
        if trainer.poll() is None:
            trainer.kill()
    assert trainer.returncode == 0, err[-3000:]
    run = MlflowClient(tracking_uri=uri).get_run(out.strip().splitlines()[-1])
    assert run.info.status == "FINISHED"
    steps = [m.step for m in MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, "train/loss")]
    assert sorted(steps) == list(range(460))
    assert _stored(uri, distinct=True) == _stored(uri)


def test_an_artifact_the_store_never_takes_fails_the_run_and_says_so(sqlite_store, small_fs):
    """The artifact volume is full for the whole run (the metrics store is fine): the checkpoint
    upload is retried, then the run ends FAILED with "N artifacts not uploaded", exit 1."""
    from trainers import tracking

    _fill(small_fs / "fill")
    env = {**os.environ, "MLFLOW_TRACKING_URI": sqlite_store, "RUNBOARD_FAMILIES": "tiny_family",
           "RUNBOARD_WRITE_RETRY_SECONDS": "1", "RUNBOARD_ARTIFACT_ROOT": (small_fs / "artifacts").as_uri(),
           "PYTHONPATH": os.pathsep.join([str(tracking.REPO), os.path.dirname(__file__)])}
    done = subprocess.run([sys.executable, "-m", "trainers.train", "tiny", "--set", "max_epochs=1"],
                          cwd=tracking.REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    run = MlflowClient(tracking_uri=sqlite_store).get_run(done.stdout.strip().splitlines()[-1])
    assert run.info.status == "FAILED"
    assert re.match(r"[1-9]\d* artifacts not uploaded: ", run.data.tags[T.ERROR]), run.data.tags[T.ERROR]
    assert T.POINTS_NOT_WRITTEN not in run.data.tags  # every point is in
