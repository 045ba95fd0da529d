"""The writer process's direct rows equal what MLflow's ``log_batch`` stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from trainers import point_rows, tracking
from trainers.store_writer import write_batch

NASTY = [("loss", 0.5, 1000, 0), ("loss", math.nan, 1001, 1), ("loss", math.inf, 1002, 2),
         ("loss", -math.inf, 1003, 3), ("loss", 0.25, 1004, 7), ("loss", 0.75, 1005, 5),  # out of order
         ("loss", 0.25, 1004, 7), ("loss", math.nan, 1001, 1),  # duplicates, NaN too
         ("acc", 0.1, 1000, 3), ("acc", 0.9, 1000, 3), ("acc", 0.2, 999, 3)]  # same step: the greater wins


def _rows(uri: str, table: str, run_id: str) -> list[tuple]:
    eng = sa.create_engine(uri)
    with eng.connect() as conn:
        out = conn.execute(sa.text(f"SELECT key, value, timestamp, step, is_nan FROM {table} WHERE run_uuid = :r "
                                   "ORDER BY key, step, timestamp, value"), {"r": run_id}).all()
    eng.dispose()
    return [(k, v, ts, st, bool(nan)) for k, v, ts, st, nan in out]


def _two_runs(uri: str) -> tuple[MlflowClient, str, str]:
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("rows")
    return client, client.create_run(exp).info.run_id, client.create_run(exp).info.run_id


def test_direct_rows_equal_log_batch_for_nan_inf_duplicates_and_out_of_order_steps(store):
    client, by_mlflow, by_rows = _two_runs(store)
    rows = point_rows.open_rows(store)
    for batch in (NASTY[:6], NASTY[6:], [("loss", 0.1, 999, 6)]):  # the last is older than the latest
        write_batch(client, by_mlflow, (batch, {}))
        write_batch(client, by_rows, (batch, {}), rows)
    for table in ("metrics", "latest_metrics"):
        assert _rows(store, table, by_rows) == _rows(store, table, by_mlflow)
    history = {m.step: m.value for m in client.get_metric_history(by_rows, "loss")}
    assert math.isnan(history[1]) and history[2] == point_rows.MAX_FLOAT and history[3] == -point_rows.MAX_FLOAT
    latest = client.get_run(by_rows).data.metrics
    assert latest == {"loss": 0.25, "acc": 0.9}


def test_a_retried_batch_is_stored_once_and_tags_still_arrive(store):
    client, _, run_id = _two_runs(store)
    rows = point_rows.open_rows(store)
    batch = [("train/loss", s / 7, 1000 + s, s) for s in range(1500)]
    write_batch(client, run_id, (batch[:1000], {}), rows)  # committed; its reply "lost"
    write_batch(client, run_id, (batch, {"t": "1"}), rows)
    assert sorted(m.step for m in client.get_metric_history(run_id, "train/loss")) == list(range(1500))
    assert client.get_run(run_id).data.tags["t"] == "1"


def test_a_name_mlflow_refuses_is_refused_and_nothing_is_written(store):
    client, _, run_id = _two_runs(store)
    with pytest.raises(MlflowException):
        write_batch(client, run_id, ([("ok", 1.0, 1, 0), ("../bad", 1.0, 1, 0)], {}), point_rows.open_rows(store))
    assert _rows(store, "metrics", run_id) == []


def test_stores_without_sql_rows_keep_log_batch():
    assert point_rows.open_rows("http://127.0.0.1:5000") is None
    assert point_rows.open_rows("file:///tmp/mlruns") is None


NAMES = ["train/loss", "system/cpu_utilization_percentage", "a b:c-d.e_f", "ünïcode/ok", "../bad", "/abs", "a//b",
         "a/./b", "a/", ".", "..", "", "bad!", "tab\tname", "trailing\n", "x/../y", "..hidden", "dots..in/middle"]


@pytest.mark.parametrize("name", NAMES)
def test_the_quick_name_check_passes_only_names_mlflow_accepts(name):
    from mlflow.utils.validation import _validate_metric_name

    try:
        _validate_metric_name(name)
        accepted = True
    except MlflowException:
        accepted = False
    assert not point_rows.plain(name) or accepted  # a doubtful name goes to MLflow's own validator
    if name in ("train/loss", "system/cpu_utilization_percentage", "a b:c-d.e_f"):
        assert point_rows.plain(name)  # the everyday names skip MLflow


def test_the_writer_process_starts_without_importing_mlflow():
    """Importing MLflow costs ~1.4 s of CPU, on a core the training shares; direct rows need none of it."""
    code = "import sys, trainers.log_sinks; print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tracking.REPO)
    assert out.stdout.strip() == "[]"
