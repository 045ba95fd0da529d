"""Building a curve's summary levels inside the database (issue 13): ``INSERT … SELECT … GROUP BY``.

A never-summarised curve (written by plain ``mlflow``) used to be built by fetching every point
into Python (1 M points: 4.1 s, of which 0.98 s the fetch alone). Here the finest level is grouped
from MLflow's ``metrics`` by ``step >> level`` and each coarser level from the one below it
(sum of counts, min of mins, max of maxes, the first point of its first child bucket, the last of
its last), all in the database's C code, nothing per point in Python. The rows equal
``curve_summary.level_rows``' (points ordered by (step, timestamp); an exact (step, timestamp)
duplicate is broken by the row's physical id, as arbitrary as the order the Python path reads).

Bounded transactions: the curve is built in chunks of about ``CHUNK_POINTS`` points, each its own
short write transaction, cut at multiples of the top level's width so every bucket of every level
lies in one chunk; SQLite's single write lock is never held for a whole 10 M-point curve.
While it builds, the curve's watermark row holds a negative token instead of a version, so readers
take the raw path, an incremental merge (a compare-and-set on ``built_v``) cannot touch it, and a
second build of the same curve makes the first stop (``Moved``). The build is exact only if no
point arrived meanwhile: the trigger's count ``v`` is read in the first and the last chunk, and a
difference raises ``Moved`` too (the caller then reads one snapshot instead).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from trainers import curve_summary as cs

CHUNK_POINTS = 250_000
_IDX = {"sqlite": " INDEXED BY index_metrics_run_uuid_key_step", "postgresql": ""}
_CURVE = "run_uuid = :run AND key = :key"
_IN_CHUNK = "step >= :a AND step <= :b"
# The first (last) point of a bucket's first (last) step: the earliest (latest) logged, by the row's
# id on a tie; an index lookup per bucket. SQLite joins the row by its rowid; PostgreSQL, whose
# planner scanned the table for a join on ``ctid``, takes it from a LATERAL subquery.
_ORDER = "ORDER BY timestamp {d}, {rid} {d} LIMIT 1"
_PICK = {
    "sqlite": "JOIN metrics {t} ON {t}.rowid = (SELECT rowid FROM metrics INDEXED BY index_metrics_run_uuid_key_step "
    "WHERE " + _CURVE + " AND step = g.{s} " + _ORDER.replace("{rid}", "rowid") + ")",
    "postgresql": "CROSS JOIN LATERAL (SELECT step, timestamp, value, is_nan FROM metrics WHERE "
    + _CURVE
    + " AND step = g.{s} "
    + _ORDER.replace("{rid}", "ctid")
    + ") {t}",
}
FINEST = f"""INSERT INTO {cs.TABLE} ({cs._COLS})
SELECT :run, :key, :level, g.b, g.n, g.mn, g.mx, f.step, f.timestamp, f.value, f.is_nan,
       l.step, l.timestamp, l.value, l.is_nan
FROM (SELECT step >> :level AS b, COUNT(*) AS n, MIN(CASE WHEN is_nan THEN NULL ELSE value END) AS mn,
             MAX(CASE WHEN is_nan THEN NULL ELSE value END) AS mx, MIN(step) AS s0, MAX(step) AS s1
      FROM metrics{{idx}} WHERE {_CURVE} AND {_IN_CHUNK} GROUP BY step >> :level) g
{{first}}
{{last}}"""
# A coarser level from the finer one: sums, min of mins, max of maxes, and the first point of the
# first child bucket, the last of the last. SQLite joins those children by the primary key;
# PostgreSQL takes them from ordered arrays, as its planner (no statistics on a table that was
# empty when last analysed) scanned the summary table once per bucket for that join: minutes.
_COARSE_GROUP = f"""FROM {cs.TABLE} WHERE {_CURVE} AND level = :finer AND bucket >= :ba AND bucket <= :bb
      GROUP BY bucket >> :shift"""
_ENDS = ("first_step", "first_ts", "first_value", "first_nan", "last_step", "last_ts", "last_value", "last_nan")
COARSER = {
    "sqlite": f"""INSERT INTO {cs.TABLE} ({cs._COLS})
SELECT :run, :key, :level, g.b, g.n, g.mn, g.mx, {", ".join(("f." if c < "l" else "l.") + c for c in _ENDS)}
FROM (SELECT bucket >> :shift AS b, SUM(n) AS n, MIN(mn) AS mn, MAX(mx) AS mx, MIN(bucket) AS c0, MAX(bucket) AS c1
      {_COARSE_GROUP}) g
JOIN {cs.TABLE} f ON f.run_uuid = :run AND f.key = :key AND f.level = :finer AND f.bucket = g.c0
JOIN {cs.TABLE} l ON l.run_uuid = :run AND l.key = :key AND l.level = :finer AND l.bucket = g.c1""",
    "postgresql": f"""INSERT INTO {cs.TABLE} ({cs._COLS})
SELECT CAST(:run AS VARCHAR), CAST(:key AS VARCHAR), :level, bucket >> :shift, SUM(n), MIN(mn), MAX(mx),
       {", ".join(f"(array_agg({c} ORDER BY bucket{'' if c < 'l' else ' DESC'}))[1]" for c in _ENDS)}
      {_COARSE_GROUP}""",
}
NTH_STEP = f"SELECT step FROM metrics{{idx}} WHERE {_CURVE} AND step >= :a ORDER BY step LIMIT 1 OFFSET :n"
STILL_MINE = f"UPDATE {cs.WATERMARK} SET n = n WHERE {_CURVE} AND built_v = :token"
TOTALS = f"SELECT SUM(n), MAX(last_step) FROM {cs.TABLE} WHERE {_CURVE} AND level = :level"
INT64_MAX = 2**63 - 1


class Moved(cs.Conflict):
    """Points arrived, or another build of this curve started, while it was being built."""


def build(eng: sa.Engine, run_id: str, key: str, levels=cs.LEVELS, chunk_points: int = CHUNK_POINTS) -> int:
    """(Re)build one curve's levels in chunked write transactions of ``eng`` (a
    ``curve_refresh.writer`` engine); returns its point count."""
    p = {"run": run_id, "key": key}
    token = -1 - secrets.randbelow(2**62)
    with eng.begin() as conn:
        cs.ensure(conn)
        v = cs.version(conn, run_id, key)
        conn.execute(sa.text(f"DELETE FROM {cs.TABLE} WHERE {_CURVE}"), p)
        conn.execute(sa.text(f"DELETE FROM {cs.WATERMARK} WHERE {_CURVE}"), p)
        conn.execute(
            sa.text(
                f"INSERT INTO {cs.WATERMARK} (run_uuid, key, n, max_step, built_v) "
                "VALUES (:run, :key, -1, NULL, :token)"
            ),
            {**p, "token": token},
        )
    a, top = cs.INT64_MIN, max(levels)
    while a is not None:
        with eng.begin() as conn:
            _still_mine(conn, p, token)
            a = _chunk(conn, p, a, top, sorted(levels), chunk_points)
    with eng.begin() as conn:
        _still_mine(conn, p, token)
        if cs.version(conn, run_id, key) != v:
            raise Moved(f"{run_id}/{key}: points arrived during the build")
        n, max_step = conn.execute(sa.text(TOTALS), {**p, "level": min(levels)}).one()
        conn.execute(
            sa.text(
                f"UPDATE {cs.WATERMARK} SET n = :n, max_step = :s, built_v = :v WHERE {_CURVE} AND built_v = :token"
            ),
            {**p, "n": int(n or 0), "s": max_step, "v": v, "token": token},
        )
    return int(n or 0)


def _still_mine(conn: sa.Connection, p: dict, token: int) -> None:
    if conn.execute(sa.text(STILL_MINE), {**p, "token": token}).rowcount != 1:
        raise Moved(f"{p['run']}/{p['key']}: another build of this curve started")


def _chunk(conn: sa.Connection, p: dict, a: int, top: int, levels: list[int], chunk_points: int) -> int | None:
    """Build steps [a, b] (about ``chunk_points`` points, ``b + 1`` a multiple of ``2**top``);
    returns the next chunk's first step, None after the last."""
    d = conn.dialect.name
    nth = conn.execute(sa.text(NTH_STEP.format(idx=_IDX[d])), {**p, "a": a, "n": chunk_points}).scalar()
    nxt = None if nth is None else ((int(nth) >> top) + 1) << top
    if nxt is not None and nxt > INT64_MAX:
        nxt = None
    b = INT64_MAX if nxt is None else nxt - 1
    first, last = (_PICK[d].format(t=t, s=col, d=o) for t, col, o in (("f", "s0", "ASC"), ("l", "s1", "DESC")))
    conn.execute(sa.text(FINEST.format(idx=_IDX[d], first=first, last=last)), {**p, "level": levels[0], "a": a, "b": b})
    for finer, level in zip(levels, levels[1:]):
        conn.execute(
            sa.text(COARSER[d]),
            {**p, "level": level, "finer": finer, "shift": level - finer, "ba": a >> finer, "bb": b >> finer},
        )
    return nxt
