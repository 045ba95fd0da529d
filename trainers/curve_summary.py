"""A multi-resolution summary ("pyramid") of each curve in MLflow's ``metrics`` table (issue 13).

Runboard's own tables, in the same database; MLflow's rows and columns are never changed.
Derived data only: ``drop`` removes it all and ``refresh`` rebuilds any curve from ``metrics``.

Level ``k`` groups a curve's points into buckets of ``2**k`` steps: bucket ``b`` holds steps
``[b * 2**k, (b + 1) * 2**k)`` (``step >> k``, floor for negative steps). Each bucket keeps the
point count, the min and max of its non-NaN values (NULL when every point is NaN; ±inf as MLflow
stores it) and its first and last point by (step, timestamp), as MLflow stores them (value, is_nan).

Freshness. ``latest_metrics`` cannot tell that a point was appended at an earlier step (a resumed
run re-logging steps, another machine's late points): MLflow only moves it forward. A count of the
curve's points is exact but O(points) per check (an index scan: it would cost the runs table what
the summaries save). So one trigger on ``metrics``, the only thing attached to MLflow's tables,
counts every inserted row per curve into Runboard's ``runboard_curve_version`` (``v``); the
watermark row records the ``v`` a curve's levels were built from (``built_v``). A curve is fresh
iff ``built_v == v``: one indexed row per curve, exact for any writer of the database (plain
``mlflow``, Lightning's ``MLFlowLogger``, another machine), also for earlier-step appends. If the
trigger is ever missing (a migration that copies ``metrics``), ``ensure`` forgets every summary.

Keeping summaries current (snapshot reads, incremental merges, the writer's hook, the bulk
command's body) is ``trainers.curve_refresh``.

Importable by the writer process: no Streamlit, no dashboard, no torch.

The bulk command is ``python -m trainers.curve_summary build|drop`` (its body is
``trainers.curve_refresh.main``), the writer's hook is in ``trainers.log_sinks``; ``dashboard.data``
reads long curves and the runs table's min/max from here (``dashboard/data/summary_read.py``).
"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import sqlalchemy as sa

log = logging.getLogger(__name__)
LEVELS = (4, 6, 8, 10, 12, 14, 16)  # a factor 4 apart: a read gets at most 4 x max_points rows
TABLE = "runboard_curve_summary"
WATERMARK = "runboard_curve_watermark"
VERSION = "runboard_curve_version"
TRIGGER = "runboard_curve_bump"

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, level INTEGER NOT NULL, bucket BIGINT NOT NULL,
    n BIGINT NOT NULL, mn DOUBLE PRECISION, mx DOUBLE PRECISION,
    first_step BIGINT NOT NULL, first_ts BIGINT NOT NULL, first_value DOUBLE PRECISION NOT NULL,
    first_nan BOOLEAN NOT NULL,
    last_step BIGINT NOT NULL, last_ts BIGINT NOT NULL, last_value DOUBLE PRECISION NOT NULL, last_nan BOOLEAN NOT NULL,
    PRIMARY KEY (run_uuid, key, level, bucket))""",
    f"""CREATE TABLE IF NOT EXISTS {WATERMARK} (
    run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, n BIGINT NOT NULL, max_step BIGINT,
    built_v BIGINT NOT NULL, PRIMARY KEY (run_uuid, key))""",
    f"""CREATE TABLE IF NOT EXISTS {VERSION} (
    run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, v BIGINT NOT NULL, PRIMARY KEY (run_uuid, key))""",
)
# One upsert per inserted point, inside the writer's own transaction (rolled back with it).
_BUMP = (f"INSERT INTO {VERSION} (run_uuid, key, v) VALUES (NEW.run_uuid, NEW.key, 1) "
         f"ON CONFLICT (run_uuid, key) DO UPDATE SET v = {VERSION}.v + 1")
_TRIGGER = {
    "sqlite": [f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER INSERT ON metrics BEGIN {_BUMP}; END"],
    "postgresql": [
        f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN {_BUMP}; RETURN NULL; END $$",
        f"CREATE OR REPLACE TRIGGER {TRIGGER} AFTER INSERT ON metrics FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()",
    ],
}
_HAS_TRIGGER = {
    "sqlite": f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = '{TRIGGER}'",
    "postgresql": f"SELECT COUNT(*) FROM pg_trigger WHERE tgname = '{TRIGGER}' AND tgrelid = to_regclass('metrics')",
}
_RAW = "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = :run AND key = :key AND step > :after"
_COLS = ("run_uuid, key, level, bucket, n, mn, mx, first_step, first_ts, first_value, first_nan, "
         "last_step, last_ts, last_value, last_nan")
_NAMES = [c.strip() for c in _COLS.split(",")]
_INSERT = f"INSERT INTO {TABLE} ({_COLS}) VALUES ({', '.join(':' + c for c in _NAMES)})"
# The state of curves, (run, key) pairs of some runs: what was built, and what the trigger counted.
STATE = (f"SELECT w.run_uuid, w.key, w.built_v, COALESCE(c.v, 0), w.n, w.max_step FROM {WATERMARK} w "
         f"LEFT JOIN {VERSION} c ON c.run_uuid = w.run_uuid AND c.key = w.key WHERE w.run_uuid IN :runs")
# The same question as _HAS_TRIGGER, as a condition: a read asks it in its states query (one round trip).
_TRIGGER_HERE = {
    "sqlite": f"EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = '{TRIGGER}')",
    "postgresql": f"EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{TRIGGER}' AND tgrelid = to_regclass('metrics'))",
}
INT64_MIN = -(2**63)


def enabled() -> bool:
    """``RUNBOARD_CURVE_SUMMARIES=0`` turns summaries off: no writer hook, every read raw."""
    return os.environ.get("RUNBOARD_CURVE_SUMMARIES", "1") != "0"


def _dialect(conn: sa.Connection) -> str:
    name = conn.dialect.name
    if name not in _TRIGGER:
        raise NotImplementedError(f"curve summaries support SQLite and PostgreSQL, not {name}")
    return name


def has_trigger(conn: sa.Connection) -> bool:
    return bool(conn.execute(sa.text(_HAS_TRIGGER[_dialect(conn)])).scalar())


def ensure(conn: sa.Connection) -> None:
    """Create the tables and the trigger if missing. Tables without the trigger (it was dropped
    behind our back) may hold summaries that missed points: they are emptied first."""
    if has_trigger(conn):
        return
    for ddl in _DDL:
        conn.execute(sa.text(ddl))
    for table in (TABLE, WATERMARK):
        conn.execute(sa.text(f"DELETE FROM {table}"))
    for ddl in _TRIGGER[_dialect(conn)]:
        conn.execute(sa.text(ddl))


create = ensure


def drop(conn: sa.Connection) -> None:
    """Drop every summary and the trigger; reads fall back to ``metrics`` until rebuilt."""
    dialect = _dialect(conn)
    conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {TRIGGER}" + (" ON metrics" if dialect == "postgresql" else "")))
    if dialect == "postgresql":
        conn.execute(sa.text(f"DROP FUNCTION IF EXISTS {TRIGGER}()"))
    for table in (TABLE, WATERMARK, VERSION):
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
    mn, mx = np.fmin.reduceat(masked, starts), np.fmax.reduceat(masked, starts)  # NaN only if all NaN
    cols = (bucket[starts], ends - starts + 1, _none(mn), _none(mx), steps[starts], ts[starts], values[starts],
            is_nan[starts], steps[ends], ts[ends], values[ends], is_nan[ends])
    return list(zip(*(c if isinstance(c, list) else c.tolist() for c in cols)))


def _none(a: np.ndarray) -> list:
    return [None if v != v else v for v in a.tolist()]


def points(conn: sa.Connection, run_id: str, key: str, after: int = INT64_MIN) -> np.ndarray:
    result = conn.execute(sa.text(_RAW), {"run": run_id, "key": key, "after": after})
    rows = result.cursor.fetchall()  # the driver's tuples: SQLAlchemy's Row objects cost ~2x here
    result.close()
    return np.array(rows, dtype=[("step", "i8"), ("ts", "i8"), ("value", "f8"), ("nan", "?")])


def version(conn: sa.Connection, run_id: str, key: str) -> int:
    v = conn.execute(
        sa.text(f"SELECT v FROM {VERSION} WHERE run_uuid = :run AND key = :key"), {"run": run_id, "key": key}
    ).scalar()
    return int(v or 0)


def write_full(conn: sa.Connection, run_id: str, key: str, pts: np.ndarray, v: int, levels=LEVELS) -> None:
    p = {"run": run_id, "key": key}
    conn.execute(sa.text(f"DELETE FROM {TABLE} WHERE run_uuid = :run AND key = :key"), p)
    conn.execute(sa.text(f"DELETE FROM {WATERMARK} WHERE run_uuid = :run AND key = :key"), p)
    for level in levels:
        rows = level_rows(pts["step"], pts["ts"], pts["value"], pts["nan"], level)
        if rows:
            conn.execute(sa.text(_INSERT), [dict(zip(_NAMES, (run_id, key, level, *r))) for r in rows])
    max_step = int(pts["step"].max()) if len(pts) else None
    conn.execute(
        sa.text(f"INSERT INTO {WATERMARK} (run_uuid, key, n, max_step, built_v) VALUES (:run, :key, :n, :s, :v)"),
        {**p, "n": len(pts), "s": max_step, "v": v},
    )


class Conflict(RuntimeError):
    """Another refresh changed the curve's summary since this one read it."""


def write_append(
    conn: sa.Connection, run_id: str, key: str, pts: np.ndarray, old: tuple, v: int, levels=LEVELS
) -> None:
    """Merge points that all lie past the summarised ``max_step`` (compare-and-set on built_v)."""
    built_v, n, max_step = old
    p = {"run": run_id, "key": key}
    done = conn.execute(sa.text(f"UPDATE {WATERMARK} SET n = :n, max_step = :s, built_v = :v "
                                f"WHERE run_uuid = :run AND key = :key AND built_v = :old"),
                        {**p, "n": n + len(pts), "s": int(pts["step"].max()), "v": v, "old": built_v})
    if done.rowcount != 1:
        raise Conflict(f"{run_id}/{key}")
    for level in levels:
        rows = level_rows(pts["step"], pts["ts"], pts["value"], pts["nan"], level)
        if max_step is not None and rows and rows[0][0] == max_step >> level:
            old_row = read_level(conn, run_id, key, level, rows[0][0], rows[0][0])
            if old_row:  # the last summarised bucket goes on: its first point stays, its last moves
                rows[0] = _merge(old_row[0], rows[0])
                conn.execute(
                    sa.text(f"DELETE FROM {TABLE} WHERE run_uuid = :run AND key = :key AND level = :l AND bucket = :b"),
                    {**p, "l": level, "b": rows[0][0]},
                )
        if rows:
            conn.execute(sa.text(_INSERT), [dict(zip(_NAMES, (run_id, key, level, *r))) for r in rows])


def _merge(a: tuple, b: tuple) -> tuple:
    """Bucket row ``a`` followed by row ``b`` of the same bucket, all of b's points after a's."""
    mn = min((x for x in (a[2], b[2]) if x is not None), default=None)
    mx = max((x for x in (a[3], b[3]) if x is not None), default=None)
    return (a[0], a[1] + b[1], mn, mx, *a[4:8], *b[8:12])


def build_curve(conn: sa.Connection, run_id: str, key: str, levels=LEVELS) -> int:
    """(Re)build one curve's levels from ``metrics`` in this transaction; returns its point count."""
    ensure(conn)
    v = version(conn, run_id, key)
    pts = points(conn, run_id, key)
    write_full(conn, run_id, key, pts, v, levels)
    return len(pts)


def states(
    conn: sa.Connection, run_ids, trusted_only: bool = False
) -> dict[tuple[str, str], tuple[int, int, int, int | None]]:
    """{(run, key): (built_v, v, n, max_step)} for every summarised curve of these runs;
    ``trusted_only``: none at all unless the trigger is in place (asked in the same query)."""
    run_ids = sorted(set(run_ids))
    if not run_ids:
        return {}
    sql = STATE + (f" AND {_TRIGGER_HERE[_dialect(conn)]}" if trusted_only else "")
    stmt = sa.text(sql).bindparams(sa.bindparam("runs", expanding=True))
    return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4]), r[5]) for r in conn.execute(stmt, {"runs": run_ids})}


def fresh(conn: sa.Connection, keys) -> set[tuple[str, str]]:
    """The curves among ``keys`` whose summary holds exactly the points in ``metrics`` now."""
    keys = set(keys)
    st = states(conn, {run for run, _ in keys}, trusted_only=True)
    return {k for k in keys if k in st and st[k][0] == st[k][1]}


def read_level(conn: sa.Connection, run_id: str, key: str, level: int, lo: int, hi: int) -> list[tuple]:
    """Stored buckets of one level whose bucket number is in [lo, hi], ordered by bucket."""
    sql = (
        "SELECT bucket, n, mn, mx, first_step, first_ts, first_value, first_nan, "
        "last_step, last_ts, last_value, last_nan "
        f"FROM {TABLE} WHERE run_uuid = :run AND key = :key AND level = :level "
        "AND bucket BETWEEN :lo AND :hi ORDER BY bucket"
    )
    rows = conn.execute(sa.text(sql), {"run": run_id, "key": key, "level": level, "lo": lo, "hi": hi}).fetchall()
    return [(*r[:7], bool(r[7]), *r[8:11], bool(r[11])) for r in rows]


if __name__ == "__main__":  # the bulk command keeps this name; its body drives refreshes, so it lives there
    from trainers.curve_refresh import main

    sys.exit(main())
