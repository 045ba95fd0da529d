"""Shared fixtures: real MLflow stores in a temp folder (SQLite) and in a real PostgreSQL.

``store`` is parametrized over both backends; a test that takes it runs twice. PostgreSQL gets a
database migrated once per session, cloned per test with ``CREATE DATABASE … TEMPLATE`` (fast,
and tests never see each other's runs). Without a reachable server PostgreSQL tests skip with the
reason — except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

PG_ADMIN = os.environ.get("RUNBOARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_admin_engine():
    import sqlalchemy as sa

    return sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _with_db(admin_uri: str, db: str) -> str:
    return admin_uri.rsplit("/", 1)[0] + "/" + db


@pytest.fixture(scope="session")
def pg_template():
    """Name of a PostgreSQL database holding a freshly migrated MLflow schema."""
    import sqlalchemy as sa

    try:
        admin = _pg_admin_engine()
        with admin.connect() as con:
            con.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN} ({type(exc).__name__}); start one to run these tests")
    name = f"runboard_tpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = _with_db(PG_ADMIN, name)
    store = SqlAlchemyStore(uri, "file:///tmp/runboard-unused")
    store.engine.dispose()
    yield name
    with admin.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_uri(pg_template):
    """A fresh, migrated PostgreSQL store for one test."""
    import sqlalchemy as sa

    name = f"runboard_test_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _with_db(PG_ADMIN, name)
    with admin.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated, WAL-mode SQLite store file, made once: MLflow's migrations take seconds."""
    from trainers import tracking

    path = tmp_path_factory.mktemp("sqlite-template") / "mlflow.db"
    tracking.prepare_store(f"sqlite:///{path}")
    import sqlite3

    with sqlite3.connect(path) as con:  # fold the WAL back so one file is the whole store
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def sqlite_uri(tmp_path, sqlite_template):
    """A fresh, migrated SQLite store for one test (a copy of the session's template)."""
    shutil.copyfile(sqlite_template, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch):
    """A real, empty store; ``MLFLOW_TRACKING_URI`` and the artifact root point at it."""
    if request.param == "sqlite":
        uri = request.getfixturevalue("sqlite_uri")
    else:
        uri = request.getfixturevalue("pg_uri")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("RUNBOARD_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    return uri


@pytest.fixture
def sqlite_store(sqlite_uri, tmp_path, monkeypatch):
    """Like ``store`` but SQLite only, for tests where the backend does not matter."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_uri)
    monkeypatch.setenv("RUNBOARD_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    return sqlite_uri


@pytest.fixture(autouse=True)
def no_queue_worker_in_the_app(monkeypatch):
    """The dashboard starts a queue worker on first page load; page tests drive the app in this
    process, where a worker thread would outlive its temp store. Launch tests start their own."""
    monkeypatch.setenv("RUNBOARD_WORKER", "off")
