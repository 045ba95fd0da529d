"""The writer process's points, written as MLflow's own rows in one short transaction.

MLflow's ``log_batch`` builds an ORM object per point and reads the run and its latest metrics
back: ~0.15 ms of Python per point, plus the merge on a retried batch. On a 2-core machine the
writer process shares a core with the training loop, so that cost shows up as training overhead
(four points per step ≈ a third of a core). On SQLite and PostgreSQL the same rows go in with two
``executemany`` statements:

- ``metrics``: ``ON CONFLICT DO NOTHING`` on MLflow's primary key, so a retried batch whose
  commit did land is stored once (what MLflow's IntegrityError path does, in one statement);
- ``latest_metrics``: an upsert that keeps the greater ``(step, timestamp, value)``, MLflow's rule.

Values are stored as MLflow stores them (NaN as 0 with ``is_nan``, ±inf as ±max float), and each
metric name is checked once with MLflow's own validator, so a name MLflow refuses is refused here
too. Any other store (an ``mlflow server``, another database) keeps ``log_batch``, and so does
``RUNBOARD_POINT_ROWS=0`` (the escape hatch should a future MLflow change these two tables).
"""

from __future__ import annotations

import math
import os
import posixpath
import re

import sqlalchemy as sa

from trainers import tracking
from trainers.curve_refresh import writer  # one engine per process, shared with the summaries

MAX_FLOAT = 1.7976931348623157e308
PLAIN_NAME = re.compile(r"[/\w.\- :]+")  # MLflow's own rule for metric names (POSIX), non-empty
INSERT_POINTS = sa.text(
    "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
    "VALUES (:key, :value, :timestamp, :step, :is_nan, :run_uuid) ON CONFLICT DO NOTHING")
UPSERT_LATEST = sa.text(
    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
    "VALUES (:key, :value, :timestamp, :step, :is_nan, :run_uuid) "
    "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, "
    "step = excluded.step, is_nan = excluded.is_nan "
    "WHERE (excluded.step, excluded.timestamp, excluded.value) "
    "> (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)")


def open_rows(uri: str) -> PointRows | None:
    """Direct rows for a SQLite or PostgreSQL store; None where ``log_batch`` must do it."""
    if os.environ.get("RUNBOARD_POINT_ROWS", "1") == "0":
        return None
    if not tracking.is_database(uri) or not uri.startswith(("sqlite", "postgresql")):
        return None
    return PointRows(writer(uri))


def stored(value: float) -> tuple[float, bool]:
    """(value, is_nan) as MLflow's SQL store keeps a metric value."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (MAX_FLOAT if value > 0 else -MAX_FLOAT), False
    return value, False


class PointRows:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._valid: set[str] = set()

    def write(self, run_id: str, points: list[tuple[str, float, int, int]]) -> None:
        """Store ``(key, value, timestamp ms, step)`` points of one run, each once."""
        rows, latest = [], {}
        for key, value, ts, step in dict.fromkeys(points):  # duplicates in a batch go in once
            self._check(key)
            v, nan = stored(float(value))
            row = {"key": key, "value": v, "timestamp": int(ts), "step": int(step), "is_nan": nan, "run_uuid": run_id}
            rows.append(row)
            best = latest.get(key)
            if best is None or (row["step"], row["timestamp"], v) > (best["step"], best["timestamp"], best["value"]):
                latest[key] = row
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(INSERT_POINTS, rows)
            conn.execute(UPSERT_LATEST, list(latest.values()))

    def _check(self, key: str) -> None:
        if key not in self._valid:
            if not plain(key):  # MLflow's validator says why; importing MLflow only for a doubtful name
                from mlflow.utils.validation import _validate_metric_name

                _validate_metric_name(key)
            self._valid.add(key)


def plain(name: str) -> bool:
    """A metric name MLflow accepts for sure (its characters, and a path that resolves to itself),
    checked without importing MLflow: the writer process starts without it (~1.4 s of CPU)."""
    norm = posixpath.normpath(name)
    return bool(PLAIN_NAME.fullmatch(name)) and norm == name and norm != "." and not norm.startswith(("..", "/"))
