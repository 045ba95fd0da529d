"""Memory of a served dashboard: after start, after a 100-run view, after it has been idle.

    .venv/bin/python -m bench.dashboard_memory                 # 100 runs × 4 metrics × 1,000 steps
    .venv/bin/python -m bench.dashboard_memory --runs 20 --idle 90

``python -m dashboard`` (its queue worker in the process, as ``make run`` serves it) on a fresh
SQLite store; headless Chromium (Debian's) opens the pages. RSS and PSS (MB, /proc/<pid>/smaps_rollup)
of the dashboard process and of its descendants (the reader processes) are printed:

- **after start**: the server answers, no page opened yet;
- **after the Runs page**: a first session ran the app (its imports);
- **after the N-run view**: Compare of every run with 4 metrics, every chart drawn;
- **after idle**: the tab closed, then ``--idle`` s with no request: reader processes exit after
  ``RUNBOARD_READER_IDLE_S`` (this run sets it to ``--reader-idle``), stale cache entries go, and
  Streamlit drops a closed tab's session after ``server.disconnectedSessionTTL`` (120 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.browser_latency import CHROMIUM_ARGS, RUNBOARD_DRAWN, TIMEOUT_MS, _descendants
from bench.read_curves import METRICS, log_curves, make_runs
from bench.read_rest import _free_port, wait_healthy
from trainers import tracking

REPO = Path(__file__).resolve().parent.parent


def memory(pid: int) -> dict[str, tuple[float, float]]:
    """{"dashboard": (RSS, PSS), "readers": (RSS, PSS)} in MB; readers = all descendants."""
    def one(p: int) -> tuple[float, float]:
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:])
        except OSError:
            return 0.0, 0.0
        return int(fields["Rss"].split()[0]) / 1024, int(fields["Pss"].split()[0]) / 1024

    kids = [one(k) for k in _descendants(pid)]
    return {"dashboard": one(pid), "readers": (sum(k[0] for k in kids), sum(k[1] for k in kids)),
            "processes": (1 + len(kids), 0)}


def report(what: str, pid: int) -> None:
    m = memory(pid)
    (d_rss, d_pss), (r_rss, r_pss), (n, _) = m["dashboard"], m["readers"], m["processes"]
    print(f"{what:<28} | {d_rss:>6.0f} {d_pss:>6.0f} | {r_rss:>6.0f} {r_pss:>6.0f} | {d_rss + r_rss:>6.0f} "
          f"{d_pss + r_pss:>6.0f} | {n:>2}", flush=True)


def _dashboard(uri: str, workdir: Path, reader_idle: float) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "dashboard", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RUNBOARD_READER_IDLE_S": str(reader_idle)}
    with open(workdir / "dashboard.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(f"{base}/_stcore/health", proc, workdir / "dashboard.log")
    return proc, base


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--idle", type=float, default=150.0, help="seconds with no page open before the last figure")
    p.add_argument("--reader-idle", type=float, default=60.0, help="RUNBOARD_READER_IDLE_S for the dashboard")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="runboard-bench-memory-") as tmp:
        work = Path(tmp)
        uri = f"sqlite:///{work / 'mlflow.db'}"
        os.environ["RUNBOARD_ARTIFACT_ROOT"] = (work / "artifacts").as_uri()
        tracking.prepare_store(uri)
        _, ids = make_runs(uri, "memory", args.runs)
        log_curves(uri, ids, args.steps)
        with sqlite3.connect(tracking.sqlite_path(uri)) as con:
            tracking.refresh_statistics(con)
        dash, base = _dashboard(uri, work, args.reader_idle)
        print(f"{args.runs} runs × {len(METRICS)} metrics × {args.steps:,} steps; MB "
              f"(load {os.getloadavg()[0]:.1f})")
        print(f"{'':<28} | {'dashboard RSS/PSS':>13} | {'readers RSS/PSS':>13} | {'total RSS/PSS':>13} | procs")
        try:
            time.sleep(3)  # the worker thread's start-up
            report("after start", dash.pid)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1400})
                page.goto(f"{base}/runs")
                page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=TIMEOUT_MS)
                report("after the Runs page", dash.pid)
                page.goto(f"{base}/compare?runs={','.join(ids)}&metrics={','.join(METRICS)}", wait_until="commit")
                page.wait_for_function(RUNBOARD_DRAWN, arg=[len(METRICS), len(ids), False, None],
                                       timeout=TIMEOUT_MS, polling="raf")
                report(f"after the {args.runs}-run view", dash.pid)
                browser.close()
            time.sleep(args.idle)
            report(f"after {args.idle:.0f} s idle", dash.pid)
        finally:
            os.killpg(dash.pid, signal.SIGTERM)
            dash.wait(30)
            errors = [line for line in (work / "dashboard.log").read_text().splitlines() if "Traceback" in line]
            print(f"dashboard log: {len(errors)} traceback(s)")


if __name__ == "__main__":
    main()
