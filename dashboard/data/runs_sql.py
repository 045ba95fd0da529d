"""Experiments and runs straight from MLflow's tables: one query per table per view.

Every query shares one scope (active runs of active experiments, optionally some experiments
or one run), so params, tags and metrics never include a deleted run. Each metric's min and max
come from its curve summary's top level (``summary_read.min_max``: a few rows per curve, refreshed
first if stale); ``MIN_MAX``, a scan of every point in scope, only when no summary can be used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data import downsample as ds
from dashboard.data import engine as db
from dashboard.data import frames
from dashboard.data import summary_read as pyramid
from trainers.run_tags import PARENT as PARENT_TAG

EXPERIMENTS = """
SELECT e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location, e.creation_time,
       COUNT(r.run_uuid) AS n_runs
FROM experiments e
LEFT JOIN runs r ON r.experiment_id = e.experiment_id AND r.lifecycle_stage = 'active'
WHERE e.lifecycle_stage = 'active'
GROUP BY e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location, e.creation_time
ORDER BY e.experiment_id
"""
EXPERIMENT_TAGS = """
SELECT e.experiment_id, e.name, t.key, t.value
FROM experiments e JOIN experiment_tags t ON t.experiment_id = e.experiment_id
WHERE e.lifecycle_stage = 'active' AND substr(t.key, 1, :n) = :prefix
ORDER BY e.experiment_id, t.key
"""
# Each view selects from runs ``r`` of the scope, then its child table ``x`` by run_uuid.
# CROSS JOIN pins that order on SQLite: without ANALYZE statistics its planner otherwise scanned
# every metric in the store and joined runs afterwards.
RUNS = "SELECT r.run_uuid, r.experiment_id, r.name, r.status, r.start_time, r.end_time, r.user_id, r.artifact_uri"
PARAMS = ("SELECT x.run_uuid, x.key, x.value", "params")
TAGS = ("SELECT x.run_uuid, x.key, x.value", "tags")
LATEST = ("SELECT x.run_uuid, x.key, x.value, x.is_nan, x.step, x.timestamp", "latest_metrics")
MIN_MAX = (
    "SELECT x.run_uuid, x.key, MIN(CASE WHEN x.is_nan THEN NULL ELSE x.value END), "
    "MAX(CASE WHEN x.is_nan THEN NULL ELSE x.value END)",
    "metrics",
)
CHILD_OF = "r.run_uuid IN (SELECT p.run_uuid FROM tags p WHERE p.key = :parent_key AND p.value = :parent)"
METRIC_KEYS = "SELECT DISTINCT key FROM latest_metrics WHERE run_uuid IN :runs ORDER BY key"


class Scope:
    """The WHERE clause every query of one view shares (fixed SQL text, bound values)."""

    def __init__(self, experiment_ids=None, run_id: str | None = None, parent: str | None = None):
        self.where = ["r.lifecycle_stage = 'active'", "e.lifecycle_stage = 'active'"]
        self.params: dict = {}
        self.expanding: tuple[str, ...] = ()
        if experiment_ids is not None:
            self.where.append("r.experiment_id IN :eids")
            self.params["eids"] = _int_ids(experiment_ids)
            self.expanding = ("eids",)
        if run_id is not None:
            self.where.append("r.run_uuid = :run")
            self.params["run"] = run_id
        if parent is not None:  # nested runs (a sweep's trials): by MLflow's parent tag
            self.where.append(CHILD_OF)
            self.params.update(parent_key=PARENT_TAG, parent=parent)

    def sql(self, select: str, child: str | None = None, tail: str = "") -> str:
        """``select`` names runs ``r``, experiments ``e`` and the child table ``x``."""
        sql = f"{select} FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id"
        where = list(self.where)
        if child is not None:
            sql += f" CROSS JOIN {child} x"
            where.append("x.run_uuid = r.run_uuid")
        return f"{sql} WHERE {' AND '.join(where)} {tail}"

    def fetch(self, conn, select: str, child: str | None = None, tail: str = "") -> list[tuple]:
        return db.rows(conn, self.sql(select, child, tail), self.params, self.expanding)


def _int_ids(ids) -> list[int]:
    """Experiment ids as the integers the table stores; a non-numeric id matches nothing."""
    ids = [ids] if isinstance(ids, (str, int)) else list(ids)
    return [int(i) for i in ids if str(i).strip().lstrip("-").isdigit()]


def experiments(uri: str) -> pd.DataFrame:
    rows = db.fetch(uri, EXPERIMENTS)
    df = pd.DataFrame(rows, columns=frames.EXPERIMENT_COLUMNS)
    return frames.experiments_frame(df)


def experiment_tags(uri: str, prefix: str) -> list[tuple[str, str, str, str]]:
    """(experiment_id, name, key, value) of the active experiments' tags whose key starts with ``prefix``."""
    rows = db.fetch(uri, EXPERIMENT_TAGS, {"prefix": prefix, "n": len(prefix)})
    return [(str(e), name, key, value) for e, name, key, value in rows]


def runs(uri: str, experiment_ids=None) -> pd.DataFrame:
    return _read(uri, Scope(experiment_ids))[0]


def runs_and_marks(uri: str, experiment_ids=None) -> tuple[pd.DataFrame, dict[tuple[str, str], tuple[int, int]]]:
    """``runs()`` and each curve's (last step, its timestamp) from the same read of
    ``latest_metrics``: the watermarks the health cache checks, without reading them twice."""
    df, latest = _read(uri, Scope(experiment_ids))
    marks = {
        (r, k): (int(s), int(t))
        for r, k, s, t in zip(latest["run_id"], latest["key"], latest["step"], latest["timestamp"])
    }
    return df, marks


def run(uri: str, run_id: str) -> dict | None:
    df, latest = _read(uri, Scope(run_id=run_id), details=True)
    if df.empty:
        return None
    return frames.run_dict(df.iloc[0], latest)


def children(uri: str, parent_run_id: str) -> pd.DataFrame:
    return _read(uri, Scope(parent=parent_run_id))[0]


def metric_keys(uri: str, run_ids) -> list[str]:
    run_ids = sorted(set(run_ids))
    if not run_ids:
        return []
    return [r[0] for r in db.fetch(uri, METRIC_KEYS, {"runs": run_ids}, ("runs",))]


def _read(uri: str, scope: Scope, details: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs frame and its latest_metrics rows (decoded)."""
    with db.engine(uri).connect() as conn:
        base = scope.fetch(conn, RUNS, tail="ORDER BY r.start_time DESC, r.run_uuid")
        params = scope.fetch(conn, *PARAMS)
        tags = scope.fetch(conn, *TAGS)
        latest = scope.fetch(conn, *LATEST)
        min_max = _min_max(uri, conn, scope, latest)
    latest = _latest(latest)
    return frames.runs_frame(base, params, tags, latest, min_max, keep_artifact_uri=details), latest


def _min_max(uri: str, conn, scope: Scope, latest: list[tuple]) -> list[tuple]:
    """Per curve (run, key, min, max): from the summaries, scanning only the runs of curves left over."""
    rows, left = pyramid.min_max(uri, conn, [(r[0], r[1], r[4]) for r in latest])
    if left:
        runs = sorted({run for run, _ in left})
        sql = scope.sql(MIN_MAX[0], MIN_MAX[1], tail="AND x.run_uuid IN :left_runs GROUP BY x.run_uuid, x.key")
        scanned = db.rows(conn, sql, {**scope.params, "left_runs": runs}, (*scope.expanding, "left_runs"))
        rows += [r for r in scanned if (r[0], r[1]) in left]
    return rows


def _latest(rows: list[tuple]) -> pd.DataFrame:
    """latest_metrics rows with MLflow's NaN/inf encoding undone (text columns as plain objects:
    this frame only feeds the runs frame and ``run()``, and Arrow strings cost more than the query)."""
    run_id, key, value, is_nan, step, ts = (list(c) for c in zip(*rows)) if rows else ([], [], [], [], [], [])
    decoded = ds.decode(np.array(value, dtype=np.float64), np.array(is_nan, dtype=bool))
    return pd.DataFrame(
        {
            "run_id": pd.Series(run_id, dtype=object),
            "key": pd.Series(key, dtype=object),
            "value": decoded,
            "step": pd.Series(step),
            "timestamp": pd.Series(ts),
        }
    )
