"""Shared fixtures: real MLflow stores in a temp folder (SQLite) and in a real PostgreSQL.

Which backends a test runs on is chosen by the fixture it takes:

- ``store``: both; the test runs once on SQLite and once on PostgreSQL. Every test in which the
  store takes part takes it: each family training and logging (through the child writer process),
  the CLI's endings (FINISHED, FAILED, KILLED by SIGTERM) and four trainers at once, the queue and
  the worker starting real trainers (the URI reaching trainer and writer through the allow-listed
  environment), a grid sweep, the data layer, and the pages under AppTest reading stores written
  by plain MLflow calls and by the real trainers (``make_store``: one per backend per session).
- ``sqlite_store``: SQLite only, where the subject is not the store: config errors refused before
  anything is written, form rendering, sweep validation and planning, a user family's
  registration, SQLite's WAL, the Optuna sweep (the grid sweep covers the sweep path on both) and
  the real-browser tests (a browser sees what the data layer returns, checked on both by the
  ``store`` tests). Doubling those would cost minutes and test nothing new about the backend.
- The team setting, PostgreSQL behind a real ``mlflow server`` serving artifacts over HTTP, is
  tests/test_team_server.py and tests/test_readme_team.py.

PostgreSQL gets a database migrated once per session, cloned per test with ``CREATE DATABASE …
TEMPLATE`` (fast, and tests never see each other's runs). Without a reachable server PostgreSQL
tests skip with the reason — except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
import streamlit as st
from plain_store import write_plain_store
from ray_cluster import ray_head  # noqa: F401 - one local Ray head per session, shared by every Ray test module

PG_ADMIN = os.environ.get("RUNBOARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin_engine():
    import sqlalchemy as sa

    return sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _with_db(admin_uri: str, db: str) -> str:
    return admin_uri.rsplit("/", 1)[0] + "/" + db


def _create_db(prefix: str, template: str | None = None) -> str:
    """A new database's name (a copy of ``template`` if given: ``CREATE DATABASE … TEMPLATE``)."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return name


def _drop_db(name: str) -> None:
    import sqlalchemy as sa

    admin = _pg_admin_engine()
    with admin.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URI of a reachable PostgreSQL; skips without one (fails under CI)."""
    import sqlalchemy as sa

    try:
        admin = _pg_admin_engine()
        with admin.connect() as con:
            con.execute(sa.text("select 1"))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN} ({type(exc).__name__}); start one to run these tests")
    return PG_ADMIN


@pytest.fixture(scope="session")
def pg_template(pg_server):
    """Name of a PostgreSQL database holding a freshly migrated MLflow schema."""
    import sqlalchemy as sa

    admin = _pg_admin_engine()
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
    name = _create_db("runboard_test", pg_template)
    yield _with_db(PG_ADMIN, name)
    _drop_db(name)


@pytest.fixture
def pg_empty_uri(pg_server):
    """A PostgreSQL database with no MLflow schema yet: what a team's first trainers meet."""
    name = _create_db("runboard_empty")
    yield _with_db(PG_ADMIN, name)
    _drop_db(name)


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


@pytest.fixture(scope="session")
def make_store(request, tmp_path_factory):
    """``make_store(backend) -> uri``: a fresh, migrated store that lasts the whole session, for
    read-only tests that share one store (``backend``: "sqlite" or "postgresql")."""
    made: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("store") / "mlflow.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        made.append(_create_db("runboard_session", request.getfixturevalue("pg_template")))
        return _with_db(PG_ADMIN, made[-1])

    yield make
    for name in made:
        _drop_db(name)


@pytest.fixture(params=BACKENDS)
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
    monkeypatch.setenv("RUNBOARD_SUMMARISER", "off")  # nor the background summariser (tests/test_summariser.py)


@pytest.fixture
def fresh_page_caches():
    """Page caches are process-wide and keyed by arguments, not by store: tests switch stores.
    Page tests use it with ``pytestmark = pytest.mark.usefixtures("fresh_page_caches")``."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def plain_store(request, make_store, tmp_path_factory):
    """(uri, ids by role) of one plain-mlflow store per backend, shared by the read-only page tests."""
    root = tmp_path_factory.mktemp("plain")
    uri = make_store(request.param)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOARD_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        return uri, write_plain_store(uri)


@pytest.fixture
def plain(plain_store, monkeypatch):
    """The ids by role of the plain-mlflow store (``plain_store.py``), the app pointed at it."""
    uri, ids = plain_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return ids
