"""Curves from MLflow's ``metrics`` table, reduced on the database server.

On SQLite the points come from the Arrow reader processes (``reader_process``) when they are ready:
0.13–0.26 s instead of 0.35–0.55 s for 400 curves of 1,000 points, as Python's ``sqlite3`` builds
objects per value. Otherwise, and on PostgreSQL, they are read here: one query per curve over
MLflow's ``(run_uuid, key, step)`` index, all on one short connection. Measured on SQLite, 100 runs
× 4 metrics × 1,000 steps: 0.47 s this way vs 1.0 s for one ``IN (…)`` query over every curve (the
per-row run/key strings cost more than 400 round trips). Small integer codes instead of those
strings (one query per run, ``CASE key WHEN …``, or per view, joined to a ``VALUES`` list of runs)
still read 20–25 % slower than a query per curve: the time is in the rows themselves (one Python
object per value), so each row carries only step, timestamp and the value with MLflow's NaN folded
in, and the whole view is decoded at once.

A curve with at most ``max_points`` points in range comes back whole. A longer one is grouped
into ``max_points`` equal-width step buckets by ``GROUP BY``, then each bucket's first and last
points are fetched by their steps (an index lookup each): 0.8 s for a 1,000,000-point curve,
where ``ROW_NUMBER()`` windows over the same rows took 7–8 s. That raw path is now the fallback:
a long curve is read from its summary pyramid when one level has enough buckets
(``summary_read``: O(max_points) rows whatever the curve's length, the buckets aligned to that
level's edges instead of equal widths over the curve's own first and last step).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard.data import downsample as ds
from dashboard.data import engine as db
from dashboard.data import reader_process
from dashboard.data import summary_read as pyramid
from dashboard.data.points import Points
from trainers import tracking
from trainers.metrics import EPOCH

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# ``{idx}`` pins MLflow's (run_uuid, key, step) index on SQLite. Without ANALYZE statistics (MLflow
# never runs it; a fresh store has none) SQLite preferred the primary key, which covers every
# column but is searchable by ``key`` alone: a scan of that key across all runs per lookup.
SQLITE_INDEX = " INDEXED BY index_metrics_run_uuid_key_step"

# Ordered by step only: the index delivers that order for free; ties are sorted in numpy.
# NaN comes back as NULL (None -> NaN in numpy): one column fewer to fetch than value + is_nan.
POINTS = """
SELECT step, timestamp, CASE WHEN is_nan THEN NULL ELSE value END FROM metrics{idx}
WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi
ORDER BY step LIMIT :limit
"""
# The same rows for the Arrow reader process (SQLite only): NaN as a flag column, since a column
# that starts with NULLs gets its type guessed.
ARROW_POINTS = """
SELECT ? AS curve, step, timestamp, value, is_nan FROM metrics INDEXED BY index_metrics_run_uuid_key_step
WHERE run_uuid = ? AND key = ? AND step BETWEEN ? AND ? ORDER BY step LIMIT ?
"""
ARROW_SCHEMA = [
    ("curve", "int64"),
    ("step", "int64"),
    ("timestamp", "int64"),
    ("value", "float64"),
    ("is_nan", "int64"),
]
MAX_STEP = "SELECT MAX(step) FROM metrics{idx} WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi"
# Integer arithmetic on both SQLite and PostgreSQL: (step - lo) * nb / width truncates to the
# bucket number, exactly like ``downsample.bucket_index``.
BUCKETS = """
SELECT (step - :lo) * :nb / :width AS b, COUNT(*) AS n, MIN(step) AS s0, MAX(step) AS s1,
       MIN(CASE WHEN is_nan THEN NULL ELSE value END) AS mn,
       MAX(CASE WHEN is_nan THEN NULL ELSE value END) AS mx
FROM metrics{idx} WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi
GROUP BY 1 ORDER BY 1
"""
# The buckets' first and last points, by their steps: a second query with the steps as a list,
# not a join back on the bucket rows. Without statistics (MLflow never ANALYZEs) PostgreSQL
# guessed one row per side and joined every bucket with every point of the curve: 84 s for
# 100,000 points, where a list of steps is an index lookup each.
BOUNDARY = """
SELECT step, timestamp, value, is_nan FROM metrics{idx}
WHERE run_uuid = :run AND key = :key AND step IN :steps
"""
# A step range's raw points, for the pyramid's ragged ends.
RANGE = """
SELECT step, timestamp, value, is_nan FROM metrics{idx}
WHERE run_uuid = :run AND key = :key AND step BETWEEN :lo AND :hi
"""
# First step of each epoch value: a handful of rows per run, exact for a non-decreasing epoch.
EPOCH_CHANGES = """
SELECT run_uuid, MIN(step), value FROM metrics{idx}
WHERE key = :key AND run_uuid IN :runs AND NOT is_nan AND step <= :hi
GROUP BY run_uuid, value
"""

_STATS = np.dtype([("b", "i8"), ("n", "i8"), ("s0", "i8"), ("s1", "i8"), ("mn", "f8"), ("mx", "f8")])
_POINT = np.dtype([("step", "i8"), ("ts", "i8"), ("value", "f8"), ("nan", "?")])


def curves(uri: str, run_ids, metrics, max_points: int = 1000, step_range=None) -> pd.DataFrame:
    """See ``dashboard.data.curves``."""
    lo, hi = _bounds(step_range)
    run_ids = sorted(set(run_ids))
    keys = [(run, key) for run in run_ids for key in sorted(set(metrics))]
    with db.engine(uri).connect() as conn:
        q = _queries(conn.dialect.name)
        # A whole curve whose fresh summary says it is long: no need to fetch points to learn that.
        known = pyramid.known_long(conn, keys, max_points) if (lo, hi) == (INT64_MIN, INT64_MAX) else {}
        pts = _points(uri, conn, q, [k for k in keys if k not in known], lo, hi, max_points + 1)
        long = _long(uri, conn, q, pts.long(max_points), lo, hi, max_points, known)
        changes = _epoch_changes(conn, q, run_ids, hi) if pts.lengths.any() or known else None
    found = {**pts.short(max_points), **long}
    df = ds.frame(found, {k: int(b.n.sum()) for k, b in found.items()})
    return ds.attach_epoch(df, changes) if changes is not None else df


def _points(uri: str, conn: sa.Connection, q: dict, keys: list, lo: int, hi: int, limit: int) -> Points:
    """Up to ``limit`` points of each curve: through the Arrow reader processes when they are
    ready (SQLite), else one query per curve in this process."""
    path = tracking.sqlite_path(uri)
    if path is not None and keys:
        n = len(keys)
        params = [list(range(n)), [r for r, _ in keys], [k for _, k in keys], [lo] * n, [hi] * n, [limit] * n]
        table = reader_process.fetch(path, ARROW_POINTS, params, ARROW_SCHEMA)
        if table is not None:
            return Points.from_arrow(keys, table)
    lengths, rows = [], []
    for run, key in keys:
        curve = db.driver_rows(conn, q["points"], {"run": run, "key": key, "lo": lo, "hi": hi, "limit": limit})
        lengths.append(len(curve))
        rows += curve
    return Points.from_rows(keys, lengths, rows)


def _bounds(step_range) -> tuple[int, int]:
    if step_range is None:
        return INT64_MIN, INT64_MAX
    lo, hi = step_range
    return (INT64_MIN if lo is None else int(lo)), (INT64_MAX if hi is None else int(hi))


@cache
def _queries(dialect: str) -> dict[str, str]:
    idx = SQLITE_INDEX if dialect == "sqlite" else ""
    return {
        name: sql.format(idx=idx)
        for name, sql in (
            ("points", POINTS),
            ("max_step", MAX_STEP),
            ("buckets", BUCKETS),
            ("boundary", BOUNDARY),
            ("epochs", EPOCH_CHANGES),
            ("range", RANGE),
        )
    }


def _long(uri: str, conn: sa.Connection, q: dict, items: list, lo: int, hi: int, max_points: int, known: dict) -> dict:
    """Each long curve's buckets: from its fresh summary when a level has enough buckets, else raw.
    ``known``: {key: (first, last step)} of long curves already known fresh."""
    plans = {key: (s0, s1, pyramid.plan(s0, s1, max_points)) for key, (s0, s1) in known.items()}
    for key, s0 in items:
        s1 = db.driver_rows(conn, q["max_step"], {"run": key[0], "key": key[1], "lo": lo, "hi": hi})[0][0]
        plans[key] = (s0, s1, pyramid.plan(s0, s1, max_points))
    ok = set(known) | pyramid.usable(
        uri, conn, [k for k, (_, _, p) in plans.items() if p is not None and k not in known]
    )
    out = {}
    for key, (s0, s1, p) in plans.items():
        if key in ok:
            out[key] = pyramid.long_curve(conn, q, key, lo, hi, s0, s1, *p)
        else:
            out[key] = _buckets(conn, q, {"run": key[0], "key": key[1], "lo": lo, "hi": hi}, s0, max_points)
    return out


def _buckets(conn: sa.Connection, q: dict, p: dict, first_step: int, max_points: int) -> ds.Buckets:
    """A long curve's ``max_points`` equal-width step buckets over its steps in [lo, hi]."""
    last_step = db.driver_rows(conn, q["max_step"], p)[0][0]
    width = last_step - first_step + 1
    stats = np.array(db.driver_rows(conn, q["buckets"], {**p, "lo": first_step, "hi": last_step, "nb": max_points,
                                                         "width": width}), dtype=_STATS)
    steps = np.union1d(stats["s0"], stats["s1"]).tolist()
    points = np.array(db.rows(conn, q["boundary"], {**p, "steps": steps}, expanding=("steps",)), dtype=_POINT)
    # Each boundary point's bucket, by the same integer arithmetic as the SQL (steps >= lo here).
    b = (points["step"] - first_step) * max_points // width
    return _first_last(stats, points, np.searchsorted(stats["b"], b))


def _first_last(stats: np.ndarray, points: np.ndarray, row: np.ndarray) -> ds.Buckets:
    """Bucket rows (sorted by bucket) and their boundary points -> one entry per bucket.

    A bucket's points at its min and max step (several if a step was logged twice): the first by
    (step, timestamp) is the bucket's first, the last its last.
    """
    order = np.lexsort((points["ts"], points["step"], row))
    points, row = points[order], row[order]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    ends = np.r_[starts[1:], len(row)] - 1
    value = ds.decode(points["value"], points["nan"])
    stats = stats[row[starts]]
    no_nan = np.zeros(len(stats), bool)
    return ds.Buckets(
        step=points["step"][ends],
        value=value[ends],
        first=value[starts],
        min=ds.decode(stats["mn"], no_nan),  # NULL (all-NaN bucket) -> NaN
        max=ds.decode(stats["mx"], no_nan),
        n=stats["n"],
        timestamp=points["ts"][ends],
    )


def _epoch_changes(conn: sa.Connection, q: dict, run_ids: list[str], hi: int) -> pd.DataFrame | None:
    """Each run's epoch change points; None when no run logs an epoch (no frame to build: ~10 ms
    of a 30-curve pyramid read's ~60)."""
    rows = db.rows(conn, q["epochs"], {"key": EPOCH, "runs": run_ids, "hi": hi}, expanding=("runs",))
    if not rows:
        return None
    df = pd.DataFrame(rows, columns=["run_id", "step", "epoch"])
    return df.astype({"step": np.int64, "epoch": np.float64})
