"""Team-store read benchmark: Runboard's REST reader vs MLflow's own client, same ``mlflow server``.

    .venv/bin/python -m bench.read_rest                       # 20 runs × 4 metrics × 1,000 steps, 3 rounds
    .venv/bin/python -m bench.read_rest --runs 100 --rounds 5

A SQLite store is populated with SQL (``bench.read_curves``), an ``mlflow server`` (MLflow's default
4 workers, ``--workers``) is started over it, and each round times, cold (new clients), side by side:
MLflow's client loop (``get_metric_history`` per run × metric, what a user's script does) and
``dashboard.data.curves`` on the server's http:// URI (every point, ``max_points`` large enough to
keep them all). Medians of the rounds and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.read_curves import METRICS, log_curves, make_runs
from dashboard import data
from trainers import tracking


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(backend: str, workdir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", backend,
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-serve-artifacts"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with open(workdir / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(f"{url}/health", proc, workdir / "server.log")
    return proc, url


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 300) -> None:
    """Until ``url`` answers; the process is killed and the run ends if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"{url} did not answer within {timeout_s:.0f} s; see {log}")


def mlflow_loop(url: str, run_ids: list[str]) -> int:
    from mlflow import MlflowClient

    c = MlflowClient(tracking_uri=url)
    return sum(len(c.get_metric_history(r, k)) for r in run_ids for k in METRICS)


def runboard(url: str, run_ids: list[str], steps: int) -> int:
    return len(data.curves(run_ids, METRICS, max_points=steps, uri=url))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=4, help="mlflow server workers (MLflow's default: 4)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="runboard-bench-rest-") as tmp:
        backend = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ["RUNBOARD_ARTIFACT_ROOT"] = (Path(tmp) / "artifacts").as_uri()
        tracking.prepare_store(backend)
        _, ids = make_runs(backend, "rest-bench", args.runs)
        log_curves(backend, ids, args.steps)
        proc, url = _serve(backend, Path(tmp), args.workers)
        try:
            times: dict[str, list[float]] = {"mlflow": [], "runboard": []}
            for _ in range(args.rounds):
                for side, read in (("mlflow", lambda: mlflow_loop(url, ids)),
                                   ("runboard", lambda: runboard(url, ids, args.steps))):
                    t0 = time.perf_counter()
                    n = read()
                    times[side].append(time.perf_counter() - t0)
                    assert n == args.runs * len(METRICS) * args.steps, (side, n)
        finally:
            proc.terminate()
            proc.wait(30)
    m, r = statistics.median(times["mlflow"]), statistics.median(times["runboard"])
    print(f"{args.runs} runs × {len(METRICS)} metrics × {args.steps} steps over mlflow server "
          f"({args.workers} workers), median of {args.rounds}, load {os.getloadavg()[0]:.1f}:")
    print(f"  MlflowClient get_metric_history loop: {m:.2f} s   {[round(t, 2) for t in times['mlflow']]}")
    print(f"  dashboard.data.curves (REST):         {r:.2f} s   {[round(t, 2) for t in times['runboard']]}")
    print(f"  ratio: {m / r:.2f}x")


if __name__ == "__main__":
    main()
