"""The one module that knows where the store is.

Everything else asks here for the tracking URI, the artifact root, a ready client or an
experiment id; nothing else reads ``MLFLOW_TRACKING_URI`` or builds a path into ``mlruns/``.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import sqlite3
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
EMBEDDED_DIR = REPO / "mlruns"
DEFAULT_EXPERIMENT = "runboard"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store under ``mlruns/``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{EMBEDDED_DIR / 'mlflow.db'}"


def default_experiment() -> str:
    return os.environ.get("RUNBOARD_EXPERIMENT") or DEFAULT_EXPERIMENT


def is_http(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https")


def is_database(uri: str) -> bool:
    scheme = urlparse(uri).scheme.split("+")[0]
    return scheme in ("sqlite", "postgresql", "mysql", "mssql")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def artifact_root(uri: str | None = None) -> str | None:
    """Where new experiments keep artifacts; None lets an ``mlflow server`` decide.

    An ``http(s)://`` store always decides itself, ``RUNBOARD_ARTIFACT_ROOT`` or not: with
    ``--serve-artifacts`` files then travel over HTTP to the server's destination, where a local
    path would leave them on the trainer's disk, out of the dashboard's and teammates' reach.
    """
    uri = uri or tracking_uri()
    if is_http(uri):
        return None
    if root := os.environ.get("RUNBOARD_ARTIFACT_ROOT"):
        return root
    db = sqlite_path(uri)
    base = db.parent if db is not None else EMBEDDED_DIR
    return (base / "artifacts").as_uri()


@contextmanager
def _file_lock(path: Path):
    """Serialises store creation across processes (MLflow's first-use migration races)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _server_lock(uri: str):
    """Serialises store creation on a PostgreSQL database, across processes and hosts: on a fresh
    database 3 of 4 trainers started at once crashed in MLflow's migration. An advisory lock is
    held by this session only and released when it ends, however the process ends. Yields the
    connection that holds it (None where the store is not PostgreSQL)."""
    if not uri.startswith("postgresql"):
        yield None
        return
    import sqlalchemy as sa

    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            con.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                yield con
            finally:
                con.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
    finally:
        engine.dispose()


_MIGRATION_LOCK = 0x52554E424F415244  # "RUNBOARD": one advisory lock key per database


@cache
def prepare_store(uri: str | None = None) -> str:
    """Create/migrate a database store once, switch SQLite to WAL and refresh its statistics.

    Safe to call from many processes at once. Returns the URI it prepared.
    """
    uri = uri or tracking_uri()
    if not is_database(uri):
        return uri
    db = sqlite_path(uri)
    if db is None:
        with _server_lock(uri) as con:
            if con is None or not _server_migrated_by_this_mlflow(con):
                _mlflow_store(uri)
                if con is not None:
                    _server_mark_migrated(con)
        return uri
    with _file_lock(db.with_name(db.name + ".lock")):
        with sqlite3.connect(db, timeout=30) as con:
            migrated = _migrated_by_this_mlflow(con)
        if not migrated:
            _mlflow_store(uri)
        with sqlite3.connect(db, timeout=30) as con:
            # WAL: readers never block writers (a held read otherwise fails writers after 20 s).
            con.execute("PRAGMA journal_mode=WAL")
            refresh_statistics(con)
            con.execute("INSERT OR REPLACE INTO runboard_meta VALUES ('migrated_by_mlflow', ?)", (_mlflow_version(),))
            con.commit()
    return uri


def _mlflow_store(uri: str) -> None:
    """Create or migrate the store the way MLflow does (its ``SqlAlchemyStore`` runs the migrations)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(uri, artifact_root(uri))


def _server_migrated_by_this_mlflow(con) -> bool:
    """``_migrated_by_this_mlflow`` on PostgreSQL (``con``: a SQLAlchemy connection)."""
    import sqlalchemy as sa

    if con.execute(sa.text("SELECT to_regclass('runboard_meta')")).scalar() is None:
        return False
    found = con.execute(sa.text("SELECT value FROM runboard_meta WHERE key = 'migrated_by_mlflow'")).scalar()
    return found == _mlflow_version()


def _server_mark_migrated(con) -> None:
    import sqlalchemy as sa

    con.execute(sa.text("CREATE TABLE IF NOT EXISTS runboard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"))
    con.execute(sa.text("INSERT INTO runboard_meta VALUES ('migrated_by_mlflow', :v) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"), {"v": _mlflow_version()})
    con.commit()


def _mlflow_version() -> str:
    return importlib.metadata.version("mlflow")


def _migrated_by_this_mlflow(con: sqlite3.Connection) -> bool:
    """Whether this SQLite store was already created/migrated by the installed MLflow: then
    MLflow's store class (importing it loads ~150 MB of MLflow and SQLAlchemy models) is not
    needed, so the dashboard and the queue worker's idle poll run without MLflow (issue 16)."""
    try:
        found = con.execute("SELECT value FROM runboard_meta WHERE key = 'migrated_by_mlflow'").fetchone()
    except sqlite3.OperationalError:  # no such table: a store Runboard never prepared
        return False
    return found is not None and found[0] == _mlflow_version()


def refresh_statistics(con: sqlite3.Connection, growth: float = 2.0) -> bool:
    """ANALYZE a SQLite store that has no statistics, or whose metrics table grew ``growth``-fold
    since it was last analysed. MLflow never runs ANALYZE; without statistics SQLite picks a
    scan-by-key plan for every curve (BASELINES.md). ``PRAGMA optimize`` would not do it here: on
    SQLite 3.40 it only analyses tables that earlier queries marked, so a fresh store stayed bare.
    ``analysis_limit`` samples each index, so this costs milliseconds even on a large store; its
    row counts are estimates, so the size at the last ANALYZE is kept in Runboard's own table."""
    con.execute("CREATE TABLE IF NOT EXISTS runboard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    rows = con.execute("SELECT coalesce(max(rowid), 0) FROM metrics").fetchone()[0]
    found = con.execute("SELECT value FROM runboard_meta WHERE key = 'analysed_metrics_rows'").fetchone()
    has_stats = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
    if has_stats and found and rows <= max(int(found[0]), 1) * growth:
        return False
    con.execute("PRAGMA analysis_limit=1000")
    con.execute("ANALYZE")
    con.execute("INSERT OR REPLACE INTO runboard_meta VALUES ('analysed_metrics_rows', ?)", (str(rows),))
    con.commit()
    return True


def fold_wal(uri: str) -> bool:
    """Fold a SQLite store's write-ahead log back into its file and truncate it: on a full disk this
    frees the log's space, so one small write (a run's FAILED status) can still get through. False
    where there is no SQLite file or the fold failed."""
    db = sqlite_path(uri)
    if db is None:
        return False
    try:
        with sqlite3.connect(db, timeout=5) as con:
            busy, *_ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    except sqlite3.Error:
        return False


def client(uri: str | None = None):
    """An ``MlflowClient`` on a prepared store."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=prepare_store(uri or tracking_uri()))


def experiment_id(name: str | None = None, uri: str | None = None) -> str:
    """Get or create an experiment by name, race-free across processes."""
    from mlflow.exceptions import MlflowException

    name = name or default_experiment()
    c = client(uri)
    found = c.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            c.restore_experiment(found.experiment_id)
        return found.experiment_id
    try:
        return c.create_experiment(name, artifact_location=_experiment_artifacts(name, uri))
    except MlflowException:
        # Another process created it between our read and our insert.
        found = c.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def artifacts_unreachable(location: str, uri: str | None = None) -> str | None:
    """Why a run logging to this store could not write artifacts under ``location``, else None.

    ``mlflow-artifacts:`` locations (an experiment created through an ``mlflow server`` that
    serves artifacts) resolve against an http(s) tracking URI only; a trainer writing straight to
    the server's database would fail at its first checkpoint, after training.
    """
    uri = uri or tracking_uri()
    if location.startswith("mlflow-artifacts:") and not is_http(uri):
        return ("its artifacts are served by an mlflow server (mlflow-artifacts:); point "
                "MLFLOW_TRACKING_URI at that server's http:// address, or use another experiment")
    return None


def _experiment_artifacts(name: str, uri: str | None) -> str | None:
    root = artifact_root(uri)
    if root is None:
        return None
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return f"{root.rstrip('/')}/{safe}"


def runtime_dir(uri: str | None = None) -> Path:
    """Per-store scratch space of the launcher on this host: run logs, the worker lock.

    Next to the SQLite file for a SQLite store, else ``mlruns/runtime/<store>`` (one folder per
    database/server, so two stores never share a worker lock). ``RUNBOARD_RUNTIME_DIR`` overrides.
    """
    if root := os.environ.get("RUNBOARD_RUNTIME_DIR"):
        path = Path(root)
    elif (db := sqlite_path(uri or tracking_uri())) is not None:
        path = db.parent / "runtime"
    else:
        parsed = urlparse(uri or tracking_uri())
        label = f"{parsed.hostname or 'local'}_{parsed.port or ''}_{parsed.path.strip('/')}"
        path = EMBEDDED_DIR / "runtime" / "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    path.mkdir(parents=True, exist_ok=True)
    return path
