"""``python -m experiments.worker``: start queued runs and supervise them until stopped.

Only one worker per store starts runs: it holds an exclusive lock on ``worker.lock`` in the store's
runtime folder (``trainers.tracking.runtime_dir``) for its whole life; the OS drops the lock when
the process dies, however it dies, so a restarted worker never waits for a stale lock. A second
worker (or the dashboard's thread, see ``start_in_thread``) finds the lock taken and stands by.
Stopping the worker leaves its trainers running; the next worker adopts or reconciles them.

While the store holds no run the supervisor would act on, the worker only asks the database one
small question each poll (``has_work``) and its supervisor, executors and MLflow (~150 MB) are not
even imported: the dashboard process that runs the worker in a thread stays lean (issue 16).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import sys
import threading

import sqlalchemy as sa

from trainers import run_tags, tracking

log = logging.getLogger("experiments.worker")

# A RUNNING run the supervisor may act on carries one of these tags (a trainer's pid and heartbeat,
# a queued launch, a cluster job, a sweep parent); one without any (e.g. made by MLflow's own
# client) is never reaped, adopted or advanced, so it is no work (see Supervisor._orphan_reason).
_WATCHED_TAGS = (run_tags.PID, run_tags.HEARTBEAT, run_tags.QUEUED, run_tags.JOB, run_tags.SWEEP_KIND)
_WORK = sa.text(
    "SELECT 1 FROM runs r WHERE r.lifecycle_stage = 'active' AND (r.status = 'SCHEDULED' OR "
    "(r.status = 'RUNNING' AND EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key IN :keys))) "
    "LIMIT 1"
).bindparams(sa.bindparam("keys", expanding=True))


def has_work(engine: sa.Engine | None) -> bool:
    """Whether the store holds a queued run or a RUNNING one the supervisor watches. ``engine``:
    None for an ``http(s)://`` store, which cannot be asked cheaply: always True there."""
    if engine is None:
        return True
    with engine.connect() as con:
        return con.execute(_WORK, {"keys": list(_WATCHED_TAGS)}).first() is not None


def acquire_lock(uri: str):
    """The open lock file if this process is now the store's worker, else None."""
    fh = open(tracking.runtime_dir(uri) / "worker.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    fh.truncate(0)
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


class Worker:
    """A supervisor loop holding the store's worker lock, in a thread or in the foreground."""

    def __init__(
        self, uri: str | None = None, limit: int | None = None, poll_s: float = 0.5, executor: str | None = None
    ):
        """``executor``: ``local`` or ``ray``; None reads ``RUNBOARD_EXECUTOR`` (default ``local``)."""
        self.uri = tracking.prepare_store(uri or tracking.tracking_uri())
        self._executor, self._limit = executor, limit
        self._supervisor = None
        self._made = threading.Lock()
        self.poll_s = poll_s
        self.stopping = threading.Event()
        self._lock = None
        self.thread: threading.Thread | None = None

    @property
    def supervisor(self):
        """The supervisor and its executor, made (MLflow imported) on first use."""
        with self._made:
            if self._supervisor is None:
                from experiments.executors import executor_for
                from experiments.supervisor import Supervisor

                self._supervisor = Supervisor(executor_for(self._executor, self.uri, self._limit), self.uri)
            return self._supervisor

    def acquire(self) -> bool:
        self._lock = acquire_lock(self.uri)
        return self._lock is not None

    def run(self) -> None:
        try:
            if self._idle_until_work():
                self.supervisor.reconcile()  # at start-up: runs an earlier worker left behind
                self.supervisor.run(self.stopping, self.poll_s)
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _idle_until_work(self) -> bool:
        """Poll ``has_work`` until there is work (True) or the worker is stopped (False). A store
        that cannot be asked counts as work: the supervisor then reports and retries as it does."""
        engine = None if tracking.is_http(self.uri) else sa.create_engine(self.uri)
        try:
            while not self.stopping.is_set():
                try:
                    if has_work(engine):
                        return True
                except sa.exc.SQLAlchemyError:
                    return True
                self.stopping.wait(self.poll_s)
            return False
        finally:
            if engine is not None:
                engine.dispose()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)


def start_in_thread(uri: str | None = None, limit: int | None = None, poll_s: float = 0.5) -> Worker | None:
    """Run the worker in a daemon thread of this process (the dashboard's), if no other process
    is the store's worker. Returns None when one already is."""
    worker = Worker(uri, limit, poll_s)
    if not worker.acquire():
        return None
    worker.thread = threading.Thread(target=worker.run, name="runboard-worker", daemon=True)
    worker.thread.start()
    return worker


def main(argv: list[str] | None = None) -> int:
    from experiments.executors import EXECUTORS

    p = argparse.ArgumentParser(prog="python -m experiments.worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, help="runs at once (default: RUNBOARD_MAX_RUNS, else cores - 1)")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between queue checks")
    p.add_argument("--executor", choices=EXECUTORS, help="where runs go (default: RUNBOARD_EXECUTOR, else local)")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("RUNBOARD_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    worker = Worker(limit=args.limit, poll_s=args.poll, executor=args.executor)
    if not worker.acquire():
        print("another worker already serves this store; standing down", file=sys.stderr)
        return 3
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stopping.set())
    executor = worker.supervisor.executor
    log.info(
        "worker %d serving the store, up to %d runs at once on the %s executor",
        os.getpid(),
        executor.limit,
        executor.name,
    )
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())


_started: Worker | None = None
_starting = threading.Lock()


def ensure_started() -> Worker | None:
    """For the dashboard: run the queue in this process unless ``RUNBOARD_WORKER=off`` (e.g. a
    separate ``python -m experiments.worker`` serves it, or tests) or another process already is
    the store's worker. Called at process start by ``python -m dashboard`` and again (cached) by
    the app for ``streamlit run``: once started, the same worker is returned."""
    global _started
    if os.environ.get("RUNBOARD_WORKER", "thread").lower() in ("off", "0", "false", "no"):
        return None
    with _starting:
        if _started is None:
            _started = start_in_thread()
        return _started
