"""The runs table's per-metric min/max from the curve summaries, and the bulk build/drop command
(issue 13): the same numbers as a scan of MLflow's ``metrics``, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pandas as pd
import sqlalchemy as sa
from mlflow.entities import Metric
from plain_store import write_plain_store

from dashboard import data
from dashboard.data import runs_sql
from trainers import curve_summary as cs
from trainers import tracking


def _scan(uri: str) -> pd.DataFrame:
    """min/max per run and metric the way the runs table read them before summaries."""
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        with eng.connect() as conn:
            rows = runs_sql.Scope().fetch(conn, *runs_sql.MIN_MAX, tail="GROUP BY x.run_uuid, x.key")
    finally:
        eng.dispose()
    return pd.DataFrame(rows, columns=["run_id", "key", "min", "max"]).sort_values(["run_id", "key"], ignore_index=True)


def _table_min_max(uri: str) -> pd.DataFrame:
    df = data.runs(uri=uri)
    keys = sorted(
        {c[len("metrics.") : -len(".min")] for c in df.columns if c.startswith("metrics.") and c.endswith(".min")}
    )
    rows = [(r.run_id, k, r[f"metrics.{k}.min"], r[f"metrics.{k}.max"]) for _, r in df.iterrows() for k in keys
            if not pd.isna(r[f"metrics.{k}"])]
    return pd.DataFrame(rows, columns=["run_id", "key", "min", "max"]).sort_values(["run_id", "key"], ignore_index=True)


def _fresh_keys(uri: str) -> set:
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        with eng.connect() as conn:
            return set(cs.states(conn, _scan(uri)["run_id"]))
    finally:
        eng.dispose()


def _same(table: pd.DataFrame, scan: pd.DataFrame) -> None:
    from dashboard.data import downsample as ds

    for col in ("min", "max"):  # the scan holds MLflow's encoding (±max float for ±inf, NULL when all NaN)
        scan[col] = ds.decode(scan[col].astype(float).fillna(math.nan).to_numpy(), [False] * len(scan))
    pd.testing.assert_frame_equal(table, scan, check_dtype=False)


def test_runs_table_min_max_from_summaries(store):
    ids = write_plain_store(store)
    _same(_table_min_max(store), _scan(store))
    assert (ids["long"], "train/loss") in _fresh_keys(store)  # read from the summary, not the scan
    # An earlier-step point below the minimum, by plain mlflow: the next table shows it.
    tracking.client(store).log_batch(ids["long"], metrics=[Metric("train/loss", -5.0, int(time.time() * 1000), 10)])
    table = _table_min_max(store)
    assert table.set_index(["run_id", "key"]).loc[(ids["long"], "train/loss"), "min"] == -5.0
    _same(table, _scan(store))


def test_runs_table_builds_summaries_within_its_budget_and_scans_the_rest(sqlite_store, monkeypatch):
    from dashboard.data import summary_read

    ids = write_plain_store(sqlite_store)
    monkeypatch.setattr(summary_read, "BUILD_BUDGET_S", -1.0)  # spent before the first curve
    _same(_table_min_max(sqlite_store), _scan(sqlite_store))  # right from the scan
    assert (ids["long"], "train/loss") not in _fresh_keys(sqlite_store)
    monkeypatch.setattr(summary_read, "BUILD_BUDGET_S", 60.0)
    _same(_table_min_max(sqlite_store), _scan(sqlite_store))
    assert (ids["long"], "train/loss") in _fresh_keys(sqlite_store)  # a later read summarised it


def test_build_and_drop_command(sqlite_store):
    ids = write_plain_store(sqlite_store)
    env = {"MLFLOW_TRACKING_URI": sqlite_store, "PATH": "/usr/bin:/bin"}
    built = subprocess.run(
        [sys.executable, "-m", "trainers.curve_summary", "build"],
        env=env,
        cwd=tracking.REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "curves" in built.stderr
    assert (ids["long"], "train/loss") in _fresh_keys(sqlite_store) and (ids["nan_inf"], "val/loss") in _fresh_keys(
        sqlite_store
    )
    subprocess.run(
        [sys.executable, "-m", "trainers.curve_summary", "drop"],
        env=env,
        cwd=tracking.REPO,
        capture_output=True,
        check=True,
    )
    eng = sa.create_engine(tracking.prepare_store(sqlite_store))
    try:
        assert not sa.inspect(eng).has_table(cs.TABLE)
    finally:
        eng.dispose()
    _same(_table_min_max(sqlite_store), _scan(sqlite_store))  # and the table reads on, rebuilding


def test_writer_process_keeps_summaries_current(sqlite_store):
    from trainers.log_sinks import ProcessSink

    client = tracking.client(sqlite_store)
    run_id = client.create_run(tracking.experiment_id("writer", sqlite_store)).info.run_id
    sink = ProcessSink(client, run_id)
    t0 = int(time.time() * 1000)
    for part in range(3):
        sink.write([("train/loss", float(s), t0 + s, s) for s in range(part * 500, part * 500 + 500)], {}, [])
    sink.write([("train/loss", 1e9, t0 + 2000, 7)], {}, [])  # a late point at an earlier step
    sink.close(timeout=60)
    assert sink.failed is None and sink.not_written == 0
    eng = sa.create_engine(tracking.prepare_store(sqlite_store))
    try:
        with eng.connect() as conn:
            assert cs.fresh(conn, [(run_id, "train/loss")]) == {(run_id, "train/loss")}
            top = cs.read_level(conn, run_id, "train/loss", max(cs.LEVELS), 0, 2**62)
    finally:
        eng.dispose()
    assert [(r[1], r[2], r[3]) for r in top] == [(1501, 0.0, 1e9)]
