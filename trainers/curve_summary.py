"""A multi-resolution summary ("pyramid") of each curve in MLflow's ``metrics`` table (issue 13).

Runboard's own table, in the same database, never a change to MLflow's tables. Derived data only:
``drop`` removes it and ``build_curve`` rebuilds a curve from ``metrics`` at any time.

Level ``k`` groups a curve's points into buckets of ``2**k`` steps: bucket ``b`` holds steps
``[b * 2**k, (b + 1) * 2**k)`` (``step >> k``, floor for negative steps). Each bucket keeps the
point count, the min and max of its non-NaN values (NULL when every point is NaN; ±inf as MLflow
stores it) and its first and last point by (step, timestamp), as MLflow stores them (value, is_nan).
A watermark row per curve records the count and last step the levels were built from.

Importable by the writer process: no Streamlit, no dashboard, no torch.

Status: build + per-level reads only. Freshness checks, incremental updates, the dashboard read
path, the writer hook and the bulk command are not written yet.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

LEVELS = (4, 8, 12, 16)
TABLE = "runboard_curve_summary"
WATERMARK = "runboard_curve_watermark"

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, level INTEGER NOT NULL, bucket BIGINT NOT NULL,
    n BIGINT NOT NULL, mn DOUBLE PRECISION, mx DOUBLE PRECISION,
    first_step BIGINT NOT NULL, first_ts BIGINT NOT NULL, first_value DOUBLE PRECISION NOT NULL, first_nan BOOLEAN NOT NULL,
    last_step BIGINT NOT NULL, last_ts BIGINT NOT NULL, last_value DOUBLE PRECISION NOT NULL, last_nan BOOLEAN NOT NULL,
    PRIMARY KEY (run_uuid, key, level, bucket))""",
    f"""CREATE TABLE IF NOT EXISTS {WATERMARK} (
    run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, n BIGINT NOT NULL, max_step BIGINT,
    PRIMARY KEY (run_uuid, key))""",
)
_RAW = "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = :run AND key = :key"
_COLS = "run_uuid, key, level, bucket, n, mn, mx, first_step, first_ts, first_value, first_nan, last_step, last_ts, last_value, last_nan"


def create(conn: sa.Connection) -> None:
    """Create the summary tables if missing (MLflow's tables are never touched)."""
    for ddl in _DDL:
        conn.execute(sa.text(ddl))


def drop(conn: sa.Connection) -> None:
    """Drop every summary; reads fall back to ``metrics`` until rebuilt."""
    for table in (TABLE, WATERMARK):
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))


def level_rows(steps, timestamps, values, is_nan, level: int) -> list[tuple]:
    """One curve's buckets at ``level``: (bucket, n, mn, mx, first point, last point) tuples."""
    steps, ts = np.asarray(steps, np.int64), np.asarray(timestamps, np.int64)
    values, is_nan = np.asarray(values, np.float64), np.asarray(is_nan, bool)
    if not len(steps):
        return []
    order = np.lexsort((ts, steps))
    steps, ts, values, is_nan = steps[order], ts[order], values[order], is_nan[order]
    bucket = steps >> level
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(steps)] - 1
    masked = np.where(is_nan, np.nan, values)
    rows = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        chunk = masked[s : e + 1]
        ok = chunk[~np.isnan(chunk)]
        mn, mx = (float(ok.min()), float(ok.max())) if len(ok) else (None, None)
        rows.append((int(bucket[s]), e - s + 1, mn, mx, int(steps[s]), int(ts[s]), float(values[s]), bool(is_nan[s]),
                     int(steps[e]), int(ts[e]), float(values[e]), bool(is_nan[e])))
    return rows


def build_curve(conn: sa.Connection, run_id: str, key: str, levels=LEVELS) -> int:
    """(Re)build one curve's levels from ``metrics`` in one transaction; returns its point count."""
    create(conn)
    raw = conn.execute(sa.text(_RAW), {"run": run_id, "key": key}).fetchall()
    cols = np.array([tuple(r) for r in raw], dtype=[("step", "i8"), ("ts", "i8"), ("value", "f8"), ("nan", "?")])
    p = {"run": run_id, "key": key}
    conn.execute(sa.text(f"DELETE FROM {TABLE} WHERE run_uuid = :run AND key = :key"), p)
    conn.execute(sa.text(f"DELETE FROM {WATERMARK} WHERE run_uuid = :run AND key = :key"), p)
    names = [c.strip() for c in _COLS.split(",")]
    insert = sa.text(f"INSERT INTO {TABLE} ({_COLS}) VALUES ({', '.join(':' + c for c in names)})")
    for level in levels:
        rows = level_rows(cols["step"], cols["ts"], cols["value"], cols["nan"], level)
        if rows:
            conn.execute(insert, [dict(zip(names, (run_id, key, level, *r))) for r in rows])
    max_step = int(cols["step"].max()) if len(cols) else None
    conn.execute(sa.text(f"INSERT INTO {WATERMARK} (run_uuid, key, n, max_step) VALUES (:run, :key, :n, :s)"),
                 {**p, "n": len(cols), "s": max_step})
    return len(cols)


def read_level(conn: sa.Connection, run_id: str, key: str, level: int, lo: int, hi: int) -> list[tuple]:
    """Stored buckets of one level whose bucket number is in [lo, hi], ordered by bucket."""
    sql = (f"SELECT bucket, n, mn, mx, first_step, first_ts, first_value, first_nan, last_step, last_ts, last_value, last_nan "
           f"FROM {TABLE} WHERE run_uuid = :run AND key = :key AND level = :level AND bucket BETWEEN :lo AND :hi ORDER BY bucket")
    rows = conn.execute(sa.text(sql), {"run": run_id, "key": key, "level": level, "lo": lo, "hi": hi}).fetchall()
    return [(*r[:7], bool(r[7]), *r[8:11], bool(r[11])) for r in rows]
