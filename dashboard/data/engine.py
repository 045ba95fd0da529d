"""One SQLAlchemy engine per database URI, and the raw-row fetch every query goes through."""

from __future__ import annotations

from functools import cache, lru_cache

import sqlalchemy as sa

from trainers import tracking

_URIS: set[str] = set()


@cache
def engine(uri: str) -> sa.Engine:
    """A pooled engine on a prepared store (created and migrated if missing, SQLite in WAL)."""
    tracking.prepare_store(uri)
    _URIS.add(uri)
    if tracking.sqlite_path(uri) is not None:
        # WAL (set by prepare_store) lets this reader run beside writers; the timeout only
        # matters while a checkpoint briefly holds the file.
        eng = sa.create_engine(uri, connect_args={"timeout": 30})
        sa.event.listen(eng, "connect", _sqlite_read_only)
        return eng
    # Autocommit: each read statement sees its own snapshot either way (READ COMMITTED), and
    # psycopg's BEGIN and the pool's ROLLBACK were two of a runs view's ~16 round trips.
    return sa.create_engine(uri, pool_pre_ping=True, isolation_level="AUTOCOMMIT")


def _sqlite_read_only(dbapi_con, _record) -> None:
    # The dashboard never writes through this engine; make that a guarantee.
    dbapi_con.execute("PRAGMA query_only=1")


def dispose() -> None:
    """Close every pooled connection and forget the engines (benchmarks: cold reads)."""
    for uri in _URIS:
        engine(uri).dispose()
    _URIS.clear()
    engine.cache_clear()


@lru_cache(maxsize=256)
def statement(sql: str, expanding: tuple[str, ...] = ()) -> sa.TextClause:
    """A text statement, built once; ``expanding`` names the list parameters (``IN :name``)."""
    stmt = sa.text(sql)
    if expanding:
        stmt = stmt.bindparams(*(sa.bindparam(name, expanding=True) for name in expanding))
    return stmt


def rows(conn: sa.Connection, sql: str, params: dict | None = None, expanding: tuple[str, ...] = ()) -> list[tuple]:
    """Run one statement with bound parameters; plain tuples straight from the DBAPI cursor.

    SQLAlchemy's per-row processing would cost more than the query itself on curves of
    hundreds of thousands of points.
    """
    result = conn.execute(statement(sql, expanding), params or {})
    try:
        return result.cursor.fetchall() if result.returns_rows else []
    finally:
        result.close()


def fetch(uri: str, sql: str, params: dict | None = None, expanding: tuple[str, ...] = ()) -> list[tuple]:
    """``rows`` on a short-lived connection of the URI's engine."""
    with engine(uri).connect() as conn:
        return rows(conn, sql, params, expanding)


def driver_rows(conn: sa.Connection, sql: str, params: dict) -> list[tuple]:
    """``rows`` for the hot per-curve queries: the statement is compiled once per dialect to the
    driver's own SQL and run on the DBAPI cursor, still with bound parameters. SQLAlchemy's
    execute costs ~0.4 ms a call, 0.15 s of a 400-curve view. No list (expanding) parameters.
    """
    driver_sql, names = _compiled(sql, conn.dialect)
    cur = conn.connection.dbapi_connection.cursor()
    try:
        cur.execute(driver_sql, [params[n] for n in names] if names is not None else params)
        return cur.fetchall()
    finally:
        cur.close()


@lru_cache(maxsize=256)
def _compiled(sql: str, dialect: sa.Dialect) -> tuple[str, list[str] | None]:
    """(driver SQL, parameter names in order for positional drivers, else None)."""
    compiled = sa.text(sql).compile(dialect=dialect)
    return compiled.string, (list(compiled.positiontup) if compiled.positional else None)
