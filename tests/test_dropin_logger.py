"""The drop-in logger in a plain Lightning script run as ``python script.py``."""

import os
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from trainers import run_tags

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "byo" / "byo_script.py"


def test_import_trainers_stays_light():
    code = "import sys, trainers; assert 'torch' not in sys.modules; from trainers import RunboardLogger; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_plain_script_logs_one_finished_run(sqlite_uri, tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": sqlite_uri, "PYTHONPATH": str(REPO)}
    env.pop(run_tags.RUN_ID_ENV, None)
    out = subprocess.run([sys.executable, str(SCRIPT), "2"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    client = MlflowClient(sqlite_uri)
    exp = client.get_experiment_by_name("byo")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_id == out.stdout.strip().splitlines()[-1]
    assert run.info.status == "FINISHED"
    assert run.data.params["lr"] == "0.05" and run.data.params["width"] == "8"
    assert {"my/train_loss", "my/val_loss", "epoch"} <= set(run.data.metrics)
    assert any(k.startswith("system/cpu_utilization") for k in run.data.metrics)
    assert "system/system_memory_usage_megabytes" in run.data.metrics
    tags = run.data.tags
    assert tags["team"] == "me"
    assert int(tags[run_tags.PROGRESS_STEP]) > 0 and run_tags.HEARTBEAT in tags
    assert tags[run_tags.COMMAND].endswith("byo_script.py 2")
    assert run_tags.HOST in tags
    # every step of the train curve arrived (256/16 = 16 steps per epoch, logged every 2)
    assert len(client.get_metric_history(run.info.run_id, "my/train_loss")) == 16
