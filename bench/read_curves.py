"""Read benchmark: Runboard's data layer vs MLflow's own client on the same store.

    .venv/bin/python -m bench.read_curves            # a temp SQLite store (~7 min)
    .venv/bin/python -m bench.read_curves --quick    # 200k-point long curve, 1 round, no 10k runs
    .venv/bin/python -m bench.read_curves --quick --rounds 5   # the same, median of 5
    .venv/bin/python -m bench.read_curves --uri postgresql+psycopg://postgres@127.0.0.1:5432/<empty db>

Stores are populated with SQL ``executemany`` into MLflow's own tables (runs are created through
``MlflowClient``, then their metric rows, or whole cloned runs, are inserted directly): MLflow's
ORM writes ~6k points/s, which would make populating take longer than the reads it sets up.
Populate time is not measured. Every timed read is cold (engines disposed, new ``MlflowClient``)
and the sides alternate, median of ``--rounds``. On SQLite the Arrow reader process is started
(and its start time printed) before any timing, as a running dashboard keeps it; the 100-run read
is also timed without it (``RUNBOARD_ARROW_READER=0``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from dashboard import data
from dashboard.data import engine as data_engine
from dashboard.data import reader_process
from trainers import tracking

METRICS = ("train/loss", "val/loss", "val/acc", "val/f1")
CHUNK = 20_000  # rows per executemany


# --- populating --------------------------------------------------------------------------------


def _writer(uri: str) -> sa.Engine:
    return sa.create_engine(uri)


def _bulk(uri: str, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
    """Raw executemany (SQLite) / COPY (PostgreSQL): ~10x SQLAlchemy's insert for these sizes."""
    if not rows:
        return
    eng = _writer(uri)
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        if eng.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(cols))
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
        raw.commit()
    finally:
        raw.close()
        eng.dispose()


METRIC_COLS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")


def make_runs(uri: str, experiment: str, n: int) -> tuple[str, list[str]]:
    """``n`` runs created through MlflowClient, each with two params."""
    c = tracking.client(uri)
    eid = tracking.experiment_id(experiment, uri)
    ids = [c.create_run(eid, run_name=f"run-{i}").info.run_id for i in range(n)]
    params = [(k, v, r) for r in ids for k, v in (("lr", "0.01"), ("batch", "64"))]
    _bulk(uri, "params", ("key", "value", "run_uuid"), params)
    return eid, ids


def log_curves(uri: str, run_ids: list[str], steps: int, metrics=METRICS, seed: int = 0) -> None:
    """``steps`` points per run × metric (random walks), plus the matching ``latest_metrics`` rows."""
    rng = np.random.default_rng(seed)
    step = np.arange(steps, dtype=np.int64).tolist()
    ts0 = int(time.time() * 1000)
    ts = [ts0 + s for s in step]
    rows, latest = [], []
    for run_id in run_ids:
        for key in metrics:
            values = np.cumsum(rng.standard_normal(steps)).tolist()
            rows += zip([key] * steps, values, ts, step, [False] * steps, [run_id] * steps)
            latest.append(rows[-1])
        if len(rows) >= 1_000_000:
            _bulk(uri, "metrics", METRIC_COLS, rows)
            rows = []
    _bulk(uri, "metrics", METRIC_COLS, rows)
    _bulk(uri, "latest_metrics", METRIC_COLS, latest)


def clone_runs(uri: str, template_id: str, n: int) -> None:
    """``n`` copies of one MLflow-created run (its runs, params, tags, metrics rows) via SQL."""
    eng = _writer(uri)
    with eng.connect() as conn:
        run = dict(conn.execute(sa.text("SELECT * FROM runs WHERE run_uuid = :r"), {"r": template_id}).mappings().one())
        children = {
            t: [
                dict(m)
                for m in conn.execute(sa.text(f"SELECT * FROM {t} WHERE run_uuid = :r"), {"r": template_id}).mappings()
            ]
            for t in ("params", "tags", "latest_metrics", "metrics")
        }
    eng.dispose()
    new_ids = [uuid.uuid4().hex for _ in range(n)]
    cols = tuple(run)
    _bulk(
        uri,
        "runs",
        cols,
        [tuple({**run, "run_uuid": rid, "name": f"clone-{i}"}.values()) for i, rid in enumerate(new_ids)],
    )
    for table, rows in children.items():
        if rows:
            cols = tuple(rows[0])
            _bulk(uri, table, cols, [tuple({**row, "run_uuid": rid}.values()) for rid in new_ids for row in rows])


def analyze(uri: str) -> None:
    """Fresh planner statistics after bulk inserts (what prepare_store does on the next start)."""
    eng = _writer(uri)
    with eng.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    eng.dispose()


# --- timing --------------------------------------------------------------------------------------


def cold(uri: str, fn) -> float:
    """Seconds for one call with no cached engine or client."""
    data_engine.dispose()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def duel(uri: str, rounds: int, *fns) -> list[float]:
    """Median seconds of each read (MLflow's first), alternating."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, t in zip(fns, times):
            t.append(cold(uri, fn))
    return [statistics.median(t) for t in times]


def in_process(fn):
    """``fn`` with the Arrow reader process switched off: Python's sqlite3 in this process."""
    def read():
        os.environ["RUNBOARD_ARROW_READER"] = "0"
        try:
            fn()
        finally:
            os.environ.pop("RUNBOARD_ARROW_READER")

    return read


def history_loop(uri: str, run_ids, metrics):
    def read():
        c = tracking.client(uri)
        for r in run_ids:
            for k in metrics:
                c.get_metric_history(r, k)

    return read


# --- scenarios -----------------------------------------------------------------------------------


def bench_curves(uri: str, rounds: int, table: list) -> None:
    _, ids = make_runs(uri, "bench-100", 100)
    log_curves(uri, ids, 1000)
    analyze(uri)
    ours_fn = partial(data.curves, ids, METRICS, uri=uri)
    if tracking.sqlite_path(uri) is None:
        theirs, ours = duel(uri, rounds, history_loop(uri, ids, METRICS), ours_fn)
    else:
        theirs, ours, ours_in_process = duel(uri, rounds, history_loop(uri, ids, METRICS), ours_fn, in_process(ours_fn))
        table.append(("100 runs × 4 metrics × 1,000 steps, every point, in-process (`RUNBOARD_ARROW_READER=0`)",
                      "get_metric_history loop", theirs, ours_in_process))
    table.append(("100 runs × 4 metrics × 1,000 steps, every point", "get_metric_history loop", theirs, ours))


def bench_long(uri: str, rounds: int, points: int, table: list) -> None:
    _, ids = make_runs(uri, f"bench-long-{points}", 1)
    log_curves(uri, ids, points, metrics=("train/loss",))
    analyze(uri)
    reduce = partial(data.curves, ids, ["train/loss"], max_points=1000, uri=uri)
    theirs, ours = duel(uri, rounds, history_loop(uri, ids, ["train/loss"]), reduce)
    table.append((f"one {points:,}-step curve -> 1,000 buckets", "get_metric_history", theirs, ours))


def bench_growth(uri: str, rounds: int, table: list) -> None:
    """curves() time with 500 runs next to the 100-run figure."""
    _, ids = make_runs(uri, "bench-500", 500)
    log_curves(uri, ids, 1000, seed=1)
    analyze(uri)
    ours = statistics.median(cold(uri, lambda: data.curves(ids, METRICS, uri=uri)) for _ in range(rounds))
    table.append(("500 runs × 4 metrics × 1,000 steps, every point", "(curves() only)", float("nan"), ours))


def bench_runs(uri: str, rounds: int, n: int, table: list) -> None:
    import mlflow

    c = tracking.client(uri)
    eid = tracking.experiment_id(f"bench-runs-{n}", uri)
    template = c.create_run(eid, run_name="template", tags={"team": "a", "family": "mlp"}).info.run_id
    for key, value in (("lr", "0.01"), ("batch", "64"), ("layers", "3"), ("dropout", "0.1")):
        c.log_param(template, key, value)
    for step in range(10):
        for key in METRICS:
            c.log_metric(template, key, float(step), step=step)
    c.set_terminated(template)
    clone_runs(uri, template, n - 1)
    analyze(uri)
    theirs, ours = duel(
        uri,
        rounds,
        lambda: mlflow.search_runs(experiment_ids=[eid], max_results=100_000, search_all_experiments=False),
        lambda: data.runs([eid], uri=uri),
    )
    table.append((f"{n:,} runs, 4 params, 4 metrics", "mlflow.search_runs", theirs, ours))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", help="a database URI to populate (default: a temp SQLite store)")
    ap.add_argument("--rounds", type=int, help="repetitions of each read (default: 3, --quick: 1)")
    ap.add_argument("--quick", action="store_true", help="200k-point long curve, 1 round, 1,000 runs only")
    args = ap.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.uri or f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ["MLFLOW_TRACKING_URI"] = uri  # mlflow.search_runs reads the global URI
        os.environ.setdefault("RUNBOARD_ARTIFACT_ROOT", (Path(tmp) / "artifacts").as_uri())
        tracking.prepare_store(uri)
        if tracking.sqlite_path(uri) is not None:
            start = time.perf_counter()
            ready = reader_process.wait_ready()
            print(
                f"Arrow reader process {'ready' if ready else 'NOT AVAILABLE'} "
                f"after {time.perf_counter() - start:.2f} s "
                "(started once per dashboard process; not in the timings)",
                flush=True,
            )
        table: list = []
        long_points = 200_000 if args.quick else 1_000_000
        print(f"store: {uri.split('@')[-1]}; rounds: {rounds}; long curve: {long_points:,} points", flush=True)
        for step in (
            lambda: bench_curves(uri, rounds, table),
            lambda: bench_growth(uri, rounds, table),
            lambda: bench_long(uri, rounds, long_points, table),
            lambda: bench_runs(uri, rounds, 1_000, table),
            *(() if args.quick else (lambda: bench_runs(uri, rounds, 10_000, table),)),
        ):
            step()
            print(f"  done: {table[-1][0]}", flush=True)
        data_engine.dispose()
    print_table(table)


def print_table(table: list) -> None:
    print("\n| read | MLflow | MLflow s | Runboard s | speed-up |")
    print("|---|---|---:|---:|---:|")
    for what, theirs_name, theirs, ours in table:
        ratio = "" if theirs != theirs else f"{theirs / ours:.0f}×"
        t = "" if theirs != theirs else f"{theirs:.2f}"
        print(f"| {what} | {theirs_name} | {t} | {ours:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
