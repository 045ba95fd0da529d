"""The store module: creation, WAL, race-free experiments."""

import sqlite3

from trainers import tracking


def test_sqlite_store_is_created_in_wal_mode(sqlite_store):
    tracking.prepare_store()
    db = tracking.sqlite_path(sqlite_store)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_experiment_get_or_create_is_idempotent(store):
    first = tracking.experiment_id("same-name")
    assert tracking.experiment_id("same-name") == first
