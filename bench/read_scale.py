"""Reads of long curves with the summary pyramid (issue 13), side by side in one process, per backend.

    .venv/bin/python -m bench.read_scale --steps 100000 --runs 3          # small: proves it works
    .venv/bin/python -m bench.read_scale                                  # issue 13's sizes (slow)
    .venv/bin/python -m bench.read_scale --backends sqlite --long-steps 1000000

Stores are made by MLflow (runs created with ``MlflowClient``); their points go in by bulk SQL
into MLflow's own ``metrics`` / ``latest_metrics`` tables (``tests/plain_store.write_metric_rows``:
executemany on SQLite, COPY on PostgreSQL), as MLflow's ORM writes ~6k points/s and 30 M points
would take hours. Populating is not timed. PostgreSQL uses a throwaway database on
``--pg-admin``'s server, dropped at the end.

Printed per backend (time ratios, both sides measured in this run):
- length: one curve of ``--long-steps`` vs one of ``--short-steps``, ``--buckets`` buckets, after
  the first read (median of ``--rounds``); target ratio <= 2;
- compare: ``--runs`` x ``--metrics`` x ``--steps``, the second read in a fresh process (summaries
  built by a first one; its engine made before the clock starts) vs today's raw path
  (``RUNBOARD_CURVE_SUMMARIES=0``, fresh process) vs
  MLflow's ``get_metric_history`` loop (timed on ``--mlflow-curves`` curves, scaled to all);
- runs table: ``dashboard.data.runs`` (summaries fresh) vs ``mlflow.search_runs`` (medians);
- first read of a never-summarised ``--steps`` curve written by someone else (includes its build)
  vs the raw path's read of it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np
import sqlalchemy as sa

from trainers import tracking

KEYS = ("train/loss", "val/loss", "val/acc", "lr", "grad_norm")


def populate(uri: str, runs: int, metrics: int, steps: int, name: str) -> tuple[str, list[str]]:
    from tests.plain_store import write_metric_rows

    client = tracking.client(uri)
    eid = tracking.experiment_id(name, uri)
    ids = []
    for i in range(runs):
        run_id = client.create_run(eid, run_name=f"{name}-{i}").info.run_id
        s = np.arange(steps)
        for j, key in enumerate(KEYS[:metrics]):
            write_metric_rows(uri, run_id, key, s, np.sin(s / 997.0 + i + j) + (s == steps // 2) * 1e6)
        ids.append(run_id)
    return eid, ids


def timed(fn, rounds: int = 1) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def child(uri: str, runs: list[str], keys: list[str], buckets: int, summaries: bool) -> float:
    """One Compare read in a fresh process; its read time only (not its imports)."""
    env = {**os.environ, "RUNBOARD_CURVE_SUMMARIES": "1" if summaries else "0", "RUNBOARD_ARROW_READER": "0"}
    # The engine (and the store check MLflow's migrations cost) is made before the clock starts.
    code = (
        "import json, sys, time; from dashboard import data; from dashboard.data import engine; "
        "a = json.loads(sys.argv[1]); "
        "engine.engine(a['uri']); t = time.perf_counter(); "
        "df = data.curves(a['runs'], a['keys'], max_points=a['b'], uri=a['uri']); print(time.perf_counter() - t)"
    )
    arg = json.dumps({"uri": uri, "runs": runs, "keys": keys, "b": buckets})
    out = subprocess.run(
        [sys.executable, "-c", code, arg], env=env, capture_output=True, text=True, check=True, cwd=tracking.REPO
    )
    return float(out.stdout.strip().splitlines()[-1])


def bench(uri: str, a: argparse.Namespace) -> dict[str, float]:
    from dashboard import data

    r: dict[str, float] = {}
    keys = list(KEYS[: a.metrics])
    _, (long_run,) = populate(uri, 1, 1, a.long_steps, "long")
    _, (short_run,) = populate(uri, 1, 1, a.short_steps, "short")
    eid, runs = populate(uri, a.runs, a.metrics, a.steps, "compare")
    print(f"  populated ({uri.split(':')[0]})", flush=True)

    def read(run):
        return lambda: data.curves([run], ["train/loss"], max_points=a.buckets, uri=uri)

    r["long first read s"] = timed(read(long_run))
    read(short_run)()
    r["long s"], r["short s"] = timed(read(long_run), a.rounds), timed(read(short_run), a.rounds)
    r["length ratio"] = r["long s"] / r["short s"]

    r["compare raw s"] = child(uri, runs, keys, a.buckets, summaries=False)
    child(uri, runs, keys, a.buckets, summaries=True)  # the first read: builds what the writer did not
    r["compare pyramid s"] = child(uri, runs, keys, a.buckets, summaries=True)
    client = tracking.client(uri)
    sample = [(run, key) for run in runs for key in keys][: a.mlflow_curves]
    per_curve = timed(lambda: [client.get_metric_history(run, key) for run, key in sample]) / len(sample)
    r["compare mlflow s (scaled)"] = per_curve * len(runs) * len(keys)
    r["compare x raw"] = r["compare raw s"] / r["compare pyramid s"]
    r["compare x mlflow"] = r["compare mlflow s (scaled)"] / r["compare pyramid s"]

    data.runs([eid], uri=uri)
    r["runs table s"] = timed(lambda: data.runs([eid], uri=uri), a.rounds)
    import mlflow

    mlflow.set_tracking_uri(uri)
    r["search_runs s"] = timed(lambda: mlflow.search_runs([eid]), a.rounds)
    r["runs table / search_runs"] = r["runs table s"] / r["search_runs s"]

    _, (foreign,) = populate(uri, 1, 1, a.steps, "foreign")
    os.environ["RUNBOARD_CURVE_SUMMARIES"] = "0"
    r["foreign raw s"] = timed(read(foreign))
    os.environ.pop("RUNBOARD_CURVE_SUMMARIES")
    r["foreign first read s"] = timed(read(foreign))
    r["foreign second read s"] = timed(read(foreign), a.rounds)
    return r


def pg_store(admin: str):
    name = f"runboard_bench_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        from dashboard.data import engine as db

        db.dispose()
        with eng.connect() as con:
            con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--metrics", type=int, default=3)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--long-steps", type=int, default=None, help="default: 10 x --steps")
    p.add_argument("--short-steps", type=int, default=10_000)
    p.add_argument("--buckets", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mlflow-curves", type=int, default=1)
    p.add_argument("--pg-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    a = p.parse_args()
    a.long_steps = a.long_steps or 10 * a.steps
    print(
        f"read_scale: {a.runs} runs x {a.metrics} metrics x {a.steps} steps; "
        f"long {a.long_steps} vs short {a.short_steps}; "
        f"{a.buckets} buckets; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = {}
    for backend in a.backends.split(","):
        if backend == "sqlite":
            tmp = tempfile.TemporaryDirectory()
            uri, done = f"sqlite:///{tmp.name}/mlflow.db", tmp.cleanup
        else:
            uri, done = pg_store(a.pg_admin)
        tracking.prepare_store(uri)
        try:
            results[backend] = bench(uri, a)
        finally:
            done()
    names = list(next(iter(results.values())))
    print(f"{'':28}" + "".join(f"{b:>14}" for b in results))
    for n in names:
        print(f"{n:28}" + "".join(f"{results[b][n]:14.4g}" for b in results))


if __name__ == "__main__":
    main()
