"""Long curves and the runs table's min/max from the summary pyramid (``trainers.curve_summary``).

A long curve over its steps ``[s0, s1]`` in range is read at the coarsest level ``k`` that still
has at least ``max_points`` buckets there, then ``g`` consecutive level buckets are merged into
one, so the view gets at most ``max_points`` buckets of ``g * 2**k`` steps, aligned to multiples
of that width: output bucket = ``(step >> k) // g``. A level bucket cut by the range's ends is
summarised from its raw points (at most ``2**k`` each end). Merging is exact (sum of counts, min
of mins, max of maxes, first of the first, last of the last), so every bucket equals the raw
``GROUP BY`` over the same edges. Rows read: O(max_points), whatever the curve's length.

Only fresh summaries are read: a stale or never-summarised curve is refreshed first (incremental
when its new points lie past what is summarised), and one that cannot be refreshed takes the raw
path. No level has ``max_points`` buckets (a curve spanning fewer than ``16 * max_points`` steps,
so a few thousand points at most): the raw path, which is as cheap there.
"""

from __future__ import annotations

import logging

import numpy as np
import sqlalchemy as sa

from dashboard.data import downsample as ds
from dashboard.data import engine as db
from trainers import curve_refresh
from trainers import curve_summary as cs

log = logging.getLogger(__name__)
Key = tuple[str, str]
_ROW = np.dtype(
    [
        ("b", "i8"),
        ("n", "i8"),
        ("mn", "f8"),
        ("mx", "f8"),
        ("s0", "i8"),
        ("t0", "i8"),
        ("v0", "f8"),
        ("nan0", "?"),
        ("s1", "i8"),
        ("t1", "i8"),
        ("v1", "f8"),
        ("nan1", "?"),
    ]
)
# One level's stored buckets as plain numbers (the NULL min/max of an all-NaN bucket as a flag),
# so the driver's tuples go straight into a numpy array.
LEVEL = (
    f"SELECT bucket, n, COALESCE(mn, 0), COALESCE(mx, 0), mn IS NULL, first_step, first_ts, first_value, first_nan, "
    f"last_step, last_ts, last_value, last_nan FROM {cs.TABLE} "
    "WHERE run_uuid = :run AND key = :key AND level = :level AND bucket BETWEEN :lo AND :hi ORDER BY bucket"
)
_STORED = np.dtype(_ROW.descr[:4] + [("null", "?")] + _ROW.descr[4:])
BUILD_FROM_STEP = 2**12  # the runs table summarises curves this long or longer (see min_max)
BUILD_BUDGET_S = 1.0
# Every column of the primary key's prefix bound (IN, IN, =): the index seeks each curve's top level,
# never the lower levels' rows (O(points / 16) per curve when only run_uuid was bound).
TOP_MIN_MAX = (f"SELECT run_uuid, key, MIN(mn), MAX(mx) FROM {cs.TABLE} "
               "WHERE run_uuid IN :runs AND key IN :keys AND level = :level GROUP BY run_uuid, key")


def plan(s0: int, s1: int, max_points: int) -> tuple[int, int] | None:
    """(level k, group g) for a curve over steps [s0, s1], or None when no level has enough buckets."""
    for k in sorted(cs.LEVELS, reverse=True):
        nb = (s1 >> k) - (s0 >> k) + 1
        if nb >= max_points:
            g = max(1, -(-nb // max(max_points, 1)))
            while (s1 >> k) // g - (s0 >> k) // g + 1 > max_points:
                g += 1
            return k, g
    return None


def usable(uri: str, conn: sa.Connection, keys: list[Key], budget_s: float | None = None) -> set[Key]:
    """The curves among ``keys`` whose summaries may be read now: fresh, or refreshed just now
    (within ``budget_s`` seconds of refreshing, in the order given, when one is set)."""
    if not keys or not cs.enabled():
        return set()
    try:
        ok = cs.fresh(conn, keys)
    except sa.exc.DBAPIError:  # no summary tables yet
        conn.rollback()
        ok = set()
    stale = [k for k in keys if k not in ok]
    if stale:
        try:
            ok |= curve_refresh.refresh(uri, stale, budget_s)
        except Exception as exc:  # noqa: BLE001 - e.g. a store this user may only read: the raw path
            log.warning("runboard: curve summaries unavailable (%s); reading raw points", exc)
    return ok


FIRST_STEP = f"SELECT MIN(first_step) FROM {cs.TABLE} WHERE run_uuid = :run AND key = :key AND level = :level"


def known_long(conn: sa.Connection, keys: list[Key], max_points: int) -> dict[Key, tuple[int, int]]:
    """{key: (first step, last step)} of the curves whose fresh summary says they are longer than
    ``max_points`` (a whole-curve view): their points need not be fetched to learn that."""
    if not keys or not cs.enabled():
        return {}
    try:
        st = cs.states(conn, {run for run, _ in keys}, trusted_only=True)
    except sa.exc.DBAPIError:
        conn.rollback()
        return {}
    out = {}
    for key in keys:
        built_v, v, n, max_step = st.get(key, (0, -1, 0, None))
        if built_v == v and n > max_points:
            s0 = db.rows(conn, FIRST_STEP, {"run": key[0], "key": key[1], "level": max(cs.LEVELS)})[0][0]
            out[key] = (int(s0), int(max_step))
    return out


def long_curve(
    conn: sa.Connection, q: dict, key: Key, lo: int, hi: int, s0: int, s1: int, k: int, g: int
) -> ds.Buckets:
    """One curve's buckets from level ``k`` grouped by ``g``, raw points at cut ends."""
    run, metric = key
    b0, b1 = s0 >> k, s1 >> k
    head, tail = (b0 << k) < lo, ((b1 + 1) << k) - 1 > hi
    if b0 == b1 and (head or tail):
        return _grouped(_raw_rows(conn, q, key, s0, s1, k), g)
    parts = [_raw_rows(conn, q, key, s0, ((b0 + 1) << k) - 1, k)] if head else []
    stored = np.array(
        db.driver_rows(conn, LEVEL, {"run": run, "key": metric, "level": k, "lo": b0 + head, "hi": b1 - tail}),
        dtype=_STORED,
    )
    parts.append(_as_rows(stored))
    if tail:
        parts.append(_raw_rows(conn, q, key, b1 << k, s1, k))
    return _grouped(np.concatenate(parts), g)


def _as_rows(stored: np.ndarray) -> np.ndarray:
    """Stored level rows -> ``_ROW``s, an all-NaN bucket's NULL min/max -> NaN."""
    out = np.empty(len(stored), _ROW)
    for name in _ROW.names:
        out[name] = stored[name]
    out["mn"][stored["null"]] = np.nan
    out["mx"][stored["null"]] = np.nan
    return out


def _raw_rows(conn: sa.Connection, q: dict, key: Key, a: int, b: int, k: int) -> np.ndarray:
    pts = db.driver_rows(conn, q["range"], {"run": key[0], "key": key[1], "lo": a, "hi": b})
    if not pts:
        return np.empty(0, _ROW)
    step, ts, value, nan = (np.array(c) for c in zip(*pts))
    rows = cs.level_rows(step, ts, value, nan.astype(bool), k)
    return np.array([tuple(np.nan if x is None else x for x in r) for r in rows], dtype=_ROW)


def _grouped(r: np.ndarray, g: int) -> ds.Buckets:
    gid = r["b"] // g
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    ends = np.r_[starts[1:], len(r)] - 1
    no_nan = np.zeros(len(starts), bool)
    return ds.Buckets(
        step=r["s1"][ends],
        value=ds.decode(r["v1"][ends], r["nan1"][ends]),
        first=ds.decode(r["v0"][starts], r["nan0"][starts]),
        min=ds.decode(np.fmin.reduceat(r["mn"], starts), no_nan),  # all-NaN bucket: NULL -> NaN
        max=ds.decode(np.fmax.reduceat(r["mx"], starts), no_nan),
        n=np.add.reduceat(r["n"], starts),
        timestamp=r["t1"][ends],
    )


def min_max(uri: str, conn: sa.Connection, latest: list[tuple]) -> tuple[list[tuple], set[Key]]:
    """(run, key, min, max) of each curve from its summary's top level, and the curves left to
    the caller's scan. ``latest``: (run, key, last step) per curve.

    A stale curve reaching past ``BUILD_FROM_STEP`` is refreshed here, longest first, for at most
    ``BUILD_BUDGET_S`` per read: a summary pays for itself from the second read on, but a first
    Runs page over a big store of foreign curves must not wait for thousands of builds. Curves not
    reached are scanned this time and summarised by the next reads; short curves are always
    scanned (a few thousand points cost less to scan than a summary row set to keep).
    """
    keys = [(r, k) for r, k, _ in latest]
    if not keys or not cs.enabled():
        return [], set(keys)
    try:
        ok = cs.fresh(conn, keys)
    except sa.exc.DBAPIError:
        conn.rollback()
        ok = set()
    stale = sorted(
        ((step, r, k) for r, k, step in latest if (r, k) not in ok and step is not None and step >= BUILD_FROM_STEP),
        reverse=True,
    )
    if stale:
        ok |= usable(uri, conn, [(r, k) for _, r, k in stale], BUILD_BUDGET_S)
    if not ok:
        return [], set(keys)
    bound = {"level": max(cs.LEVELS), "runs": sorted({r for r, _ in ok}), "keys": sorted({k for _, k in ok})}
    rows = db.rows(conn, TOP_MIN_MAX, bound, ("runs", "keys"))
    return [r for r in rows if (r[0], r[1]) in ok], set(keys) - ok
