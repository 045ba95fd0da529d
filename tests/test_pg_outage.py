"""Issue 15 acceptance 2: a private PostgreSQL cluster stopped (``pg_ctl stop -m fast``, what a
routine restart does) in the middle of a 60-epoch ``mlp`` run and started again: the training goes
on, says once that the store is unreachable and once that it is back, and ends FINISHED with every
point exactly once. The outage here is 8 s; 20 s was tried by hand (see the README's table)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import sqlalchemy as sa
from pg_private import private_pg  # noqa: F401 - a fixture

from trainers import run_tags as T
from trainers import tracking

EPOCHS, OUTAGE_S = 60, 8


def test_postgres_stopped_and_started_mid_run_loses_nothing_and_says_so_once_each(private_pg, tmp_path):
    tracking.prepare_store(private_pg.uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": private_pg.uri,
           "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri()}
    trainer = subprocess.Popen([sys.executable, "-m", "trainers.train", "mlp", "--set", f"max_epochs={EPOCHS}"],
                               cwd=tracking.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine = sa.create_engine(private_pg.uri, poolclass=sa.pool.NullPool)
    try:
        _until_points(engine, trainer)
        private_pg.stop()
        time.sleep(OUTAGE_S)
        assert trainer.poll() is None, "the trainer ended during the outage"
        private_pg.start()
        out, err = trainer.communicate(timeout=600)
    finally:
        if trainer.poll() is None:
            trainer.kill()
    assert trainer.returncode == 0, err[-3000:]
    assert err.count("store unreachable") == 1, err[-3000:]
    assert err.count("store back") == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    with engine.connect() as con:
        status, total = con.execute(sa.text(
            "SELECT r.status, t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = :key"), {"key": T.PROGRESS_TOTAL_STEPS}).one()
        counts = con.execute(sa.text(
            "SELECT key, count(*), count(DISTINCT step), min(step), max(step) FROM metrics GROUP BY key")).all()
    engine.dispose()
    assert status == "FINISHED"
    by_key = {key: rest for key, *rest in counts}
    assert by_key["train/loss"] == [int(total), int(total), 0, int(total) - 1]  # every step, each once
    assert by_key["val/loss"][:2] == [EPOCHS, EPOCHS]
    assert all(n == distinct for n, distinct, *_ in by_key.values())  # no duplicates in any curve


def _until_points(engine, trainer, at_least: int = 100) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert trainer.poll() is None, trainer.communicate()[1][-3000:]
        with engine.connect() as con:
            if con.execute(sa.text("SELECT count(*) FROM metrics")).scalar() >= at_least:
                return
        time.sleep(0.3)
    raise AssertionError("the trainer logged no points in time")


def test_postgres_away_past_the_end_reaper_fails_the_run_with_the_facts_and_recover_completes_it(
        private_pg, tmp_path, monkeypatch):
    """Acceptance 3 with the status unwritable too: PostgreSQL stops mid-run and is back only after
    the trainer gave up (exit 1, one line); the reaper then ends the run FAILED with "N points not
    written" read from the journal, and recover writes every point once and sets FINISHED."""
    from mlflow import MlflowClient

    from experiments.executors.local import LocalExecutor
    from experiments.supervisor import Supervisor

    tracking.prepare_store(private_pg.uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": private_pg.uri, "RUNBOARD_WRITE_RETRY_SECONDS": "2",
           "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri()}
    trainer = subprocess.Popen([sys.executable, "-m", "trainers.train", "mlp", "--set", "max_epochs=60"],
                               cwd=tracking.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine = sa.create_engine(private_pg.uri, poolclass=sa.pool.NullPool)
    try:
        _until_points(engine, trainer, at_least=1)
        private_pg.stop()
        out, err = trainer.communicate(timeout=600)
    finally:
        if trainer.poll() is None:
            trainer.kill()
    private_pg.start()
    assert trainer.returncode == 1
    assert "points not written" in err and "Traceback" not in err, err[-3000:]
    client = MlflowClient(tracking_uri=private_pg.uri)
    (run,) = client.search_runs([client.get_experiment_by_name("runboard").experiment_id])
    run_id = run.info.run_id
    assert run.info.status == "RUNNING"  # the store was away for the status too
    monkeypatch.setenv("MLFLOW_TRACKING_URI", private_pg.uri)
    assert Supervisor(LocalExecutor(limit=1), private_pg.uri).reconcile() == [run_id]
    run = client.get_run(run_id)
    lost = int(run.data.tags[T.POINTS_NOT_WRITTEN])
    assert run.info.status == "FAILED" and run.data.tags[T.ERROR].startswith(f"{lost} points not written: ")
    recovered = subprocess.run([sys.executable, "-m", "trainers.recover", run_id], capture_output=True, text=True,
                               cwd=tracking.REPO, env=env)
    assert recovered.returncode == 0, recovered.stderr
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and T.POINTS_NOT_WRITTEN not in run.data.tags
    total = int(run.data.tags[T.PROGRESS_TOTAL_STEPS])
    with engine.connect() as con:
        n, distinct, steps = con.execute(sa.text(
            "SELECT count(*), count(DISTINCT step), max(step) + 1 FROM metrics WHERE key = 'train/loss'")).one()
    engine.dispose()
    assert n == distinct == steps == total  # every step, each once
