"""How long a launch takes: submit -> SCHEDULED in the store -> RUNNING (claimed by the worker)
-> trainer attached -> first training step, against starting the same trainer by hand; and the
dashboard's page response time while 3 runs train.

    .venv/bin/python -m bench.launch_latency [--reps 5] [--submits 20]

Everything runs on a fresh SQLite store in a temp folder (``MLFLOW_TRACKING_URI`` set for this
process and the trainers it starts). The baseline is ``python -m trainers.train mlp`` started
directly (no queue): the queue's overhead is the difference. Prints medians.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _wait(predicate, timeout=300.0, every=0.02):
    deadline = time.perf_counter() + timeout
    while not (value := predicate()):
        if time.perf_counter() > deadline:
            raise TimeoutError("bench: waited too long")
        time.sleep(every)
    return value


def submit_to_scheduled(n: int) -> list[float]:
    from experiments import queue
    from trainers import tracking
    from trainers.spec import build_spec

    client, out = tracking.client(), []
    for i in range(n):
        start = time.perf_counter()
        run_id = queue.submit(build_spec("mlp", {"seed": i}), idempotency_key=f"bench-{time.time_ns()}")
        _wait(lambda: client.get_run(run_id).info.status == "SCHEDULED")  # noqa: B023 - waited on here
        out.append(time.perf_counter() - start)
        queue.cancel(run_id)
    return out


class Probe:
    """Cheap reads of the bench's own SQLite store with ``sqlite3`` for both paths alike (polling
    through MLflow's client at 20 Hz costs a good share of one of this machine's two cores, which
    the trainer being timed needs for its imports)."""

    def __init__(self, uri: str):
        import sqlite3

        self.con = sqlite3.connect(uri[len("sqlite:///"):], timeout=30, isolation_level=None)

    def status(self, run_id: str) -> str | None:
        row = self.con.execute("SELECT status FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def tag(self, run_id: str, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM tags WHERE run_uuid = ? AND key = ?", (run_id, key)).fetchone()
        return row[0] if row else None

    def run_ids(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT run_uuid FROM runs")}


def one_launch(probe: Probe, spec_values: dict) -> dict[str, float]:
    """Seconds from submit to each milestone of one queued run (a worker must be running)."""
    from experiments import queue
    from experiments.executors.local import pid_alive
    from trainers import run_tags
    from trainers.spec import build_spec

    t0 = time.perf_counter()
    run_id = queue.submit(build_spec("mlp", spec_values))
    marks = {"scheduled": time.perf_counter() - t0}
    _wait(lambda: probe.status(run_id) != "SCHEDULED")
    marks["running"] = time.perf_counter() - t0
    _wait(lambda: probe.tag(run_id, run_tags.COMMAND))  # set by the trainer when it attaches
    marks["attached"] = time.perf_counter() - t0
    _wait(lambda: probe.tag(run_id, run_tags.HEARTBEAT))
    marks["first step"] = time.perf_counter() - t0
    _wait(lambda: probe.status(run_id) in ("FINISHED", "FAILED", "KILLED"), every=0.2)
    pid = int(probe.tag(run_id, run_tags.PID))
    _wait(lambda: not pid_alive(pid, run_id), every=0.1)  # like proc.wait() below: no overlap between the two
    return marks


def direct_launch(probe: Probe, spec_args: list[str]) -> dict[str, float]:
    """The same trainer started by hand: process start -> run created -> first step."""
    from trainers import run_tags

    before = probe.run_ids()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "trainers.train", "mlp", *spec_args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_id = _wait(lambda: next(iter(probe.run_ids() - before), None))
    marks = {"attached": time.perf_counter() - t0}
    _wait(lambda: probe.tag(run_id, run_tags.HEARTBEAT))
    marks["first step"] = time.perf_counter() - t0
    proc.wait()
    return marks


def page_seconds(reps: int) -> list[float]:
    """Cold-cache AppTest render of the dashboard's default page (server-side response time)."""
    from streamlit.testing.v1 import AppTest

    out = []
    for _ in range(reps):
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120)
        start = time.perf_counter()
        at.run()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--submits", type=int, default=20)
    args = p.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["RUNBOARD_ARTIFACT_ROOT"] = Path(tmp, "artifacts").as_uri()
        from experiments import queue
        from experiments.worker import start_in_thread
        from trainers import run_tags, tracking

        tracking.prepare_store()
        sched = submit_to_scheduled(args.submits)
        print(f"submit -> SCHEDULED in the store: median {statistics.median(sched) * 1000:.1f} ms, "
              f"max {max(sched) * 1000:.1f} ms ({args.submits} submits, idempotency key checked)")

        worker = start_in_thread(limit=3, poll_s=0.5)
        probe = Probe(tracking.tracking_uri())
        values = {"max_epochs": 1, "max_steps": 20}
        queued, direct = [], []
        for _ in range(args.reps):  # interleaved so machine noise hits both
            queued.append(one_launch(probe, values))
            direct.append(direct_launch(probe, ["--set", "max_epochs=1", "--set", "max_steps=20"]))
        for key in ("scheduled", "running", "attached", "first step"):
            q = statistics.median(m[key] for m in queued)
            line = f"submit -> {key:<10}: median {q:7.3f} s"
            if key in direct[0]:
                d = statistics.median(m[key] for m in direct)
                line += f"   (started by hand: {d:6.3f} s, queue adds {q - d:+.3f} s, ratio {q / d:.2f}x)"
            print(line)

        idle = page_seconds(args.reps)
        ids = [queue.submit(tracking_spec(i)) for i in range(3)]
        client = tracking.client()
        _wait(lambda: all(run_tags.HEARTBEAT in client.get_run(r).data.tags for r in ids), every=0.2)
        busy = page_seconds(args.reps)
        print(
            f"dashboard default page (AppTest, server side): idle {statistics.median(idle):.2f} s, "
            f"while 3 runs train {statistics.median(busy):.2f} s "
            f"(ratio {statistics.median(busy) / statistics.median(idle):.2f}x)"
        )
        for r in ids:
            queue.stop(r, grace_s=10)
        _wait(lambda: all(client.get_run(r).info.status in ("FINISHED", "FAILED", "KILLED") for r in ids), every=0.5)
        worker.stop()


def tracking_spec(seed: int):
    from trainers.spec import build_spec

    return build_spec("mlp", {"max_epochs": 200, "seed": seed})


if __name__ == "__main__":
    main()
