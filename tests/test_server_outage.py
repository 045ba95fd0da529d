"""Issue 20/15: a trainer writing to an ``mlflow server`` that is killed (``kill -9``) mid-run and
started again: the run keeps training, says once that the store is unreachable and once that it
is back, and ends FINISHED with every point once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from server_util import free_port, launch_server, stop_group, wait_for

from trainers import tracking

TESTS = os.path.dirname(__file__)
EPOCHS, STEPS_PER_EPOCH = 40, 32  # tiny: 256 samples in batches of 8; ~0.7 s an epoch at step_sleep 0.02


def test_a_server_killed_and_restarted_mid_run_loses_nothing_and_says_so_once_each(tmp_path, sqlite_uri):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server, log = launch_server(sqlite_uri, tmp_path, port)
    trainer = None
    try:
        wait_for(f"{url}/health", server, log)
        env = {**os.environ, "MLFLOW_TRACKING_URI": url, "RUNBOARD_FAMILIES": "tiny_family",
               "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri(),
               "PYTHONPATH": os.pathsep.join([str(tracking.REPO), TESTS])}
        trainer = subprocess.Popen(
            [sys.executable, "-m", "trainers.train", "tiny", "--set", f"max_epochs={EPOCHS}",
             "--set", "step_sleep=0.02"], cwd=tracking.REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        client = tracking.client(sqlite_uri)  # the server's own database: readable while it is down
        run_id = _first_points(client, trainer)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        time.sleep(8)  # a restart's worth of outage, while the trainer keeps training
        assert trainer.poll() is None, "the trainer ended during the outage"
        server, log = launch_server(sqlite_uri, tmp_path, port)
        wait_for(f"{url}/health", server, log)
        out, err = trainer.communicate(timeout=600)
    finally:
        if trainer is not None and trainer.poll() is None:
            trainer.kill()
        stop_group(server)
    assert trainer.returncode == 0, err[-3000:]
    assert out.strip().splitlines()[-1] == run_id
    assert err.count("store unreachable") == 1, err[-3000:]
    assert err.count("store back") == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED", run.data.tags.get("runboard.error")
    steps = sorted(p.step for p in client.get_metric_history(run_id, "train/loss"))
    assert steps == list(range(EPOCHS * STEPS_PER_EPOCH))  # every point, each once


def _first_points(client, trainer) -> str:
    """The run id, once the trainer's first points are in the store."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert trainer.poll() is None, trainer.communicate()[1][-3000:]
        for exp in client.search_experiments():
            for run in client.search_runs([exp.experiment_id]):
                if client.get_metric_history(run.info.run_id, "train/loss"):
                    return run.info.run_id
        time.sleep(0.5)
    raise AssertionError("the trainer logged no points in time")
