"""Stress the sweep machinery: many small Optuna, grid and random sweeps (parallelism 2-4) on one
worker while the machine is loaded, and report every trial that did not end FINISHED with its
status, ``runboard.error`` and the supervisor's log lines about it (issue 19).

    nice -n 19 .venv/bin/python -m bench.sweep_stress --store sqlite --sweeps 50 --budget 6 --hog 2
    nice -n 19 .venv/bin/python -m bench.sweep_stress --store postgresql --sweeps 50 --budget 6 --hog 2

Each run gets a fresh store (a SQLite file in a temp folder, or a new PostgreSQL database on
``RUNBOARD_TEST_PG``'s server, dropped at the end). Trials are the tests' "tiny" family, one
epoch of ``--steps`` steps. ``--hog N`` keeps N busy-looping processes running (they inherit this
process's niceness). ``--minutes`` bounds the wall time: sweeps still going then are counted as
unfinished, and the report says so. Exit status 0 only when every trial ended FINISHED.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
PG_ADMIN = os.environ.get("RUNBOARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _hog() -> None:
    while True:
        pass


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{time.strftime('%H:%M:%S')} {record.levelname} {record.name}: {record.getMessage()}"
                          + (f"\n{self.formatException(record.exc_info)}" if record.exc_info else ""))


def _fresh_store(kind: str, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'mlflow.db'}", None
    import sqlalchemy as sa

    name = f"runboard_stress_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _kill_trainers(uri: str) -> None:
    from experiments.executors.local import pid_alive
    from trainers import tracking
    from trainers.run_record import PID_TAG

    c = tracking.client(uri)
    for e in c.search_experiments():
        for run in c.search_runs([e.experiment_id], max_results=50_000):
            pid = run.data.tags.get(PID_TAG, "")
            if pid.isdigit() and pid_alive(int(pid), run.info.run_id):
                try:
                    os.killpg(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sweep_stress", description=__doc__.split("\n\n")[0])
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--sweeps", type=int, default=50)
    p.add_argument("--budget", type=int, default=6, help="trials per sweep (grid sweeps use 4 or 6 points)")
    p.add_argument("--steps", type=int, default=4, help="training steps per trial")
    p.add_argument("--limit", type=int, default=4, help="the worker's runs at once")
    p.add_argument("--hog", type=int, default=2, help="busy-looping processes while it runs")
    p.add_argument("--minutes", type=float, default=60.0, help="give up waiting after this long")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="runboard-stress-"))
    uri, pg_name = _fresh_store(args.store, tmp)
    os.environ.update({"MLFLOW_TRACKING_URI": uri, "RUNBOARD_RUNTIME_DIR": str(tmp / "runtime"),
                       "RUNBOARD_ARTIFACT_ROOT": (tmp / "artifacts").as_uri(), "RUNBOARD_FAMILIES": "tiny_family",
                       "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "RUNBOARD_WORKER": "off"})
    sys.path[:0] = [str(REPO), str(TESTS)]
    import tiny_family  # noqa: F401 - registers "tiny" in this process (the sweeps validate against it)

    from experiments import queue, sweeps
    from experiments.worker import start_in_thread
    from trainers import tracking
    from trainers.run_record import ERROR_TAG, TERMINAL

    lines = _Lines()
    logging.getLogger("experiments").addHandler(lines)
    logging.getLogger("experiments").setLevel(logging.INFO)
    hogs = [mp.Process(target=_hog, daemon=True) for _ in range(args.hog)]
    for h in hogs:
        h.start()
    worker = None
    t0 = time.monotonic()
    try:
        tracking.prepare_store(uri)
        worker = start_in_thread(uri, limit=args.limit, poll_s=0.2)
        assert worker is not None, "another worker holds this store's lock"
        base = {"max_epochs": 1, "max_steps": args.steps, "n_samples": 8 * args.steps}
        parents = []
        for i in range(args.sweeps):
            kind, par = ("optuna", "grid", "random")[i % 3], 2 + i % 3
            if kind == "grid":
                space = (
                    {"lr": [0.01, 0.02, 0.05], "batch_size": [4, 8]}
                    if args.budget >= 6
                    else {"lr": [0.01, 0.05], "batch_size": [4, 8]}
                )
                budget = 6 if args.budget >= 6 else 4
            else:
                space, budget = {"lr": {"low": 1e-3, "high": 0.1, "log": True}}, args.budget
            parents.append(sweeps.create(kind, "tiny", base, space, budget=budget, parallelism=par, seed=i,
                                         name=f"stress-{kind}-{i}", uri=uri))
        client = tracking.client(uri)
        deadline = t0 + args.minutes * 60
        while time.monotonic() < deadline:
            open_ = [pid for pid in parents if client.get_run(pid).info.status not in TERMINAL]
            if not open_:
                break
            time.sleep(2.0)
        wall = time.monotonic() - t0
        exp = tracking.experiment_id(None, uri)
        trials = [k for pid in parents for k in queue.children(pid, exp, uri)]
        counts = Counter(k.info.status for k in trials)
        bad = [k for k in trials if k.info.status in TERMINAL and k.info.status != "FINISHED"]
        unfinished_parents = [pid for pid in parents if client.get_run(pid).info.status != "FINISHED"]
        print(f"store={args.store} sweeps={args.sweeps} trials={len(trials)} statuses={dict(counts)} "
              f"not_finished_terminal={len(bad)} parents_not_finished={len(unfinished_parents)} "
              f"wall_s={wall:.0f} hog={args.hog} limit={args.limit} steps={args.steps}")
        for k in bad:
            rid = k.info.run_id
            print(f"- trial {rid} ({k.info.run_name}) {k.info.status}: error={k.data.tags.get(ERROR_TAG)!r}")
            for line in lines.lines:
                if rid in line:
                    print(f"    | {line}")
        for pid in unfinished_parents:
            run = client.get_run(pid)
            print(f"- sweep {pid} ({run.info.run_name}) {run.info.status}: error={run.data.tags.get(ERROR_TAG)!r}")
        errors = [ln for ln in lines.lines if " ERROR " in ln or "WARNING" in ln]
        if errors:
            print(f"supervisor warnings/errors ({len(errors)}):")
            for ln in errors[-30:]:
                print(f"    | {ln}")
        return 0 if not bad and not unfinished_parents and counts.get("FINISHED", 0) == len(trials) else 1
    finally:
        if worker is not None:
            worker.stop()
        try:
            _kill_trainers(uri)
        except Exception as exc:  # noqa: BLE001 - cleanup goes on
            print(f"cleanup: {exc}", file=sys.stderr)
        for h in hogs:
            h.kill()
        if pg_name:
            _drop(pg_name)


if __name__ == "__main__":
    sys.exit(main())
