"""Health flags at scale (issue 17): computing every run's flags from full curves, next to the time
of the runs table they are shown in.

    .venv/bin/python -m bench.health_scale                          # 1,000 runs × 4 metrics × 10,000 steps
    .venv/bin/python -m bench.health_scale --runs 50 --steps 2000   # a quick check

The store is populated with SQL (``bench.read_curves``: random walks, 2 loss and 2 other metrics
per run); populating is not timed. Times (median of ``--rounds``, engines disposed before each):
the runs frame without health (``runs_sql.runs``), the first flags (nothing cached: every loss
curve read whole, every other curve's NaN/inf by one ``MIN(step)``), the flags again (nothing
grew: watermarks only), the flags after ``--grow`` runs logged one more point each, and the
runs frame with health as pages read it (``data.runs``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.read_curves import METRICS, _bulk, analyze, log_curves, make_runs
from dashboard import data
from dashboard.data import engine as data_engine
from dashboard.data import health_store, reader_process, runs_sql
from trainers import tracking


def timed(fn) -> tuple[float, object]:
    data_engine.dispose()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(rounds: int, fn) -> float:
    return statistics.median(timed(fn)[0] for _ in range(rounds))


def drop_cache(uri: str) -> None:
    health_store._writer(uri)  # the table exists from the first use on
    eng = sa.create_engine(uri)
    with eng.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {health_store.TABLE}"))
    eng.dispose()
    health_store._memo.clear()


def grow(uri: str, run_ids: list[str], steps: int) -> None:
    """One more point of every metric of these runs (a live run's next step)."""
    ts = int(time.time() * 1000) + steps
    rows = [(key, 0.5, ts, steps, False, rid) for rid in run_ids for key in METRICS]
    _bulk(uri, "metrics", ("key", "value", "timestamp", "step", "is_nan", "run_uuid"), rows)
    eng = sa.create_engine(uri)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE latest_metrics SET step = :s, timestamp = :t, value = 0.5 WHERE run_uuid = :r"),
                     [{"s": steps, "t": ts, "r": rid} for rid in run_ids])
    eng.dispose()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", help="an empty database to populate (default: a temp SQLite store)")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--grow", type=int, default=10, help="runs that log one more point before the last timing")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.uri or f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ.setdefault("RUNBOARD_ARTIFACT_ROOT", (Path(tmp) / "artifacts").as_uri())
        tracking.prepare_store(uri)
        if tracking.sqlite_path(uri) is not None:
            print(f"Arrow reader process ready: {reader_process.wait_ready()}", flush=True)
        start = time.perf_counter()
        eid, ids = make_runs(uri, "health-scale", args.runs)
        log_curves(uri, ids, args.steps)
        analyze(uri)
        print(f"populated {args.runs:,} runs × {len(METRICS)} metrics × {args.steps:,} steps "
              f"in {time.perf_counter() - start:.0f} s (not timed)", flush=True)
        frame = runs_sql.runs(uri, [eid])
        table = [("runs frame without health (runs_sql.runs)", median(args.rounds, lambda: runs_sql.runs(uri, [eid])))]
        firsts = []
        for _ in range(args.rounds):
            drop_cache(uri)
            firsts.append(timed(lambda: health_store.flags(uri, frame))[0])
        table.append(("flags, nothing cached (full curves)", statistics.median(firsts)))
        table.append(("flags, nothing grew (watermarks)", median(args.rounds, lambda: health_store.flags(uri, frame))))
        grow(uri, ids[:args.grow], args.steps)
        table.append((f"flags after {args.grow} runs grew", timed(lambda: health_store.flags(uri, frame))[0]))
        table.append(("runs frame with health (data.runs)", median(args.rounds, lambda: data.runs([eid], uri=uri))))
        data_engine.dispose()
    print(f"\n{args.runs:,} runs × {len(METRICS)} metrics × {args.steps:,} steps, {uri.split('://')[0]}")
    print("| read | s |\n|---|---:|")
    for what, seconds in table:
        print(f"| {what} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
