"""Run health flags for many runs without a full scan per view: each curve's health is cached in
Runboard's own table beside MLflow's, with the watermark it was computed at.

The watermark is the curve's ``latest_metrics`` row (last step and its timestamp): one indexed
read for every curve of a view says which curves grew since. Only those are read again, whole
(the flags need full resolution: a spike hides in a downsampled bucket's min/max), loss-like
curves point by point, the others with one ``MIN(step)`` of their NaN/inf rows. A store the
dashboard may not write to (a read-only database user) keeps the cache in this process instead.
Derived data: dropping the table loses nothing but time.

``stalled`` is not cached: it depends on the clock (``trainers.progress.stalled``).
"""

from __future__ import annotations

import logging
import time
from functools import cache

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard.analysis import health as H
from dashboard.data import downsample as ds
from dashboard.data import engine as db
from dashboard.data import reader_process
from trainers import progress, tracking
from trainers import run_tags as T

log = logging.getLogger(__name__)
TABLE = "runboard_curve_health"
CHUNK = 500  # run ids per IN (…) list
ARROW_CURVES = 64  # curves per reader-process request (~64 × 10^4 points × 40 B)
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    run_uuid VARCHAR(32) NOT NULL, key VARCHAR(250) NOT NULL, last_step BIGINT NOT NULL, last_ts BIGINT NOT NULL,
    nan_step BIGINT, spike_step BIGINT, trend DOUBLE PRECISION NOT NULL, tail_step BIGINT, version INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, key))"""
WATERMARKS = "SELECT run_uuid, key, step, timestamp FROM latest_metrics WHERE run_uuid IN :runs"
CACHED = f"""SELECT run_uuid, key, last_step, last_ts, nan_step, spike_step, trend, tail_step FROM {TABLE}
WHERE run_uuid IN :runs AND version = :version"""
# ``{idx}`` pins MLflow's (run_uuid, key, step) index on SQLite (see curves_sql: without statistics
# its planner preferred the primary key, a scan of the key across every run).
SQLITE_INDEX = " INDEXED BY index_metrics_run_uuid_key_step"
POINTS = "SELECT step, value, is_nan FROM metrics{idx} WHERE run_uuid = :run AND key = :key ORDER BY step, timestamp"
ARROW_POINTS = """SELECT ? AS curve, step, value, is_nan FROM metrics INDEXED BY index_metrics_run_uuid_key_step
WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp"""
ARROW_SCHEMA = [("curve", "int64"), ("step", "int64"), ("value", "float64"), ("is_nan", "int64")]
FIRST_BAD = """SELECT MIN(step) FROM metrics{idx} WHERE run_uuid = :run AND key = :key
AND (is_nan = :yes OR value >= :big OR value <= :small)"""
DELETE = f"DELETE FROM {TABLE} WHERE run_uuid = :run AND key = :key"
INSERT = f"""INSERT INTO {TABLE} (run_uuid, key, last_step, last_ts, nan_step, spike_step, trend, tail_step, version)
VALUES (:run, :key, :last_step, :last_ts, :nan_step, :spike_step, :trend, :tail_step, :version)"""

Watermark = tuple[int, int]  # (last step, its timestamp ms)
_memo: dict[tuple[str, str, str], tuple[Watermark, H.CurveHealth]] = {}  # read-only stores (this process's rules)


def curves(uri: str, run_ids, marks: dict | None = None) -> dict[tuple[str, str], H.CurveHealth]:
    """(run_id, metric) → its health, for every curve of these runs; recomputes only grown curves."""
    marks = _watermarks(uri, sorted(set(run_ids))) if marks is None else marks
    cached = _cached(uri, sorted({run for run, _ in marks}))
    out, stale = {}, []
    for key, mark in marks.items():
        hit = cached.get(key)
        if hit is not None and hit[0] == mark:
            out[key] = hit[1]
        else:
            stale.append(key)
    fresh = _compute(uri, stale)
    if fresh:
        _store(uri, {k: (marks[k], fresh[k]) for k in stale})
    return {**out, **fresh}


def flags(uri: str, runs: pd.DataFrame, now: float | None = None, marks: dict | None = None) -> dict[str, list[H.Flag]]:
    """run_id → its flags (``health.FLAGS`` order) for the runs frame's rows. ``marks``: every
    curve's (last step, timestamp) of these runs when the caller has read them already."""
    now = time.time() if now is None else now
    marks = _watermarks(uri, sorted(set(runs["run_id"]))) if marks is None else marks
    per_run: dict[str, dict[str, H.CurveHealth]] = {}
    newest: dict[str, int] = {}  # run → ms of its newest point: liveness without a heartbeat
    for (run, key), h in curves(uri, (), marks).items():
        per_run.setdefault(run, {})[key] = h
        newest[run] = max(newest.get(run, 0), marks[(run, key)][1])
    wanted = ("status", "start_time", f"tags.{T.HEARTBEAT}", f"tags.{T.CLAIMED}")
    columns = {c: runs[c].tolist() if c in runs else [None] * len(runs) for c in wanted}  # plain lists: cheap rows
    rows = (dict(zip(wanted, values)) for values in zip(*columns.values()))
    return {run: H.run_flags(per_run.get(run, {}), _stalled(row, newest.get(run), now))
            for run, row in zip(runs["run_id"], rows)}


def _stalled(row: dict, newest_ms: int | None, now: float) -> bool:
    if row.get("status") != "RUNNING":
        return False
    tags = {t: row.get(f"tags.{t}") for t in (T.HEARTBEAT, T.CLAIMED) if isinstance(row.get(f"tags.{t}"), str)}
    started = row.get("start_time")
    started_s = started.timestamp() if isinstance(started, pd.Timestamp) else None
    return progress.stalled(tags, None if newest_ms is None else newest_ms / 1000.0, started_s, now)


def _chunks(items: list):
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _watermarks(uri: str, run_ids: list[str]) -> dict[tuple[str, str], Watermark]:
    out = {}
    for chunk in _chunks(run_ids):
        for run, key, step, ts in db.fetch(uri, WATERMARKS, {"runs": chunk}, ("runs",)):
            out[(run, key)] = (int(step), int(ts))
    return out


@cache
def _writer(uri: str) -> sa.Engine | None:
    """A writing engine with the cache table created; None where the store refuses writes."""
    db.engine(uri)  # the store is prepared (created, migrated, WAL) once, by the read side
    sqlite = tracking.sqlite_path(uri) is not None
    eng = sa.create_engine(uri, connect_args={"timeout": 30} if sqlite else {}, pool_pre_ping=not sqlite)
    try:
        with eng.begin() as conn:
            conn.execute(sa.text(DDL))
        return eng
    except sa.exc.SQLAlchemyError as exc:
        log.warning("health cache kept in memory: cannot create %s (%s)", TABLE, exc)
        eng.dispose()
        return None


def _cached(uri: str, run_ids: list[str]) -> dict[tuple[str, str], tuple[Watermark, H.CurveHealth]]:
    if _writer(uri) is None:
        wanted = set(run_ids)
        return {(run, key): v for (u, run, key), v in _memo.items() if u == uri and run in wanted}
    out = {}
    for chunk in _chunks(run_ids):
        for run, key, step, ts, nan, spike, trend, tail in db.fetch(uri, CACHED, {"runs": chunk, "version": H.VERSION},
                                                                    ("runs",)):
            out[(run, key)] = ((int(step), int(ts)), H.CurveHealth(_int(nan), _int(spike), float(trend), _int(tail)))
    return out


def _int(value) -> int | None:
    return None if value is None else int(value)


def _store(uri: str, found: dict[tuple[str, str], tuple[Watermark, H.CurveHealth]]) -> None:
    eng = _writer(uri)
    if eng is not None:
        rows = [{"run": run, "key": key, "last_step": m[0], "last_ts": m[1], "nan_step": h.nan_step,
                 "spike_step": h.spike_step, "trend": float(h.trend), "tail_step": h.tail_step, "version": H.VERSION}
                for (run, key), (m, h) in found.items()]
        try:
            with eng.begin() as conn:
                conn.execute(sa.text(DELETE), rows)
                conn.execute(sa.text(INSERT), rows)
            return
        except sa.exc.SQLAlchemyError as exc:  # a concurrent session wrote the same rows, a lock
            log.warning("health cache not written (%s); kept in memory", exc)
    _memo.update({(uri, run, key): v for (run, key), v in found.items()})


def _compute(uri: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], H.CurveHealth]:
    """Health of these curves from ``metrics``: losses whole, other curves by their first NaN/inf."""
    if not keys:
        return {}
    losses = [k for k in keys if H.is_loss(k[1])]
    others = [k for k in keys if not H.is_loss(k[1])]
    out = {k: H.curve_health(steps, values) for k, (steps, values) in zip(losses, _loss_points(uri, losses))}
    with db.engine(uri).connect() as conn:
        yes = True if conn.dialect.name == "postgresql" else 1
        sql = FIRST_BAD.format(idx=_index(conn))
        for run, key in others:
            p = {"run": run, "key": key, "yes": yes, "big": ds.MAX_FLOAT, "small": -ds.MAX_FLOAT}
            first = db.driver_rows(conn, sql, p)[0][0]
            out[(run, key)] = H.CurveHealth(nan_step=_int(first))
    return out


def _loss_points(uri: str, keys: list[tuple[str, str]]):
    """(steps, values) per curve, in ``keys`` order: through the Arrow reader processes on SQLite
    when they are ready, else one query per curve."""
    path = tracking.sqlite_path(uri)
    for i in range(0, len(keys), ARROW_CURVES):
        part = keys[i:i + ARROW_CURVES]
        table = None
        if path is not None:
            params = [list(range(len(part))), [r for r, _ in part], [k for _, k in part]]
            table = reader_process.fetch(path, ARROW_POINTS, params, ARROW_SCHEMA)
        if table is not None:
            yield from _split(table, len(part))
            continue
        with db.engine(uri).connect() as conn:
            sql = POINTS.format(idx=_index(conn))
            for run, key in part:
                rows = np.array(db.driver_rows(conn, sql, {"run": run, "key": key}),
                                dtype=[("step", "i8"), ("value", "f8"), ("nan", "?")]).reshape(-1)
                yield rows["step"], ds.decode(rows["value"], rows["nan"])


def _index(conn: sa.Connection) -> str:
    return SQLITE_INDEX if conn.dialect.name == "sqlite" else ""


def _split(table, n: int):
    """An Arrow table of n curves' rows (``curve`` numbers 0..n-1, in order) → (steps, values) each."""
    curve = table.column("curve").to_numpy()
    step = table.column("step").to_numpy()
    value = ds.decode(table.column("value").to_numpy(), table.column("is_nan").to_numpy().astype(bool))
    bounds = np.searchsorted(curve, np.arange(n + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        yield step[lo:hi], value[lo:hi]
