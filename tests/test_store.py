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
