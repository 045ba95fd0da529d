"""Server time of a Compare rerun that changes no chart, with the figure cache and without it,
side by side in one process (Streamlit's AppTest drives the page; no browser).

    .venv/bin/python -m bench.compare_rerun --runs 20 --rounds 5

One SQLite store, ``--runs`` runs × 4 metrics × 1,000 steps. Per round, cache on and off in turn:
- **unrelated control**: "Differences only" toggled (the charts' points and options are unchanged);
- **re-read, same points**: the page caches cleared first, as a live tick past its TTL: the curves are
  read again but unchanged.
Prints medians in seconds and ``uptime``'s load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.read_curves import METRICS, log_curves, make_runs
from dashboard.chart_controls import FIGURES
from trainers import tracking

APP = str(tracking.REPO / "dashboard" / "app.py")


def _page(ids: list[str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"], at.query_params["metrics"] = ",".join(ids), ",".join(METRICS)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def one_round(at: AppTest, cached: bool) -> dict[str, float]:
    FIGURES.clear()
    FIGURES.max_bytes = 48 << 20 if cached else 0  # 0: every figure is built, none held
    at.run()  # fills the cache (when on) for this round
    toggle = at.toggle(key="cmp_diff")
    unrelated = _timed(lambda: toggle.set_value(not toggle.value).run())

    def reread():
        st.cache_data.clear()
        at.run()

    return {"unrelated control": unrelated, "re-read, same points": _timed(reread)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="runboard-bench-rerun-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ.update(
            MLFLOW_TRACKING_URI=uri, RUNBOARD_WORKER="off", RUNBOARD_ARTIFACT_ROOT=(Path(tmp) / "artifacts").as_uri()
        )
        tracking.prepare_store(uri)
        _, ids = make_runs(uri, "rerun", args.runs)
        log_curves(uri, ids, 1000)
        at = _page(ids)
        rounds = {True: [], False: []}
        for _ in range(args.rounds):
            for cached in (True, False):
                rounds[cached].append(one_round(at, cached))
        for what in rounds[True][0]:
            on, off = (statistics.median(r[what] for r in rounds[c]) for c in (True, False))
            print(f"{args.runs} runs | {what:<21} | cache on {on:.2f} s | off {off:.2f} s | off/on {off / on:.2f}")
        print(f"load {os.getloadavg()[0]:.1f} (rounds: {args.rounds}, medians)")


if __name__ == "__main__":
    main()
