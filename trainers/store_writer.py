"""The writer process's loop: batches from the trainer's pipe wait in ``journal.Pending`` (memory up
to a bound, then the journal file) and are written oldest first; a failing store is retried with
backoff for as long as the training runs, and for ``RUNBOARD_WRITE_RETRY_SECONDS`` after it ended.

A reader thread empties the pipe all the time, so neither the trainer nor this process holds more
than the bound in memory however long the store is away. What is still waiting at the end stays in
the journal and is reported (points, artifacts, cause): the run then ends FAILED and
``python -m trainers.recover <run id>`` writes it later.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time

from trainers import tracking
from trainers.journal import Journal, Pending

log = logging.getLogger("trainers.log_sinks")  # the same logger as the in-process sink: one voice
MAX_BATCH = 1000  # MLflow's limit on entities per log_batch call


def memory_bound() -> int:
    """Points kept in memory while the store is away, beyond which they go to the journal."""
    try:
        return max(1, int(os.environ.get("RUNBOARD_WRITE_MEMORY_POINTS", "50000")))
    except ValueError:
        return 50_000


def retry_budget() -> float:
    """How long a failing store is retried after the training ended (``RUNBOARD_WRITE_RETRY_SECONDS``)."""
    try:
        return max(0.0, float(os.environ.get("RUNBOARD_WRITE_RETRY_SECONDS", "60")))
    except ValueError:
        return 60.0


def error_cause(exc: Exception) -> str:
    """One short line naming a store error (skipping SQLAlchemy's autoflush preamble)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.lstrip().startswith("(raised as")]
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}".strip()


class LazyClient:
    """The writer process's ``MlflowClient``, made on first use: with direct point rows it may never
    be needed, and importing MLflow costs ~1.4 s of CPU on a core the training shares."""

    def __init__(self, uri: str):
        self.tracking_uri, self._client = uri, None

    def __getattr__(self, name: str):  # only for what is not set above: the client's methods
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return getattr(self._client, name)


class Outage:
    """Says once that the store is unreachable and once that it is back, never per attempt."""

    def __init__(self, uri: str, what: str = "store"):
        self.uri, self.what, self.cause = uri, what, None
        self.since: float | None = None
        self.attempt = 0

    def failed(self, exc: Exception) -> float:
        """Note a failed write; returns how long to wait before the next (0.2 s doubling to 5 s)."""
        self.cause = error_cause(exc)
        if self.since is None:
            self.since = time.monotonic()
            log.warning("runboard: %s unreachable (%s); retrying, points are kept", self.what, self.cause)
        if "full" in self.cause:  # a SQLite store on a full disk: its write-ahead log holds space
            tracking.fold_wal(self.uri)
        self.attempt += 1
        return min(0.2 * 2 ** (self.attempt - 1), 5.0)

    def ok(self) -> None:
        if self.since is not None:
            log.warning("runboard: %s back after %.0f s", self.what, time.monotonic() - self.since)
        self.since, self.attempt, self.cause = None, 0, None


def serve(client, run_id: str, source, budget: float, keeper=None, rows=None) -> tuple[int, int, str | None]:
    """Write everything read from ``source`` (pickled ``(points, tags, artifacts)``) until it closes
    and the rest is written or the budget after the close is spent; ``keeper`` (curve summaries)
    hears which curves each written batch touched; ``rows`` (``point_rows``) writes the points where
    the store allows. Returns (points left in the journal, artifacts not uploaded, cause)."""
    pending = Pending(Journal(run_id, client.tracking_uri), memory_bound())
    wake, closed = threading.Event(), threading.Event()
    threading.Thread(target=_read, args=(source, pending, wake, closed), daemon=True).start()
    # points and artifacts fail apart (a full artifact volume, a store that is fine): each says so once
    outages, closed_at = (
        {"points": Outage(client.tracking_uri), "artifacts": Outage(client.tracking_uri, "artifact store")},
        None,
    )
    while True:
        wake.clear()  # before looking: a batch put after this sets it again, so no wake-up is lost
        done = closed.is_set()  # before looking too: everything read was put before it was set
        item = pending.head()
        if item is None:
            if done:
                break
            wake.wait(1.0)
            continue
        points, tags, artifacts = item
        outage = outages["points" if points or tags else "artifacts"]
        try:
            if points or tags:  # in logged order: a tag sent after an artifact lands after its upload
                write_batch(client, run_id, (points, tags), rows)
                pending.points_done()
                if keeper is not None and points:
                    keeper.wrote({p[0] for p in points})
            else:
                client.log_artifact(run_id, *artifacts[0])
                artifacts.pop(0)  # the head's own list: the next try starts at the next file
                if not artifacts:
                    pending.pop()
            outage.ok()
        except Exception as exc:  # noqa: BLE001 - any store error is retried, then reported
            wait = outage.failed(exc)
            if closed.is_set():
                closed_at = closed_at or time.monotonic()
                if time.monotonic() - closed_at >= budget:
                    break
            closed.wait(wait) if not closed.is_set() else time.sleep(wait)
    cause = outages["points"].cause or outages["artifacts"].cause
    artifacts_left = pending.artifacts()
    try:
        return pending.persist(), artifacts_left, cause
    except OSError as exc:  # neither the store nor the journal took them: still counted, and why
        return pending.points(), artifacts_left, f"{cause}; the journal could not be written either ({exc})"


def write_batch(client, run_id: str, batch, rows=None) -> None:
    """One batch of points and tags; idempotent, so a batch retried after a commit that did land
    is stored once. Points go through ``rows`` when given (then tags in their own call)."""
    points, tags = batch
    if rows is not None and points:
        rows.write(run_id, points)
        points = []
    if points or tags:
        from mlflow.entities import Metric, RunTag  # only here: direct rows need no MLflow

        client.log_batch(run_id, metrics=[Metric(k, v, ts, step) for k, v, ts, step in points],
                         tags=[RunTag(k, v) for k, v in tags.items()])


def _read(source, pending: Pending, wake, closed) -> None:
    try:
        while True:
            points, tags, artifacts = pickle.load(source)
            chunks = range(0, max(len(points), 1), MAX_BATCH)  # one log_batch call per item
            for i in chunks:
                last = i == chunks[-1]
                pending.put(points[i : i + MAX_BATCH], tags if i == 0 else {}, artifacts if last else [])
            wake.set()
    except (EOFError, pickle.UnpicklingError, OSError):  # closed, or cut mid-batch by a SIGKILLed trainer
        pass
    finally:
        closed.set()
        wake.set()
