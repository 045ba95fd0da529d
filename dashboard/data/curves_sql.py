"""Curves from MLflow's ``metrics`` table, reduced on the database server.

One query per curve over MLflow's ``(run_uuid, key, step)`` index, all on one short connection.
Measured on SQLite, 100 runs × 4 metrics × 1,000 steps: 0.47 s this way vs 1.0 s for one
``IN (…)`` query over every curve (the per-row run/key strings cost more than 400 round trips).

A curve with at most ``max_points`` points in range comes back whole. A longer one is grouped
into ``max_points`` equal-width step buckets by ``GROUP BY``, then each bucket's first and last
points are fetched by joining back on its min and max step (an index lookup each): 0.8 s for a
1,000,000-point curve, where ``ROW_NUMBER()`` windows over the same rows took 7–8 s.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard.data import downsample as ds
from dashboard.data import engine as db
from trainers.metrics import EPOCH

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# ``{idx}`` pins MLflow's (run_uuid, key, step) index on SQLite. Without ANALYZE statistics (MLflow
# never runs it; a fresh store has none) SQLite preferred the primary key, which covers every
# column but is searchable by ``key`` alone: a scan of that key across all runs per lookup.
SQLITE_INDEX = " INDEXED BY index_metrics_run_uuid_key_step"

# Ordered by step only: the index delivers that order for free; ties are sorted in numpy.
POINTS = """
SELECT step, timestamp, value, is_nan FROM metrics{idx}
WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi
ORDER BY step LIMIT :limit
"""
MAX_STEP = "SELECT MAX(step) FROM metrics{idx} WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi"
# Integer arithmetic on both SQLite and PostgreSQL: (step - lo) * nb / width truncates to the
# bucket number, exactly like ``downsample.bucket_index``.
BUCKETS = """
WITH g AS (
  SELECT (step - :lo) * :nb / :width AS b, COUNT(*) AS n, MIN(step) AS s0, MAX(step) AS s1,
         MIN(CASE WHEN is_nan THEN NULL ELSE value END) AS mn,
         MAX(CASE WHEN is_nan THEN NULL ELSE value END) AS mx
  FROM metrics{idx} WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi
  GROUP BY 1)
SELECT g.b, g.n, g.mn, g.mx, m.step, m.timestamp, m.value, m.is_nan
FROM g CROSS JOIN metrics m{idx}
WHERE m.run_uuid = :run AND m.key = :key AND m.step IN (g.s0, g.s1)
"""
# First step of each epoch value: a handful of rows per run, exact for a non-decreasing epoch.
EPOCH_CHANGES = """
SELECT run_uuid, MIN(step), value FROM metrics{idx}
WHERE key = :key AND run_uuid IN :runs AND NOT is_nan AND step <= :hi
GROUP BY run_uuid, value
"""

_BUCKET = np.dtype([("b", "i8"), ("n", "i8"), ("mn", "f8"), ("mx", "f8"), ("step", "i8"), ("ts", "i8"), ("value", "f8"), ("nan", "?")])


def curves(uri: str, run_ids, metrics, max_points: int = 1000, step_range=None) -> pd.DataFrame:
    """See ``dashboard.data.curves``."""
    lo, hi = _bounds(step_range)
    run_ids, metrics = sorted(set(run_ids)), sorted(set(metrics))
    found, totals = {}, {}
    with db.engine(uri).connect() as conn:
        q = _queries(conn.dialect.name)
        for run in run_ids:
            for key in metrics:
                buckets, total = _curve(conn, q, run, key, lo, hi, max_points)
                if total:
                    found[(run, key)], totals[(run, key)] = buckets, total
        changes = _epoch_changes(conn, q, run_ids, hi) if found else None
    df = ds.frame(found, totals)
    return ds.attach_epoch(df, changes) if changes is not None else df


def _bounds(step_range) -> tuple[int, int]:
    if step_range is None:
        return INT64_MIN, INT64_MAX
    lo, hi = step_range
    return (INT64_MIN if lo is None else int(lo)), (INT64_MAX if hi is None else int(hi))


@lru_cache(maxsize=None)
def _queries(dialect: str) -> dict[str, str]:
    idx = SQLITE_INDEX if dialect == "sqlite" else ""
    return {name: sql.format(idx=idx) for name, sql in (("points", POINTS), ("max_step", MAX_STEP), ("buckets", BUCKETS), ("epochs", EPOCH_CHANGES))}


def _curve(conn: sa.Connection, q: dict, run: str, key: str, lo: int, hi: int, max_points: int) -> tuple[ds.Buckets, int]:
    """One curve's buckets and its point count within [lo, hi]."""
    p = {"run": run, "key": key, "lo": lo, "hi": hi}
    pts = _points(db.driver_rows(conn, q["points"], {**p, "limit": max_points + 1}))  # (n, 4)
    if len(pts) <= max_points:
        step, ts = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
        return ds.full_detail(step, ts, ds.decode(pts[:, 2], pts[:, 3] != 0)), len(pts)
    first_step = int(pts[0, 0])
    last_step = db.driver_rows(conn, q["max_step"], p)[0][0]
    width = last_step - first_step + 1
    rows = db.rows(conn, q["buckets"], {**p, "lo": first_step, "hi": last_step, "nb": max_points, "width": width})
    buckets = _first_last(np.array(rows, dtype=_BUCKET))
    return buckets, int(buckets.n.sum())


def _points(rows: list[tuple]) -> np.ndarray:
    """(step, timestamp, value, is_nan) rows as one float64 array: twice as fast as a record
    array. Exact: steps and ms timestamps stay far below 2**53."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=4 * len(rows))
    return flat.reshape(len(rows), 4)


def _first_last(r: np.ndarray) -> ds.Buckets:
    """Rows of (bucket, n, min, max, boundary point) -> one entry per bucket.

    Each bucket joined back its points at its min and max step (several if a step was logged
    twice); the first point by (step, timestamp) is the bucket's first, the last its last.
    """
    r = r[np.lexsort((r["ts"], r["step"], r["b"]))]
    starts = np.flatnonzero(np.r_[True, r["b"][1:] != r["b"][:-1]])
    ends = np.r_[starts[1:], len(r)] - 1
    value = ds.decode(r["value"], r["nan"])
    return ds.Buckets(
        step=r["step"][ends],
        value=value[ends],
        first=value[starts],
        min=ds.decode(r["mn"][starts], np.zeros(len(starts), bool)),  # NULL (all-NaN) -> NaN
        max=ds.decode(r["mx"][starts], np.zeros(len(starts), bool)),
        n=r["n"][starts],
        timestamp=r["ts"][ends],
    )


def _epoch_changes(conn: sa.Connection, q: dict, run_ids: list[str], hi: int) -> pd.DataFrame:
    rows = db.rows(conn, q["epochs"], {"key": EPOCH, "runs": run_ids, "hi": hi}, expanding=("runs",))
    df = pd.DataFrame(rows, columns=["run_id", "step", "epoch"])
    return df.astype({"step": np.int64, "epoch": np.float64})
