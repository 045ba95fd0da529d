"""The team store end to end: PostgreSQL behind a real ``mlflow server`` that serves artifacts.

A real trainer (``python -m trainers.train mlp``) is pointed at the server's ``http://`` URI only;
its points, checkpoint and confusion matrices must reach PostgreSQL and the server's artifact
destination over HTTP, and the dashboard must read all of it back through the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import streamlit as st
from app_util import figures, open_page
from mlflow import MlflowClient
from server_util import mlflow_server

from dashboard import data
from trainers import metrics as m
from trainers import tracking

pytestmark = pytest.mark.slow
EPOCHS = 2


@pytest.fixture(scope="module")
def team(make_store, tmp_path_factory):
    """(server URL, database URI, artifact destination, run id of one trained MLP run)."""
    tmp = tmp_path_factory.mktemp("team")
    db = make_store("postgresql")
    with mlflow_server(db, tmp, artifacts=tmp / "served") as url:
        # Only the server's address: no artifact root, no database URI, nothing local to fall back on.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNBOARD_ARTIFACT"))}
        env["MLFLOW_TRACKING_URI"] = url
        proc = subprocess.run([sys.executable, "-m", "trainers.train", "mlp", "--set", f"max_epochs={EPOCHS}"],
                              cwd=tracking.REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield url, db, tmp / "served", proc.stdout.strip().splitlines()[-1]


def test_the_run_and_every_point_reach_postgresql_through_the_server(team):
    url, db, _, run_id = team
    client = MlflowClient(url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    total = int(run.data.tags["runboard.progress.total_steps"])
    steps = sorted(p.step for p in client.get_metric_history(run_id, m.TRAIN_LOSS))
    assert steps == list(range(total))
    for key in m.CLASSIFICATION:
        assert len(client.get_metric_history(run_id, key)) == EPOCHS, key
    # The same facts are in the database behind the server, read there with SQL.
    row = data.runs(uri=db).set_index("run_id").loc[run_id]
    assert row["status"] == "FINISHED" and row["params.max_epochs"] == str(EPOCHS)


def test_artifacts_travel_over_http_to_the_servers_destination(team):
    url, _, served, run_id = team
    run = MlflowClient(url).get_run(run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied, not a path on the trainer's disk
    stored = served / run.info.experiment_id / run_id / "artifacts"
    assert (stored / "model" / "best.ckpt").stat().st_size > 0
    confusion = json.loads((stored / "confusion" / "epoch_001.json").read_text())
    assert sum(map(sum, confusion["matrix"])) == 360  # every validation digit
    assert not list(tracking.EMBEDDED_DIR.glob(f"**/{run_id}"))  # nothing went to the embedded store


def test_a_trainer_writing_straight_to_the_database_is_refused_the_servers_experiment(team):
    """The experiment keeps its artifacts behind the server (``mlflow-artifacts:``): a trainer on
    the database URI could not upload them and must say so before creating a run."""
    url, db, _, _ = team
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNBOARD_ARTIFACT"))}
    before = len(data.runs(uri=db))
    proc = subprocess.run([sys.executable, "-m", "trainers.train", "mlp", "--set", "max_epochs=1"], cwd=tracking.REPO,
                          env={**env, "MLFLOW_TRACKING_URI": db}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "config error: experiment: 'runboard':" in proc.stderr, proc.stderr[-2000:]
    assert "http://" in proc.stderr and len(data.runs(uri=db)) == before


def test_the_data_layer_reads_runs_curves_and_artifacts_over_rest(team):
    url, _, _, run_id = team
    row = data.runs(uri=url).set_index("run_id").loc[run_id]
    assert row["status"] == "FINISHED" and 0 <= row["metrics.val/acc"] <= 1
    curves = data.curves([run_id], [m.TRAIN_LOSS, m.VAL_ACC], uri=url)
    counts = curves.groupby("metric").size()
    assert counts[m.VAL_ACC] == EPOCHS and counts[m.TRAIN_LOSS] == int(row["tags.runboard.progress.total_steps"])
    files = {a["path"] for a in data.artifacts(run_id, "confusion", uri=url)}
    assert files == {f"confusion/epoch_{i:03d}.json" for i in range(EPOCHS)}
    matrix = data.read_json_artifact(run_id, "confusion/epoch_000.json", uri=url)["matrix"]
    assert sum(map(sum, matrix)) == 360


@pytest.fixture
def on_the_server(team, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team[0])
    monkeypatch.delenv("RUNBOARD_ARTIFACT_ROOT", raising=False)
    st.cache_data.clear()  # page caches are keyed by arguments, not by store
    yield team[3]
    st.cache_data.clear()


def test_run_page_charts_the_run_and_its_confusion_matrix_from_the_server(on_the_server):
    at = open_page("run", timeout=120, run=on_the_server)
    titles = {(f["layout"].get("title") or {}).get("text") for f in figures(at)}
    assert {m.TRAIN_LOSS, m.VAL_LOSS, m.VAL_ACC} <= titles
    assert [f for f in figures(at) if f["data"] and f["data"][0]["type"] == "heatmap"]


def test_compare_page_draws_the_run_from_the_server(on_the_server):
    at = open_page("compare", timeout=120, runs=on_the_server, metrics=m.TRAIN_LOSS)
    lines = [t for f in figures(at) for t in f["data"] if (t.get("meta") or {}).get("role") == "line"]
    assert [t["meta"]["run_id"] for t in lines] == [on_the_server]
