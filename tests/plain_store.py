"""A store written the way other people's code writes one: plain ``mlflow`` / ``MlflowClient``.

``from plain_store import write_plain_store`` in any test. The read side is only trusted once
it reads stores it did not write itself: nested runs, NaN/inf, out-of-order and duplicate steps,
runs without metrics, deleted runs, HTML in names.
"""

from __future__ import annotations

import math
import time

import numpy as np
import sqlalchemy as sa
from mlflow.entities import Metric

from trainers import tracking

HTML = "<script>alert(1)</script><b>x</b>"
LONG_POINTS = 100_000
NAN_INF_VALUES = [1.0, math.nan, math.inf, -math.inf, 2.0]  # at steps 0..4
# (step, value) in logging order: out of order, step 3 logged twice (3.0 first, then 3.5).
UNORDERED = [(5, 5.0), (1, 1.0), (3, 3.0), (3, 3.5), (0, 0.0)]


def write_plain_store(uri: str | None = None, experiment: str = "plain") -> dict[str, str]:
    """Write the experiment; return its id and the run ids by role.

    Roles: parent, child_1, child_2, nan_inf, unordered, no_metrics, deleted, html, long.
    """
    uri = uri or tracking.tracking_uri()
    c = tracking.client(uri)
    eid = tracking.experiment_id(experiment, uri)
    ids = {"experiment_id": eid}
    # MlflowClient only: the fluent API's set_tracking_uri would rewrite MLFLOW_TRACKING_URI for
    # the whole process. Nesting is the same tag ``mlflow.start_run(nested=True)`` writes.
    ids["parent"] = _run(c, eid, "parent", [("val/loss", 0.5, 0)], params={"lr": "0.1"})
    for i in (1, 2):
        tags = {"mlflow.parentRunId": ids["parent"]}
        ids[f"child_{i}"] = _run(c, eid, f"child-{i}", [("val/loss", 1.0 / i, 0)], {"lr": str(0.1 / i)}, tags)
    ids["nan_inf"] = _run(c, eid, "nan-inf", [("val/loss", v, s) for s, v in enumerate(NAN_INF_VALUES)])
    ids["unordered"] = _run(c, eid, "unordered", [("train/loss", v, s) for s, v in UNORDERED])
    ids["no_metrics"] = _run(c, eid, "no-metrics", [], params={"lr": "0.3"})
    ids["deleted"] = _run(c, eid, "deleted", [("val/loss", 9.0, 0)])
    c.delete_run(ids["deleted"])
    ids["html"] = _run(c, eid, HTML, [("val/loss", 1.0, 0)], params={"note": HTML}, tags={"note": HTML})
    # 100k points through log_batch would take ~20 s per store (MLflow's ORM, see BASELINES.md);
    # the rows go in by SQL instead, for a run MLflow created. ``log_batch_curve`` is the slow way.
    ids["long"] = _run(c, eid, "long", [])
    steps = np.arange(LONG_POINTS)
    write_metric_rows(uri, ids["long"], "train/loss", steps, np.sin(steps / 1000.0))
    return ids


def finished_runs(uri: str, experiment: str, n: int = 2, points: int = 30) -> list[str]:
    """``n`` finished runs named ``<experiment>-<i>``, each with a ``train/loss`` curve of
    ``points`` steps (run i's curve lies 0.1 * i above run 0's)."""
    client, ids, t0 = tracking.client(uri), [], int(time.time() * 1000)
    eid = tracking.experiment_id(experiment, uri)
    for i in range(n):
        rid = client.create_run(eid, run_name=f"{experiment}-{i}").info.run_id
        client.log_batch(rid, metrics=[Metric("train/loss", 1.0 / (s + 1) + 0.1 * i, t0 + s, s) for s in range(points)])
        client.set_terminated(rid)
        ids.append(rid)
    return ids


def _run(c, eid: str, name: str, points, params=None, tags=None) -> str:
    """A finished run; points are (key, value, step), logged one by one in that order."""
    run_id = c.create_run(eid, run_name=name, tags=tags or {}).info.run_id
    for key, value in (params or {}).items():
        c.log_param(run_id, key, value)
    t0 = int(time.time() * 1000)
    for i, (key, value, step) in enumerate(points):
        c.log_metric(run_id, key, value, timestamp=t0 + i, step=step)  # distinct, increasing times
    c.set_terminated(run_id)
    return run_id


def log_batch_curve(uri: str, run_id: str, key: str, steps, values) -> None:
    """The plain way to log a long curve (~6k points/s through MLflow's ORM): chunks of 1,000."""
    c, t0 = tracking.client(uri), int(time.time() * 1000)
    metrics = [Metric(key, float(v), t0 + i, int(s)) for i, (s, v) in enumerate(zip(steps, values))]
    for i in range(0, len(metrics), 1000):
        c.log_batch(run_id, metrics=metrics[i : i + 1000])


def write_metric_rows(uri: str, run_id: str, key: str, steps, values, timestamps=None) -> None:
    """Bulk-insert one curve straight into MLflow's ``metrics`` table, then fix ``latest_metrics``.

    For curves of 10^5–10^6 points only: MLflow's ORM writes ~6k points/s (a 1M-point curve
    would take minutes), stdlib executemany / PostgreSQL COPY take seconds. Values use MLflow's
    encoding (NaN -> 0 with is_nan, ±inf -> ±max float). The run must exist (create it through
    MlflowClient so every other table is MLflow's own doing).
    """
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if timestamps is None:
        timestamps = int(time.time() * 1000) + np.arange(len(steps), dtype=np.int64)
    is_nan = np.isnan(values)
    stored = np.clip(np.where(is_nan, 0.0, values), -np.finfo(np.float64).max, np.finfo(np.float64).max)
    rows = list(
        zip(
            [key] * len(steps),
            stored.tolist(),
            np.asarray(timestamps).tolist(),
            steps.tolist(),
            is_nan.tolist(),
            [run_id] * len(steps),
        )
    )
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        raw = eng.raw_connection()
        try:
            _insert(raw, eng.dialect.name, rows)
            raw.commit()
        finally:
            raw.close()
        fix_latest(eng, run_id, key)
    finally:
        eng.dispose()


def _insert(raw, dialect: str, rows: list[tuple]) -> None:
    cols = "key, value, timestamp, step, is_nan, run_uuid"
    cur = raw.cursor()
    if dialect == "postgresql":
        with cur.copy(f"COPY metrics ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cur.executemany(f"INSERT INTO metrics ({cols}) VALUES (?, ?, ?, ?, ?, ?)", rows)
    cur.close()


def fix_latest(eng: sa.Engine, run_id: str, key: str) -> None:
    """``latest_metrics`` holds the point with the highest (step, timestamp), as MLflow keeps it."""
    params = {"r": run_id, "k": key}
    with eng.begin() as conn:
        conn.execute(sa.text("DELETE FROM latest_metrics WHERE run_uuid = :r AND key = :k"), params)
        conn.execute(
            sa.text(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "SELECT key, value, timestamp, step, is_nan, run_uuid FROM metrics "
                "WHERE run_uuid = :r AND key = :k ORDER BY step DESC, timestamp DESC LIMIT 1"
            ),
            params,
        )
