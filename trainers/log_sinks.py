"""Where the logger's batches go: straight to the store, or to a writer process that does it.

MLflow's ``log_batch`` spends ~0.15 ms of Python (SQLAlchemy ORM) per point. In a thread of the
training process that work holds the GIL against the training loop; in a child process it runs
on another core. So by default batches are pickled down a pipe to ``python -m trainers.log_sinks``
(``RUNBOARD_LOG_WRITER=thread`` keeps them in-process). The child ignores SIGTERM/SIGINT — a stop
signal to the trainer's process group must not cut the tail — and exits when the pipe closes,
after writing everything it was sent, also when the trainer itself was SIGKILLed. On a database
store it also keeps the curves' summary pyramid current (``trainers.curve_refresh.Keeper``).
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from functools import partial

from trainers import curve_refresh, curve_summary, point_rows, tracking
from trainers.journal import Journal, not_written_reason
from trainers.store_writer import MAX_BATCH, LazyClient, error_cause, memory_bound, retry_budget, serve

log = logging.getLogger(__name__)


class PointsNotWritten(RuntimeError):
    """The store refused points (or artifacts) past the retry budget: the run must not end FINISHED.
    ``unknown``: the writer process was lost, so more than ``points`` may be missing."""

    def __init__(self, points: int, artifacts: int, cause: str | None, unknown: bool = False):
        self.points, self.artifacts, self.cause, self.unknown = points, artifacts, cause or "store failed", unknown
        if unknown:
            text = f"points may be missing: {cause}"
        elif points:
            text = not_written_reason(points, self.cause) + (
                f"; {artifacts} artifacts not uploaded" if artifacts else ""
            )
        else:
            text = f"{artifacts} artifacts not uploaded: {self.cause}"
        super().__init__(text)


class DirectSink:
    """Writes batches with the MLflow client, retrying a failing store with backoff instead of losing points.

    A write is retried (0.2 s doubling to 5 s) for up to ``RUNBOARD_WRITE_RETRY_SECONDS`` (60 s);
    the outage is logged once when it starts and once when the store is back, not per attempt.
    What is still refused after that is counted in ``not_written`` (and the cause kept in
    ``cause``) and kept in the run's journal (``trainers.journal``), never dropped silently; once
    one write gave up, later writes try once each until the store answers again, so a dead store
    does not stall the end of the run for minutes per batch.
    """

    flush_seconds = 2.0  # each write holds the GIL against training: batch big

    def __init__(self, client, run_id: str):
        self.client, self.run_id = client, run_id
        self.not_written, self.artifacts_not_written, self.cause = 0, 0, None
        self._down_since: float | None = None
        self._gave_up = False
        self.budget = retry_budget()

    def write(self, points, tags, artifacts) -> None:
        from mlflow.entities import Metric, RunTag

        metrics = [Metric(k, v, ts, step) for k, v, ts, step in points]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        for i in range(0, max(len(metrics), 1), MAX_BATCH):
            chunk, extra = metrics[i : i + MAX_BATCH], (tag_list if i == 0 else [])
            # partial binds this iteration's batch (a lambda would read the loop's names when called)
            if (chunk or extra) and not self._retry(
                partial(self.client.log_batch, self.run_id, metrics=chunk, tags=extra)
            ):
                self.not_written += len(chunk)
                self._keep(points[i : i + MAX_BATCH], tags if i == 0 else {})
        for local, artifact_dir in artifacts:
            if not self._retry(partial(self.client.log_artifact, self.run_id, local, artifact_dir)):
                self.artifacts_not_written += 1

    def _keep(self, points, tags) -> None:
        """Points the store refused go to the run's journal, for ``python -m trainers.recover``."""
        try:
            Journal(self.run_id, self.client.tracking_uri).append([(points, tags, [])])
        except OSError as exc:  # the journal's disk is full too: the count and the cause still say so
            log.error("runboard: could not keep %d points in the journal: %s", len(points), exc)

    def _retry(self, call) -> bool:
        start, attempt = time.monotonic(), 0
        while True:
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - any store error is retried, then counted
                self.cause = error_cause(exc)
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("runboard: store unreachable (%s); retrying, points are kept", self.cause)
                if self._gave_up or time.monotonic() - start >= self.budget:
                    self._gave_up = True
                    return False
                time.sleep(min(0.2 * 2**attempt, 5.0))
                attempt += 1
                continue
            if self._down_since is not None:
                log.warning("runboard: store back after %.0f s", time.monotonic() - self._down_since)
                self._down_since, self._gave_up = None, False
            return True

    def close(self, timeout: float) -> None:
        pass


class ProcessSink:
    """Sends batches to a child writer process; falls back to a ``DirectSink`` if it dies."""

    # Sending is a pickle down a pipe, so flush often: a small tail is quick to drain at the end,
    # and a SIGKILLed trainer loses at most this much.
    flush_seconds = 0.5

    def __init__(self, client, run_id: str):
        self.fallback = DirectSink(client, run_id)
        # The store's URI goes in the environment, not argv: a database URI may hold a password,
        # and every user of the host can read a process's argv.
        env = {**os.environ, "MLFLOW_TRACKING_URI": client.tracking_uri,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(tracking.REPO), os.environ.get("PYTHONPATH")]))}
        if tracking.is_http(client.tracking_uri):
            # MLflow's client retries a down server for minutes, silently, backing off to a minute
            # between tries: the writer's own retry says so once and catches up within 5 s of its return
            env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trainers.log_sinks", "--run-id", run_id],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tracking.REPO, env=env,
        )
        self.not_written, self.artifacts_not_written, self.cause = 0, 0, None
        self.failed: str | None = None  # set when an unknown number of points may be missing
        self.sent = Unconfirmed()

    def write(self, points, tags, artifacts) -> None:
        if self.proc is not None:
            try:
                pickle.dump((points, tags, artifacts), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.flush()
                self.sent.add(points, tags, artifacts)
                return
            except (BrokenPipeError, OSError):
                self._take_over(self.proc.poll())
        self.fallback.write(points, tags, artifacts)

    def _take_over(self, code) -> None:
        """The writer process is gone: write in-process from now on, starting with everything it may
        not have written (``Unconfirmed``; the store keeps one copy of what it did write)."""
        log.warning("runboard writer process exited (%s); writing in-process", code)
        self.proc.stdout.close()  # its report pipe: nothing more will come
        self.proc = None
        for points, tags, artifacts in self.sent.take():
            self.fallback.write(points, tags, artifacts)
        if spilled := Journal(self.fallback.run_id, self.fallback.client.tracking_uri).points():
            # it had spilled these during an outage: kept, and counted (recover writes them, each once)
            self.not_written += spilled
            self.cause = self.cause or f"the writer process died (exit {code}) during a store outage"

    def close(self, timeout: float) -> None:
        """Close the pipe and wait until the child has written everything it was sent; read its report."""
        if self.proc is None:
            self._add(self.fallback)
            return
        try:  # communicate: EOF to the child, and its stdout drained while it finishes (no pipe stall)
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.error("runboard writer process did not drain within %.0f s", timeout)
            self.failed = f"the writer process did not drain within {timeout:.0f} s"
            self._add(self.fallback)
            return
        code, report = self.proc.returncode, out.decode(errors="replace").split()
        if code != 0 or len(report) < 3 or not report[0].isdigit() or not report[1].isdigit():
            self._take_over(code)
        else:
            self.not_written += int(report[0])
            self.artifacts_not_written += int(report[1])
            self.cause = self.cause or (" ".join(report[2:]) if report[2] != "-" else None)
        self._add(self.fallback)

    def _add(self, sink: DirectSink) -> None:
        self.not_written += sink.not_written
        self.artifacts_not_written += sink.artifacts_not_written
        self.cause = self.cause or sink.cause


class Unconfirmed:
    """The last batches handed to the writer process, enough to cover everything it can hold
    unwritten outside the journal (its memory bound and the pipe): if it dies, they are written
    again in-process. Sent points are not acknowledged one by one (that would cost the normal
    case); resending is safe because the store keeps one copy of a point sent twice."""

    def __init__(self):
        self.cap = memory_bound() + 10 * MAX_BATCH
        self._batches: collections.deque = collections.deque()
        self._points = 0

    def add(self, points, tags, artifacts) -> None:
        self._batches.append((points, tags, artifacts))
        self._points += len(points)
        while (self._points > self.cap or len(self._batches) > self.cap // 10) and len(self._batches) > 1:
            self._points -= len(self._batches.popleft()[0])

    def take(self) -> list:
        batches, self._batches, self._points = list(self._batches), collections.deque(), 0
        return batches


def open_sink(client, run_id: str):
    if os.environ.get("RUNBOARD_LOG_WRITER", "process") == "thread":
        return DirectSink(client, run_id)
    return ProcessSink(client, run_id)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.log_sinks", description="Runboard's writer process.")
    p.add_argument("--uri", help="the store (default: trainers.tracking's, i.e. MLFLOW_TRACKING_URI)")
    p.add_argument("--run-id", required=True)
    args = p.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):  # the trainer decides when we stop: pipe EOF
        signal.signal(sig, signal.SIG_IGN)
    # stdout carries one report line to the trainer; anything a library prints goes to stderr.
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    if logging.getLogger().level > logging.DEBUG:  # MLflow logs every store error with a traceback: we say it once
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    uri = args.uri or tracking.tracking_uri()
    keeper = _keeper(uri, args.run_id)
    points, artifacts, cause = serve(
        LazyClient(uri), args.run_id, sys.stdin.buffer, retry_budget(), keeper, point_rows.open_rows(uri)
    )
    if keeper is not None:
        keeper.flush()
    # One line to the trainer: points left in the journal, artifacts not uploaded, and the cause.
    report.write(f"{points} {artifacts} {cause or '-'}\n")
    report.flush()
    return 0


def _keeper(uri: str, run_id: str):
    """Summaries for SQLite / PostgreSQL stores (an http store's server has its own database);
    ``RUNBOARD_CURVE_SUMMARIES=0`` turns the hook off."""
    if not curve_summary.enabled() or not tracking.is_database(uri):
        return None
    return curve_refresh.Keeper(uri, run_id)


if __name__ == "__main__":
    code = main()
    # Every batch is committed by now. The trainer waits for this exit, and a normal interpreter
    # teardown (MLflow's and SQLAlchemy's modules, the engine's pool) costs it ~0.3 s for nothing.
    logging.shutdown()
    os._exit(code)
