"""The Arrow reader process (SQLite): same curves as the in-process reader, and a failing or
missing process only ever means reading in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from plain_store import write_metric_rows, write_plain_store

from dashboard import data
from dashboard.data import curves_sql, reader_process
from trainers import tracking

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def plain(sqlite_store):
    return write_plain_store(sqlite_store)


def _both(monkeypatch, *args, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """curves() in-process, then through the reader process (which must have served it)."""
    monkeypatch.setenv("RUNBOARD_ARROW_READER", "0")
    ours = data.curves(*args, **kwargs)
    monkeypatch.setenv("RUNBOARD_ARROW_READER", "1")
    assert reader_process.wait_ready(), "the reader process did not start"
    before = reader_process.served
    theirs = data.curves(*args, **kwargs)
    assert reader_process.served == before + 1
    return ours, theirs


@pytest.mark.parametrize("max_points, step_range", [(1000, None), (3, None), (500, None), (1000, (2, 4)),
                                                    (100, (10, 99_000)), (1000, (None, 600))])
def test_reader_process_returns_the_in_process_frame(plain, monkeypatch, max_points, step_range):
    runs = [v for k, v in plain.items() if k != "experiment_id"]  # nested, NaN/inf, unordered, deleted, long…
    metrics = ["val/loss", "train/loss", "no-such-metric"]
    ours, theirs = _both(monkeypatch, runs, metrics, max_points=max_points, step_range=step_range)
    assert not ours.empty
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours.attrs == theirs.attrs


def test_curves_logged_as_integers_and_nan_first_read_the_same(sqlite_store, monkeypatch):
    # The driver guesses a column's type from its first rows: a curve of whole numbers, and one
    # whose first 2,000 points are NaN, must still come back as the same floats.
    c = tracking.client(sqlite_store)
    run = c.create_run(tracking.experiment_id("odd", sqlite_store)).info.run_id
    write_metric_rows(sqlite_store, run, "ints", range(3000), [float(i) for i in range(3000)])
    write_metric_rows(sqlite_store, run, "nan_first", range(3000), [float("nan")] * 2000 + [1.5] * 1000)
    ours, theirs = _both(monkeypatch, [run], ["ints", "nan_first"], max_points=5000)
    pd.testing.assert_frame_equal(ours, theirs)
    assert theirs["value"].isna().sum() == 2000


WRITER = """
import sys, time
from mlflow.entities import Metric
from trainers import tracking
uri, run = sys.argv[1], sys.argv[2]
client = tracking.client(uri)
for i in range(40):  # 2,000 points in batches of 50, each batch one transaction
    now = int(time.time() * 1000)
    client.log_batch(run, metrics=[Metric("train/loss", float(s), now, s) for s in range(i * 50, i * 50 + 50)])
    time.sleep(0.02)
"""


def test_reads_while_another_process_writes_see_whole_batches(sqlite_store):
    run = tracking.client(sqlite_store).create_run(tracking.experiment_id("live", sqlite_store)).info.run_id
    assert reader_process.wait_ready()
    before = reader_process.served
    writer = subprocess.Popen([sys.executable, "-c", WRITER, sqlite_store, run], cwd=ROOT)
    seen = []
    while writer.poll() is None:
        steps = data.curves([run], ["train/loss"], max_points=10_000)["step"].tolist()
        assert steps == list(range(len(steps))) and len(steps) % 50 == 0  # a prefix of whole batches
        seen.append(len(steps))
    assert writer.returncode == 0
    assert len(data.curves([run], ["train/loss"], max_points=10_000)) == 2000
    assert seen == sorted(seen) and len(set(seen)) >= 3  # the curve was seen growing
    assert reader_process.served > before + 1


def test_a_query_error_is_reported_and_changes_nothing(sqlite_store, caplog):
    assert reader_process.wait_ready()
    path = tracking.sqlite_path(sqlite_store)
    assert reader_process.fetch(path, "SELECT nope FROM nowhere WHERE 1 = ?", [[1]], [("x", "int64")]) is None
    assert "no such table" in caplog.text
    table = reader_process.fetch(path, curves_sql.ARROW_POINTS, [[0], ["r"], ["k"], [0], [9], [5]],
                                 curves_sql.ARROW_SCHEMA)
    assert table is not None and table.num_rows == 0  # the process still answers


def test_a_view_read_while_the_processes_are_busy_reads_in_process(plain, monkeypatch):
    monkeypatch.setenv("RUNBOARD_ARROW_READER", "0")
    expected = data.curves([plain["nan_inf"], plain["long"]], ["val/loss", "train/loss"], max_points=50)
    monkeypatch.setenv("RUNBOARD_ARROW_READER", "1")
    assert reader_process.wait_ready()
    before = reader_process.served
    with reader_process._busy:  # another session's view is being read
        df = data.curves([plain["nan_inf"], plain["long"]], ["val/loss", "train/loss"], max_points=50)
    assert reader_process.served == before
    pd.testing.assert_frame_equal(df, expected)


def test_a_killed_reader_process_means_reading_in_process(plain, monkeypatch, caplog):
    assert reader_process.wait_ready()
    proc = reader_process._pool[0]
    os.kill(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait(timeout=10)
    monkeypatch.setattr(reader_process, "RETRY_S", 0.0)
    df = data.curves([plain["nan_inf"], plain["unordered"]], ["val/loss", "train/loss"])
    assert len(df) == 10 and "reader process failed" in caplog.text
    assert reader_process.wait_ready() and proc not in reader_process._pool  # new ones


def test_a_missing_store_file_is_an_error_not_a_new_database(tmp_path):
    assert reader_process.wait_ready()
    missing = tmp_path / "none.db"
    assert reader_process.fetch(missing, "SELECT ?", [[1]], [("x", "int64")]) is None
    assert not missing.exists()


def test_the_reader_process_exits_with_its_parent():
    code = ("from dashboard.data import reader_process as r; assert r.wait_ready(); "
            "print(*[p.proc.pid for p in r._pool], flush=True); import os; os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    children = [int(pid) for pid in out.stdout.split()]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(map(_alive, children)):
        time.sleep(0.1)
    assert children and not any(map(_alive, children))


IDLE = """
import os, sys, time
from dashboard import data
from dashboard.data import reader_process as r
run, metric = sys.argv[1], sys.argv[2]
def view():
    served = r.served
    assert r.wait_ready(), "the reader processes did not start"
    assert len(data.curves([run], [metric])) == 5 and r.served == served + 1  # read by them
    return [p.proc.pid for p in r._pool]
first = view()
print(*first, flush=True)
deadline = time.monotonic() + 30
while r._pool and time.monotonic() < deadline:  # idle: they stop themselves
    time.sleep(0.1)
assert not r._pool, "the reader processes did not stop when idle"
assert not any(os.path.exists(f"/proc/{pid}") for pid in first)  # exited and reaped while we live
assert not set(view()) & set(first)  # the next view starts new ones
"""


def test_the_reader_processes_exit_when_idle_and_the_next_view_starts_them_again(plain, monkeypatch):
    monkeypatch.setenv(reader_process.IDLE_ENV, "5")  # long enough for a read on a busy machine
    out = subprocess.run([sys.executable, "-c", IDLE, plain["nan_inf"], "val/loss"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(out.stdout.split()) == reader_process.PROCESSES


def test_the_reader_processes_load_neither_pandas_nor_arrow_datasets(plain, monkeypatch):
    # Each is ~55 MB per process that a reader never uses (the module doc of reader_child).
    ours, theirs = _both(monkeypatch, [plain["nan_inf"]], ["val/loss"])  # a read they served
    pd.testing.assert_frame_equal(ours, theirs)
    for proc in reader_process._pool:
        mapped = Path(f"/proc/{proc.proc.pid}/maps").read_text()
        assert "/pandas/" not in mapped and "pyarrow/_dataset." not in mapped  # modules, not libarrow


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
