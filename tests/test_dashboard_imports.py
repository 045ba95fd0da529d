"""The dashboard process carries no torch or Lightning, and no MLflow while its store has no work (issue 16)."""

import os
import subprocess
import sys

from trainers import tracking

# Run in a fresh interpreter: this test process has imported torch for other tests already.
PROBE = """
import sys, time
from streamlit.testing.v1 import AppTest
for page in ("runs", "compare", "activity"):
    at = AppTest.from_file("dashboard/app.py", default_timeout=120)
    if page != "runs":
        at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
print(sorted(m for m in ("torch", "pytorch_lightning", "lightning") if m in sys.modules))
"""


def test_the_dashboard_pages_that_read_runs_import_no_torch(sqlite_store):
    from plain_store import write_plain_store

    write_plain_store(sqlite_store)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tracking.REPO, capture_output=True, text=True,
                         timeout=600, env={**os.environ, "RUNBOARD_WORKER": "thread"})  # the queue worker too
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# `python -m dashboard`'s start (its queue worker in a thread), then the Runs and Compare pages, on a
# store with no work: MLflow stays out of the process. Then a RUNNING run gets a heartbeat (a run the
# supervisor watches; a queued one would also start a trainer): the worker loads its supervisor.
IDLE_PROBE = """
import sqlite3, sys, time
from streamlit.testing.v1 import AppTest
from experiments.worker import ensure_started
from trainers import run_tags, tracking
worker = ensure_started()
assert worker is not None
for page in ("runs", "compare"):
    at = AppTest.from_file("dashboard/app.py", default_timeout=120)
    if page != "runs":
        at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
time.sleep(4 * worker.poll_s)
print("idle:", sorted(m for m in ("mlflow", "experiments.supervisor") if m in sys.modules))
with sqlite3.connect(tracking.sqlite_path(tracking.tracking_uri())) as con:
    (run,) = con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage = 'active' LIMIT 1").fetchone()
    con.execute("UPDATE runs SET status = 'RUNNING' WHERE run_uuid = ?", (run,))
    con.execute("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", (run_tags.HEARTBEAT, str(time.time()), run))
deadline = time.monotonic() + 60
while "experiments.supervisor" not in sys.modules and time.monotonic() < deadline:
    time.sleep(0.1)
print("work:", sorted(m for m in ("mlflow", "experiments.supervisor") if m in sys.modules))
worker.stop()
"""


def test_the_started_dashboard_imports_no_mlflow_until_the_store_has_work(sqlite_store):
    from plain_store import write_plain_store

    write_plain_store(sqlite_store)
    out = subprocess.run([sys.executable, "-c", IDLE_PROBE], cwd=tracking.REPO, capture_output=True, text=True,
                         timeout=600, env={**os.environ, "RUNBOARD_WORKER": "thread"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-2:] == ["idle: []", "work: ['experiments.supervisor', 'mlflow']"]


def test_the_idle_poll_finds_a_queued_run_and_the_runs_the_supervisor_watches(sqlite_store):
    import sqlalchemy as sa
    from plain_store import write_plain_store

    from experiments.worker import has_work
    from trainers import run_tags

    ids = write_plain_store(sqlite_store)
    engine = sa.create_engine(sqlite_store)
    with engine.begin() as con:
        con.execute(sa.text("UPDATE runs SET status = 'RUNNING'"))  # plain runs: no tag the supervisor acts on
    assert not has_work(engine)
    with engine.begin() as con:
        con.execute(sa.text("UPDATE runs SET status = 'SCHEDULED' WHERE run_uuid = :r"), {"r": ids["html"]})
    assert has_work(engine)
    with engine.begin() as con:
        con.execute(sa.text("UPDATE runs SET status = 'FINISHED' WHERE run_uuid = :r"), {"r": ids["html"]})
        con.execute(sa.text("INSERT INTO tags (key, value, run_uuid) VALUES (:k, '1', :r)"),
                    {"k": run_tags.PID, "r": ids["parent"]})
    assert has_work(engine)
    engine.dispose()


def test_the_tag_names_spelled_in_run_tags_are_mlflow_s_constants():
    # run_tags spells MLflow's names so that importing it loads no MLflow (issue 16): pinned here.
    from mlflow.entities import ViewType
    from mlflow.utils import mlflow_tags

    from dashboard.data import rest
    from trainers import run_tags

    assert run_tags.USER == mlflow_tags.MLFLOW_USER
    assert run_tags.PARENT == mlflow_tags.MLFLOW_PARENT_RUN_ID
    assert run_tags.RUN_NAME == mlflow_tags.MLFLOW_RUN_NAME
    assert run_tags.SOURCE_NAME == mlflow_tags.MLFLOW_SOURCE_NAME
    assert run_tags.SOURCE_TYPE == mlflow_tags.MLFLOW_SOURCE_TYPE
    assert run_tags.GIT_COMMIT == mlflow_tags.MLFLOW_GIT_COMMIT
    assert rest.ACTIVE_ONLY == ViewType.ACTIVE_ONLY
