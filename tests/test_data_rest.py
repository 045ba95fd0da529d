"""The REST fallback against a real ``mlflow server``: the same frames as the SQL reader."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plain_store import write_plain_store

from dashboard import data

MLFLOW = Path(sys.executable).with_name("mlflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy after {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(sqlite uri, http uri, plain-store ids): one store, read directly and through a server."""
    tmp = tmp_path_factory.mktemp("rest")
    sqlite_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOARD_ARTIFACT_ROOT", (tmp / "artifacts").as_uri())
        ids = write_plain_store(sqlite_uri)
    port, log = _free_port(), tmp / "server.log"
    cmd = [str(MLFLOW), "server", "--backend-store-uri", sqlite_uri, "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield sqlite_uri, url, ids
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_rest_runs_match_sql_runs(served):
    sql_uri, http_uri, ids = served
    sql = data.runs([ids["experiment_id"]], uri=sql_uri)
    rest = data.runs([ids["experiment_id"]], uri=http_uri)
    assert list(rest.columns) == list(sql.columns)
    minmax = [c for c in sql.columns if c.endswith((".min", ".max"))]  # NaN over REST, by design
    pd.testing.assert_frame_equal(rest.drop(columns=minmax), sql.drop(columns=minmax), check_dtype=False)


@pytest.mark.slow
def test_rest_curves_match_sql_curves(served):
    sql_uri, http_uri, ids = served
    run_ids = [ids["long"], ids["nan_inf"], ids["unordered"], ids["no_metrics"]]
    args = (run_ids, ["train/loss", "val/loss"])
    sql = data.curves(*args, max_points=300, uri=sql_uri)
    rest = data.curves(*args, max_points=300, uri=http_uri)
    pd.testing.assert_frame_equal(rest, sql)
    assert rest.attrs["total_points"] == sql.attrs["total_points"]
    assert np.isinf(rest["value"]).sum() == 2


@pytest.mark.slow
def test_rest_run_and_metric_keys_match_sql(served):
    sql_uri, http_uri, ids = served
    assert data.run(ids["nan_inf"], uri=http_uri) == data.run(ids["nan_inf"], uri=sql_uri)
    assert data.run(ids["deleted"], uri=http_uri) is None
    both = [ids["unordered"], ids["html"]]
    assert data.metric_keys(both, uri=http_uri) == data.metric_keys(both, uri=sql_uri)
