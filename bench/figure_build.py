"""Server time per rerun for the Compare page's 4 curve charts: building them (what
``dashboard.figure_cache`` spares a rerun whose points and options are unchanged) vs the cache's
fingerprint of their points, vs what ``st.plotly_chart`` does with any figure on every rerun
(``to_dict``, ``to_json``, the message hash). Synthetic curves, 1,000 steps per run and metric.

    .venv/bin/python -m bench.figure_build --runs 20,100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import plotly.io as pio
from streamlit import util

from dashboard.charts import curves_figure
from dashboard.figure_cache import points_version

METRICS = ("a", "b", "c", "d")


def frame(runs: int, steps: int = 1000) -> pd.DataFrame:
    rng, parts = np.random.default_rng(0), []
    for r in range(runs):
        for m in METRICS:
            v = rng.random(steps)
            parts.append(
                pd.DataFrame(
                    {
                        "run_id": f"run{r:028d}",
                        "metric": m,
                        "step": np.arange(steps),
                        "value": v,
                        "first": v,
                        "min": v - 0.1,
                        "max": v + 0.1,
                        "n": 3,
                        "timestamp": np.arange(steps) * 1000,
                        "epoch": np.nan,
                    }
                )
            )
    df = pd.concat(parts, ignore_index=True)
    df.attrs["total_points"] = {(f"run{r:028d}", m): 3 * steps for r in range(runs) for m in METRICS}
    return df


def best_of(rounds: int, fn) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def one_size(runs: int, rounds: int) -> str:
    df = frame(runs)
    parts = [df[df["metric"] == m] for m in METRICS]
    figs = [curves_figure(p, m).update_layout(height=380) for p, m in zip(parts, METRICS)]
    build = best_of(rounds, lambda: [curves_figure(p, m) for p, m in zip(parts, METRICS)])
    version = best_of(rounds, lambda: [points_version(p) for p in parts])
    ship = best_of(rounds, lambda: [util.calc_hash(pio.to_json(f.to_dict(), validate=False).encode()) for f in figs])
    return (
        f"{runs} runs x 4 charts: build {build:.0f} ms | fingerprint (cache hit) {version:.1f} ms | "
        f"st.plotly_chart serialise + hash (every rerun) {ship:.0f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="20,100")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for runs in (int(n) for n in args.runs.split(",")):
        print(one_size(runs, args.rounds))


if __name__ == "__main__":
    main()
