"""The store module: creation, WAL, race-free experiments."""

import os
import sqlite3
import subprocess
import sys

from trainers import tracking


def test_sqlite_store_is_created_in_wal_mode(sqlite_store):
    tracking.prepare_store()
    db = tracking.sqlite_path(sqlite_store)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _metrics_stat(con) -> int | None:
    row = con.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'metrics' LIMIT 1").fetchone()
    return int(row[0].split()[0]) if row else None


def _add_metrics(con, run: str, n: int, start: int = 0) -> None:
    """``n`` points of metric ``m``: a tenth in ``run``, the rest in 20 other runs' curves."""
    rows = [(float(i), run if i % 10 == 0 else f"other{i % 20}", i) for i in range(start, start + n)]
    con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ('m', ?, 0, ?, ?, 0)",
                    rows)


def test_sqlite_statistics_are_created_and_refreshed_when_the_store_has_grown(sqlite_store):
    tracking.prepare_store()
    db = tracking.sqlite_path(sqlite_store)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0  # ANALYZE ran
        run = tracking.client().create_run(tracking.experiment_id("stats")).info.run_id
        _add_metrics(con, run, 1000)
        con.commit()
        assert tracking.refresh_statistics(con)  # the first metrics: 0 -> 1000 rows
        assert _metrics_stat(con) > 0
        _add_metrics(con, run, 500, start=1000)
        assert not tracking.refresh_statistics(con)  # 1.5x: not grown enough to pay for it
        _add_metrics(con, run, 1000, start=1500)
        assert tracking.refresh_statistics(con)
        assert not tracking.refresh_statistics(con)  # done: once per doubling
        plan = " ".join(r[-1] for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT step, value FROM metrics WHERE run_uuid = ? AND key = 'm'", (run,)))
        assert "index_metrics_run_uuid_key_step" in plan  # the per-curve index, not a scan by key


def test_experiment_get_or_create_is_idempotent(store):
    first = tracking.experiment_id("same-name")
    assert tracking.experiment_id("same-name") == first


def test_four_processes_first_touching_a_fresh_postgresql_store_all_succeed(pg_empty_uri, tmp_path):
    """MLflow migrates an empty database on first use, unsafely: without Runboard's lock 3 of 4
    simultaneous first users crashed."""
    code = "import sys; from trainers import tracking; tracking.prepare_store(sys.argv[1])"
    env = {**os.environ, "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri()}
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_empty_uri], cwd=tracking.REPO, env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e[-1500:] for e in errors]
    assert tracking.experiment_id("after", pg_empty_uri)
