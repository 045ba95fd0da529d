"""The dashboard's background summariser (issue 13): a foreign store's long curves get fresh
summaries ahead of any view; short ones are left to the runs table's scan."""

from __future__ import annotations

import time

import numpy as np
import sqlalchemy as sa
from plain_store import write_metric_rows

from dashboard.data import summariser, summary_read
from trainers import curve_summary as cs
from trainers import tracking


def _fresh(uri: str, keys) -> set:
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        with eng.connect() as conn:
            return cs.fresh(conn, keys)
    except sa.exc.DBAPIError:  # no summary tables yet
        return set()
    finally:
        eng.dispose()


def test_background_summariser_builds_long_foreign_curves_and_follows_appends(store, monkeypatch):
    monkeypatch.setenv("RUNBOARD_SUMMARISER", "on")
    monkeypatch.setattr(summariser, "PAUSE_S", 0.0)
    monkeypatch.setattr(summariser, "SWEEP_S", 0.05)
    monkeypatch.setattr(summariser, "IDLE_S", 0.05)
    monkeypatch.setattr(summariser, "BATCH", 2)
    c = tracking.client(store)
    eid = tracking.experiment_id("background", store)
    long_ = [c.create_run(eid).info.run_id for _ in range(3)]
    short = c.create_run(eid).info.run_id
    n = summary_read.BUILD_FROM_STEP + 100
    for run in long_:
        write_metric_rows(store, run, "train/loss", np.arange(n), np.sin(np.arange(n) / 50))
    write_metric_rows(store, short, "train/loss", np.arange(100), np.zeros(100))
    keys = [(r, "train/loss") for r in long_]
    worker = summariser.Summariser(store)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while _fresh(store, keys) != set(keys) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _fresh(store, keys) == set(keys)
        write_metric_rows(store, long_[0], "train/loss", [n + 5, 3], [9.0, -9.0])  # past the end and earlier
        assert _fresh(store, keys) == set(keys[1:])  # stale at once: reads take the raw path
        deadline = time.monotonic() + 60
        while _fresh(store, keys) != set(keys) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _fresh(store, keys) == set(keys)
    finally:
        worker.stop()
        worker.join(10)
    assert not worker.is_alive() and not worker.failed
    assert _fresh(store, [(short, "train/loss")]) == set()


def test_off_by_environment(sqlite_store, monkeypatch):
    monkeypatch.setenv("RUNBOARD_SUMMARISER", "off")
    assert summariser.ensure_started(sqlite_store) is None
