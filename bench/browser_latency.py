"""Time to chart in a real browser: Runboard's Compare page vs MLflow's own UI, same store, one run.

    .venv/bin/python -m bench.browser_latency                  # 5, 20 and 100 runs × 4 metrics × 1,000 steps
    .venv/bin/python -m bench.browser_latency --runs 20 --rounds 5

One SQLite store holds an experiment per size. Runboard's dashboard and an ``mlflow server`` (its UI)
serve it side by side; headless Chromium (Debian's) opens, per size and round:

- **navigation**: from navigation start until every chart on the page has its traces drawn
  (Runboard: the Compare page of all the runs with 4 metrics; MLflow: the experiment's chart view,
  which draws its default visible runs, at most 10, from 320 sampled points each);
- **interaction**: from a click until every chart shows the change (Runboard: "Log y" on, and a run
  added in the runs picker; MLflow: a hidden run made visible — none is hidden at 5 runs).

Memory of the dashboard process and its reader processes (RSS and PSS, MB, from /proc) is printed
after start and after the largest view. The first Runboard view after the server starts is
reported on its own (imports, reader processes); the rounds after it give the medians.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.read_curves import METRICS, log_curves, make_runs
from bench.read_rest import _free_port, _serve, wait_healthy
from trainers import tracking

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 180_000

# Truthy (performance.now()) once every Runboard chart has ``n`` run lines (and, if asked, a log y axis).
RUNBOARD_DRAWN = """([charts, n, log, rid]) => {
  const plots = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .filter(p => p.data && p.data.some(t => t.meta && t.meta.role === 'line'));  // curve charts only
  if (plots.length < charts) return false;
  const ok = plots.every(p => p._fullLayout && p.querySelector('.main-svg')
    && p.data.filter(t => t.meta && t.meta.role === 'line').length >= n
    && (!log || (p.layout.yaxis && p.layout.yaxis.type === 'log'))
    && (!rid || p.data.some(t => t.meta && t.meta.run_id === rid)));
  return ok && performance.now();
}"""
# Truthy once MLflow's chart view has ``charts`` plots with at least ``n`` traces, and ``name`` if given.
MLFLOW_DRAWN = """([charts, n, name]) => {
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  if (plots.length < charts) return false;
  const ok = plots.every(p => p.data && p.querySelector('.main-svg') && p.data.length >= n
    && (!name || p.data.some(t => t.name === name)));
  return ok && performance.now();
}"""


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB of ``pid`` and its descendants (the reader processes)."""
    rss = pss = 0.0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss, pss


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(k) for k in out]
    return kids + [g for k in kids for g in _descendants(k)]


def _dashboard(uri: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RUNBOARD_WORKER": "off"}
    with open(workdir / "dashboard.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(f"{base}/_stcore/health", proc, workdir / "dashboard.log")
    return proc, base


def _nav(page, url: str, js: str, arg) -> float:
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    return page.wait_for_function(js, arg=arg, timeout=TIMEOUT_MS, polling="raf").json_value() / 1000


def _after_click(page, locator, js: str, arg) -> float:
    start = page.evaluate("performance.now()")
    locator.click()
    return (page.wait_for_function(js, arg=arg, timeout=TIMEOUT_MS, polling="raf").json_value() - start) / 1000


def runboard_round(page, base: str, ids: list[str], names: dict[str, str]) -> dict[str, float]:
    """Navigation to Compare of all but the last run, Log y, then the last run added."""
    shown, extra = ids[:-1], ids[-1]
    url = f"{base}/compare?runs={','.join(shown)}&metrics={','.join(METRICS)}"
    out = {"navigation": _nav(page, url, RUNBOARD_DRAWN, [len(METRICS), len(shown), False, None])}
    out["log y"] = _after_click(page, page.get_by_text("Log y", exact=True), RUNBOARD_DRAWN,
                                [len(METRICS), len(shown), True, None])
    picker = page.locator('[data-testid="stMultiSelect"]').first.locator("input")
    picker.click()
    picker.fill(names[extra])
    option = page.get_by_role("option", name=names[extra]).first
    out["add a run"] = _after_click(page, option, RUNBOARD_DRAWN, [len(METRICS), len(ids), True, extra])
    return out


def mlflow_round(page, url: str, eid: str, n_runs: int) -> dict[str, float]:
    visible = min(n_runs, 10)  # MLflow's chart view shows the first 10 runs unless told otherwise
    view = f"{url}/#/experiments/{eid}/runs?compareRunsMode=CHART"
    out = {"navigation": _nav(page, view, MLFLOW_DRAWN, [len(METRICS), 2 * visible, None])}
    hidden = page.locator('label:has(span:text-is("Unhide run"))')
    if n_runs > visible and hidden.count():
        name = page.evaluate("""() => {
            const row = Array.from(document.querySelectorAll('.ag-row'))
                .find(r => r.textContent.includes('Unhide run'));
            return row ? Array.from(row.querySelectorAll('a')).map(a => a.textContent.trim()).find(Boolean)
                       : null; }""")
        out["add a run"] = _after_click(page, hidden.first, MLFLOW_DRAWN, [len(METRICS), 2 * visible, name])
    return out


def _median(rounds: list[dict], key: str) -> float | None:
    values = [r[key] for r in rounds if key in r]
    return statistics.median(values) if values else None


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", default="5,20,100", help="comma-separated run counts")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    sizes = [int(n) for n in args.runs.split(",")]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="runboard-bench-browser-") as tmp:
        work = Path(tmp)
        uri = f"sqlite:///{work / 'mlflow.db'}"
        os.environ["RUNBOARD_ARTIFACT_ROOT"] = (work / "artifacts").as_uri()
        tracking.prepare_store(uri)
        experiments = {}
        for n in sizes:
            eid, ids = make_runs(uri, f"browser-{n}", n)
            log_curves(uri, ids, args.steps, seed=n)
            experiments[n] = (eid, ids, {r: f"run-{i}" for i, r in enumerate(ids)})
        with sqlite3.connect(tracking.sqlite_path(uri)) as con:
            tracking.refresh_statistics(con)  # as the dashboard's start would, after the bulk writes
        dash, base = _dashboard(uri, work)
        server, mlflow_url = _serve(uri, work, 4)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1400})
                first = _nav(
                    page,
                    f"{base}/compare?runs={','.join(experiments[sizes[0]][1])}&metrics={','.join(METRICS)}",
                    RUNBOARD_DRAWN,
                    [len(METRICS), sizes[0], False, None],
                )
                after_start = memory_mb(dash.pid)
                print(f"Runboard first view after the server started ({sizes[0]} runs): {first:.2f} s; "
                      f"dashboard memory RSS {after_start[0]:.0f} MB, PSS {after_start[1]:.0f} MB")
                print(f"{'runs':>5} | {'what':<12} | {'Runboard':>9} | {'MLflow UI':>9}")
                for n in sizes:
                    eid, ids, names = experiments[n]
                    ours = [runboard_round(page, base, ids, names) for _ in range(args.rounds)]
                    theirs = [mlflow_round(page, mlflow_url, eid, n) for _ in range(args.rounds)]
                    for key in ("navigation", "log y", "add a run"):
                        print(f"{n:>5} | {key:<12} | {_fmt(_median(ours, key)):>9} | {_fmt(_median(theirs, key)):>9}")
                largest = memory_mb(dash.pid)
                print(
                    f"dashboard memory after the {sizes[-1]}-run views: "
                    f"RSS {largest[0]:.0f} MB, PSS {largest[1]:.0f} MB "
                    f"(load {os.getloadavg()[0]:.1f}; rounds: {args.rounds}, medians)"
                )
                browser.close()
        finally:
            for proc in (dash, server):
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                proc.wait(30)


if __name__ == "__main__":
    main()
