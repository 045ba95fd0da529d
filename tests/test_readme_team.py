"""The README's "Team setup" commands, run as written.

The README marks its team blocks with ``<!-- team-…: run by tests/test_readme_team.py -->``. The
only thing this test supplies is what the README calls the settings (``PGHOST``…, ``TEAM_DB``,
``TEAM_DIR``, ports, ``ADDRESS``, ``TEAM_HOST``): a throw-away database, free ports, a temp folder
and 127.0.0.1. The commands themselves run verbatim in bash; then a 1-epoch run goes through the
server, and the run, its artifacts and the dashboard are checked before everything is torn down.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from mlflow import MlflowClient
from server_util import answers, free_port, stop_marked, wait_for

from dashboard import data
from trainers import tracking

pytestmark = pytest.mark.slow
README = tracking.REPO / "README.md"
PASSWORD = "correct horse battery staple"


def readme_block(name: str) -> str:
    """The fenced bash block right after ``<!-- team-<name>: run by tests/test_readme_team.py -->``."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- team-{name}: run by tests/test_readme_team\.py -->\s*```bash\n(.*?)```", text, re.S)
    assert found, f"README.md has no block marked team-{name}"
    return found.group(1)


def commands(block: str) -> list[str]:
    """The block's command lines, comments and continuations folded."""
    lines = re.sub(r"\\\n\s*", " ", block).splitlines()
    return [
        line for line in (re.sub(r"\s+#.*$", "", raw).strip() for raw in lines) if line and not line.startswith("#")
    ]


@pytest.fixture
def settings(pg_server, tmp_path):
    """The README's settings for a throw-away team: env for the blocks, then cleanup of the
    processes they started (found by a marker in their environment) and of the database."""
    admin = sa.engine.make_url(pg_server)
    marker, db = uuid.uuid4().hex, f"runboard_test_team_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNBOARD_", "PG"))}
    env.update({
        "PGHOST": admin.host or "127.0.0.1", "PGPORT": str(admin.port or 5432), "PGUSER": admin.username or "postgres",
        "TEAM_DB": db, "TEAM_DIR": str(tmp_path / "team"), "ADDRESS": "127.0.0.1", "TEAM_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(free_port()), "PORT": str(free_port()), "RUNBOARD_TEST_MARK": marker,
        "MLFLOW_WORKERS": "1",  # mlflow server's own variable: one worker is plenty for one test
    })
    if admin.password:
        env["PGPASSWORD"] = admin.password
    yield env
    stop_marked(marker)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    engine.dispose()


def bash(script: str, env: dict, stdin: str = "", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``script`` in a new session: no controlling terminal, so a password prompt reads stdin."""
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tracking.REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout, start_new_session=True)


def train(block: str, env: dict) -> str:
    """Run a README block that trains; the run id (the trainer's last line)."""
    done = bash(readme_block(block), env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def assert_stored(env: dict, run_id: str, artifacts: str = "artifacts") -> None:
    """The run is FINISHED on the server and in its PostgreSQL database, and its checkpoint is
    under ``TEAM_DIR/<artifacts>`` (the server's destination, unless the trainer wrote directly)."""
    server = f"http://127.0.0.1:{env['MLFLOW_PORT']}"
    assert MlflowClient(server).get_run(run_id).info.status == "FINISHED"
    db = f"postgresql+psycopg://{env['PGUSER']}@{env['PGHOST']}:{env['PGPORT']}/{env['TEAM_DB']}"
    assert data.runs(uri=db).set_index("run_id").at[run_id, "status"] == "FINISHED"
    assert list((tracking.REPO / env["TEAM_DIR"] / artifacts).glob(f"**/{run_id}/artifacts/model/best.ckpt"))


def test_the_by_hand_commands_start_a_team_store_and_dashboard(settings, tmp_path):
    started = bash(readme_block("server"), settings, stdin=f"{PASSWORD}\n{PASSWORD}\n", timeout=300)
    assert started.returncode == 0, started.stderr[-3000:]
    team = tmp_path / "team"
    wait_for(f"http://127.0.0.1:{settings['MLFLOW_PORT']}/health", None, team / "mlflow.log")
    wait_for(f"http://127.0.0.1:{settings['PORT']}/_stcore/health", None, team / "dashboard.log")
    assert_stored(settings, train("train", settings))
    assert_stored(settings, train("direct", settings), artifacts="shared")
    assert answers(f"http://127.0.0.1:{settings['PORT']}/_stcore/health")


def test_the_one_command_try_out_starts_reports_and_stops_the_stack(settings):
    up, status, down = commands(readme_block("tryout"))
    started = bash(up, settings, timeout=600)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-3000:]
    report = bash(status, settings)
    assert (
        report.returncode == 0
        and re.search(r"mlflow\s+up", report.stdout)
        and re.search(r"dashboard\s+up", report.stdout)
    )
    assert_stored(settings, train("train", settings))
    stopped = bash(down, settings)
    assert stopped.returncode == 0, stopped.stderr
    assert bash(status, settings).returncode != 0
    assert not answers(f"http://127.0.0.1:{settings['MLFLOW_PORT']}/health")
    assert not answers(f"http://127.0.0.1:{settings['PORT']}/_stcore/health")
