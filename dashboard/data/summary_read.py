"""Long curves and the runs table's min/max from the summary pyramid (``trainers.curve_summary``).

A long curve over its steps ``[s0, s1]`` in range is read at the coarsest level ``k`` that still
has at least ``max_points`` buckets there, then ``g`` consecutive level buckets are merged into
one, so the view gets at most ``max_points`` buckets of ``g * 2**k`` steps, aligned to multiples
of that width: output bucket = ``(step >> k) // g``. The rows come from the stored level with
those edges that has the fewest (``source``: a coarser level when its width divides ``g * 2**k``).
A level bucket cut by the range's ends is summarised from its raw points (at most one level
bucket's each end). Merging is exact (sum of counts, min of mins, max of maxes, first of the
first, last of the last), so every bucket equals the raw ``GROUP BY`` over the same edges. Rows
read: O(max_points), whatever the curve's length.

Only fresh summaries are read: a stale or never-summarised curve is refreshed first (incremental
when its new points lie past what is summarised), and one that cannot be refreshed takes the raw
path. No level has ``max_points`` buckets (a curve spanning fewer than ``16 * max_points`` steps,
so a few thousand points at most): the raw path, which is as cheap there.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import sqlalchemy as sa

from dashboard.data import downsample as ds
from dashboard.data import engine as db
from trainers import curve_refresh
from trainers import curve_summary as cs

log = logging.getLogger(__name__)
Key = tuple[str, str]
# A level's buckets as the view needs them, 7 numbers a row: count, min, max, first value, last
# step, last ms, last value; MLflow's NaN flags and an all-NaN bucket's NULL min/max folded into
# NULL (None -> NaN in numpy). A row's bucket is its last step's. The interior buckets' first step
# and time are never shown, so they are not fetched: Python's driver builds an object per value,
# and the values are the read's cost (13 columns into a structured array: 1.6x the CPU for the same rows).
LEVEL = (
    "SELECT n, mn, mx, CASE WHEN first_nan THEN NULL ELSE first_value END, last_step, last_ts, "
    f"CASE WHEN last_nan THEN NULL ELSE last_value END FROM {cs.TABLE} "
    "WHERE run_uuid = :run AND key = :key AND level = :level AND bucket BETWEEN :lo AND :hi ORDER BY bucket"
)
N, MN, MX, V0, S1, T1, V1 = range(7)  # LEVEL's columns
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


FIRST_STEPS = (f"SELECT run_uuid, key, MIN(first_step) FROM {cs.TABLE} "
               "WHERE run_uuid IN :runs AND key IN :keys AND level = :level GROUP BY run_uuid, key")


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
    long = {key: st[key][3] for key in keys if key in st and st[key][0] == st[key][1] and st[key][2] > max_points}
    if not long:
        return {}
    # Every first step in one query (the top level's first bucket), not a round trip per curve.
    bound = {"level": max(cs.LEVELS), "runs": sorted({r for r, _ in long}), "keys": sorted({k for _, k in long})}
    first = {(r, k): s0 for r, k, s0 in db.rows(conn, FIRST_STEPS, bound, ("runs", "keys"))}
    return {key: (int(first[key]), int(s1)) for key, s1 in long.items() if key in first}


def source(s0: int, s1: int, lo: int, hi: int, k: int, g: int) -> tuple[int, int]:
    """The stored level to read for ``plan``'s buckets of ``g * 2**k`` steps, and its group.

    Any level ``k' >= k`` whose width divides ``g * 2**k`` has the same edges, (step >> k') //
    (g >> (k' - k)) == (step >> k) // g; the one with the fewest rows to fetch wins, a bucket cut
    by the range's ends counted as its ``2**k'`` raw points at most. E.g. 1 M steps in 1,000
    buckets: ``plan`` says level 8 (3,907 buckets) by 4, which is level 10's 977 rows.
    """
    best = None
    for kk in cs.LEVELS:
        d = kk - k
        if d < 0 or g % (1 << d):
            continue
        b0, b1 = s0 >> kk, s1 >> kk
        cut = ((b0 << kk) < lo) + ((((b1 + 1) << kk) - 1) > hi)
        cost = b1 - b0 + 1 + cut * (1 << kk)
        if best is None or cost < best[0]:
            best = (cost, kk, g >> d)
    return best[1], best[2]


def long_curve(
    conn: sa.Connection, q: dict, key: Key, lo: int, hi: int, s0: int, s1: int, k: int, g: int
) -> ds.Buckets:
    """One curve's buckets of ``g * 2**k`` steps (``plan``'s), from the stored level ``source``
    picks, raw points at cut ends."""
    k, g = source(s0, s1, lo, hi, k, g)
    run, metric = key
    b0, b1 = s0 >> k, s1 >> k
    head, tail = (b0 << k) < lo, ((b1 + 1) << k) - 1 > hi
    if b0 == b1 and (head or tail):
        return _grouped(_raw_rows(conn, q, key, s0, s1, k), k, g)
    parts = [_raw_rows(conn, q, key, s0, ((b0 + 1) << k) - 1, k)] if head else []
    parts.append(_matrix(db.driver_rows(conn, LEVEL, {"run": run, "key": metric, "level": k,
                                                      "lo": b0 + head, "hi": b1 - tail})))
    if tail:
        parts.append(_raw_rows(conn, q, key, b1 << k, s1, k))
    return _grouped(np.concatenate(parts), k, g)


def _matrix(rows: list[tuple]) -> np.ndarray:
    """``LEVEL`` rows -> a (rows, 7) float64 array, None -> NaN. Exact: counts, steps and ms
    timestamps stay below 2**53 (as in ``Points.from_rows``)."""
    n = len(rows)
    return np.fromiter(itertools.chain.from_iterable(rows), np.float64, count=7 * n).reshape(n, 7)


def _raw_rows(conn: sa.Connection, q: dict, key: Key, a: int, b: int, k: int) -> np.ndarray:
    """Level ``k``'s buckets of the raw points in steps [a, b], as ``LEVEL`` rows."""
    pts = db.driver_rows(conn, q["range"], {"run": key[0], "key": key[1], "lo": a, "hi": b})
    if not pts:
        return _matrix([])
    step, ts, value, nan = (np.array(c) for c in zip(*pts))
    rows = cs.level_rows(step, ts, value, nan.astype(bool), k)
    return _matrix([(n, mn, mx, None if nan0 else v0, s1, t1, None if nan1 else v1)
                    for _, n, mn, mx, _, _, v0, nan0, s1, t1, v1, nan1 in rows])


def _grouped(r: np.ndarray, k: int, g: int) -> ds.Buckets:
    """Level-``k`` rows (by bucket) -> buckets of ``g`` level buckets; NaN is only ever NULL here."""
    gid = (r[:, S1].astype(np.int64) >> k) // g
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    ends = np.r_[starts[1:], len(r)] - 1
    no_nan = np.zeros(len(starts), bool)
    return ds.Buckets(
        step=r[ends, S1].astype(np.int64),
        value=ds.decode(r[ends, V1], no_nan),  # ±max float -> ±inf
        first=ds.decode(r[starts, V0], no_nan),
        min=ds.decode(np.fmin.reduceat(r[:, MN], starts), no_nan),  # NaN only if the whole bucket is
        max=ds.decode(np.fmax.reduceat(r[:, MX], starts), no_nan),
        n=np.add.reduceat(r[:, N], starts).astype(np.int64),
        timestamp=r[ends, T1].astype(np.int64),
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
