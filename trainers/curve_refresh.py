"""Keeping curve summaries current: snapshot reads, short write transactions (issue 13).

``refresh`` reads one snapshot of a curve (its trigger count ``v`` and its points: REPEATABLE READ
on PostgreSQL, a ``BEGIN`` read transaction on SQLite), then writes in a separate short
transaction, so no lock is held while points are read. Incremental when every point inserted
since the build lies past the summarised ``max_step`` (the count says so), else a rebuild; an
incremental write is a compare-and-set on ``built_v``, so two refreshes never merge twice.
``Keeper`` is the writer process's hook; ``build_store`` and ``main`` the bulk command's body
(``python -m trainers.curve_summary build|drop``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from functools import cache

import sqlalchemy as sa

from trainers import curve_build_sql, tracking
from trainers import curve_summary as cs

log = logging.getLogger(__name__)


@cache
def writer(uri: str) -> sa.Engine:
    """An engine for refreshes. On SQLite each transaction is a real ``BEGIN`` (the driver's
    own mode starts none before a SELECT): a snapshot's reads share one snapshot, and a write
    transaction is ``BEGIN IMMEDIATE``, so it waits for the write lock up front instead of
    failing when it would have to upgrade a read snapshot that a writer moved past."""
    if not uri.startswith("sqlite"):
        return sa.create_engine(uri, pool_pre_ping=True)
    eng = sa.create_engine(uri, connect_args={"timeout": 30})

    @sa.event.listens_for(eng, "connect")
    def _manual(dbapi_con, _record):
        dbapi_con.isolation_level = None

    @sa.event.listens_for(eng, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("snapshot") else "BEGIN IMMEDIATE")

    return eng


def _snapshot(eng: sa.Engine):
    conn = eng.connect()
    if eng.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn.execution_options(snapshot=True)


def refresh(uri: str, keys, budget_s: float | None = None) -> set[tuple[str, str]]:
    """Bring these curves' summaries up to date, in the order given; returns the keys fresh as of
    their snapshot. With ``budget_s``, curves not reached within that many seconds are left out.

    A curve that fails (a concurrent refresh, a store that refuses writes) is left out and
    logged: its readers take the raw path.
    """
    deadline = None if budget_s is None else time.monotonic() + budget_s
    eng = writer(uri)
    done: set[tuple[str, str]] = set()
    with _snapshot(eng) as conn:
        present = cs.has_trigger(conn)
    if not present:  # takes the write lock: only the first time
        with eng.begin() as conn:
            cs.ensure(conn)
    with _snapshot(eng) as conn:
        st = cs.states(conn, {run for run, _ in keys})
    for run_id, key in dict.fromkeys(keys):
        if deadline is not None and time.monotonic() > deadline:
            break
        old = st.get((run_id, key))
        if old is not None and old[0] == old[1]:
            done.add((run_id, key))
            continue
        try:
            _refresh_one(eng, run_id, key, old)
            done.add((run_id, key))
        except cs.Conflict:
            log.debug("runboard: curve summary of %s/%s refreshed by another process meanwhile", run_id, key)
        except Exception as exc:  # noqa: BLE001 - a summary is an optimisation; the raw path stays
            log.warning("runboard: curve summary of %s/%s not refreshed: %s", run_id, key, exc)
    return done


def _refresh_one(eng: sa.Engine, run_id: str, key: str, old: tuple | None) -> None:
    if old is not None and old[0] >= 0 and _append(eng, run_id, key, old):
        return
    try:  # a new or rebuilt curve: grouped inside the database, nothing per point in Python
        curve_build_sql.build(eng, run_id, key)
        return
    except curve_build_sql.Moved as exc:  # a live curve: one snapshot of its points instead
        log.debug("runboard: %s; building it from a snapshot", exc)
    with _snapshot(eng) as conn, conn.begin():
        v = cs.version(conn, run_id, key)
        full = cs.points(conn, run_id, key)
    with eng.begin() as conn:
        cs.write_full(conn, run_id, key, full, v)


def _append(eng: sa.Engine, run_id: str, key: str, old: tuple) -> bool:
    """Merge the points inserted since the build when they all lie past its ``max_step`` (the
    trigger's count says so); False when a rebuild is needed."""
    built_v, _, n, max_step = old
    with _snapshot(eng) as conn, conn.begin():
        v = cs.version(conn, run_id, key)
        new = cs.points(conn, run_id, key, cs.INT64_MIN if max_step is None else max_step)
    if len(new) != v - built_v:
        return False
    if len(new):
        with eng.begin() as conn:
            cs.write_append(conn, run_id, key, new, (built_v, n, max_step), v)
    return True


class Keeper:
    """The writer process's hook: refreshes the curves it wrote, at most every ``interval``
    seconds and at the end, so a view finds Runboard's own curves already summarised (O(new
    points) per refresh, in the writer process, off the training loop's core)."""

    interval = 2.0

    def __init__(self, uri: str, run_id: str):
        self.uri, self.run_id = uri, run_id
        self.keys: set[str] = set()
        self.last = time.monotonic()

    def wrote(self, keys) -> None:
        self.keys.update(keys)
        if time.monotonic() - self.last >= self.interval:
            self.flush()

    def flush(self) -> None:
        keys, self.keys, self.last = self.keys, set(), time.monotonic()
        if keys:
            try:
                refresh(self.uri, [(self.run_id, k) for k in keys])
            except Exception as exc:  # noqa: BLE001 - never lose a point over a summary
                log.warning("runboard: curve summaries not kept (%s); views will build them", exc)


def build_store(uri: str, chunk: int = 200, out=sys.stderr) -> int:
    """Refresh every curve of the store (ahead of the first view, e.g. after an import), with a
    progress line on ``out``; returns the number of curves fresh at the end."""
    eng = writer(uri)
    with _snapshot(eng) as conn:
        keys = [
            tuple(r) for r in conn.execute(sa.text("SELECT DISTINCT run_uuid, key FROM latest_metrics ORDER BY 1, 2"))
        ]
    start, done = time.monotonic(), 0
    for i in range(0, len(keys), chunk):
        done += len(refresh(uri, keys[i : i + chunk]))
        out.write(
            f"\rcurve summaries: {min(i + chunk, len(keys))}/{len(keys)} curves, {time.monotonic() - start:.1f} s"
        )
        out.flush()
    out.write(f"\rcurve summaries: {done}/{len(keys)} curves fresh in {time.monotonic() - start:.1f} s\n")
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.curve_summary",
                                description="Build (or refresh) or drop the curve summaries of a whole store.")
    p.add_argument("action", choices=("build", "drop"))
    p.add_argument("--uri", help="the store (default: trainers.tracking's, i.e. MLFLOW_TRACKING_URI)")
    args = p.parse_args(argv)
    uri = tracking.prepare_store(args.uri or tracking.tracking_uri())
    if not tracking.is_database(uri):
        p.error("summaries live in the store's database: a SQLite or PostgreSQL URI is needed")
    if args.action == "drop":
        with writer(uri).begin() as conn:
            cs.drop(conn)
        print("curve summaries dropped", file=sys.stderr)
        return 0
    build_store(uri)
    return 0
