"""The one logging path: buffer in the training thread, write batches off it (and, by default,
off the training process: see ``trainers.log_sinks``).

``log_metrics`` only appends a tuple to a list (microseconds). A writer thread turns the buffer
into ``MlflowClient.log_batch`` calls of up to 1,000 points when the buffer reaches
``flush_points`` or every ``flush_seconds`` (the sink's: 0.5 s to the writer process, 2 s
in-thread), at each epoch end (``request_flush``) and at ``finalize`` (blocking), so a finished
or failed run has every point and a killed process loses at most one flush interval. Progress
tags and artifacts travel on the same thread, and so does the check for a stop request (the
``runboard.stop_requested`` tag, read at most once per interval).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pytorch_lightning.loggers.logger import Logger
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from trainers.log_sinks import PointsNotWritten, open_sink
from trainers.metrics import EPOCH
from trainers.run_tags import STOP_REQUESTED

log = logging.getLogger(__name__)


class BatchWriter(threading.Thread):
    def __init__(self, client, run_id: str, flush_points: int = 1000, flush_seconds: float | None = None,
                 on_stop=None):
        super().__init__(name=f"runboard-writer-{run_id[:8]}", daemon=True)
        self.on_stop = on_stop  # called once when the run's stop tag appears
        self._next_stop_check = 0.0
        self.client, self.run_id = client, run_id
        self.sink = open_sink(client, run_id)
        self.flush_points, self.flush_seconds = flush_points, flush_seconds or self.sink.flush_seconds
        self._points: list[tuple[str, float, int, int]] = []  # (key, value, ms, step)
        self._tags: dict[str, str] = {}
        self._artifacts: list[tuple[str, str | None]] = []  # (local path, artifact dir)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self.busy_seconds = 0.0  # time spent writing: the most this thread can cost training

    # --- training thread side -------------------------------------------------------------
    def add_points(self, points: list[tuple[str, float, int, int]]) -> None:
        with self._lock:
            self._points.extend(points)
            full = len(self._points) >= self.flush_points
        if full:
            self._wake.set()

    def set_tags(self, tags: dict[str, str]) -> None:
        with self._lock:
            self._tags.update(tags)

    def add_artifact(self, local_path: str, artifact_dir: str | None) -> None:
        with self._lock:
            self._artifacts.append((local_path, artifact_dir))
        self._wake.set()

    def request_flush(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 120.0) -> None:
        """Write everything still buffered, then stop the thread."""
        self._closing = True
        self._wake.set()
        self.join(timeout)
        if self.is_alive():
            log.error("runboard writer did not drain within %.0f s", timeout)
        self.sink.close(timeout)

    def raise_if_incomplete(self) -> None:
        """After ``close``: raise ``PointsNotWritten`` naming the cause if the store refused anything."""
        points, artifacts = getattr(self.sink, "not_written", 0), getattr(self.sink, "artifacts_not_written", 0)
        if failed := getattr(self.sink, "failed", None):
            raise PointsNotWritten(points, artifacts, failed, unknown=True)
        if points or artifacts:
            raise PointsNotWritten(points, artifacts, self.sink.cause)

    # --- writer thread ----------------------------------------------------------------------
    def run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            closing = self._closing
            start = time.perf_counter()
            self._drain()
            self.busy_seconds += time.perf_counter() - start
            if closing and not self._has_work():
                return
            self._check_stop()

    def _check_stop(self) -> None:
        if self.on_stop is None or time.monotonic() < self._next_stop_check:
            return
        # get_run reads the whole run: every 5 s is plenty (a local stop also sends SIGTERM).
        self._next_stop_check = time.monotonic() + max(5.0, self.flush_seconds)
        try:
            requested = STOP_REQUESTED in self.client.get_run(self.run_id).data.tags
        except Exception as exc:  # noqa: BLE001 - a busy store delays the check, it must not end training
            log.debug("runboard writer could not read the stop tag: %s", exc)  # the writer reports outages
            return
        if requested:
            self.on_stop()
            self.on_stop = None

    def _has_work(self) -> bool:
        with self._lock:
            return bool(self._points or self._tags or self._artifacts)

    def _take(self):
        with self._lock:
            points, self._points = self._points, []
            tags, self._tags = self._tags, {}
            artifacts, self._artifacts = self._artifacts, []
        return points, tags, artifacts

    def _drain(self) -> None:
        points, tags, artifacts = self._take()
        if points or tags or artifacts:
            self.sink.write(points, tags, artifacts)


class RunboardLogger(Logger):
    """A Lightning logger that writes to an existing MLflow run through a ``BatchWriter``."""

    def __init__(self, client, run_id: str, flush_points: int = 1000, flush_seconds: float | None = None,
                 on_stop=None):
        super().__init__()
        self._run_id = run_id
        self._last_epoch: float | None = None
        self.writer = BatchWriter(client, run_id, flush_points, flush_seconds, on_stop)
        self.writer.start()

    @property
    def name(self) -> str:
        return "runboard"

    @property
    def version(self) -> str:
        return self._run_id

    @property
    def run_id(self) -> str:
        return self._run_id

    @rank_zero_only
    def log_hyperparams(self, params, *args, **kwargs) -> None:
        """Hyperparameters are logged once from the validated spec by ``trainers.train``."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        ms = int(time.time() * 1000)
        step = int(step or 0)
        points = [(k, float(v), ms, step) for k, v in metrics.items() if k != EPOCH]
        # Lightning adds ``epoch`` to every call; its first step per value is all a reader needs
        # to map steps to epochs, and the repeats would double the rows written.
        if EPOCH in metrics and float(metrics[EPOCH]) != self._last_epoch:
            self._last_epoch = float(metrics[EPOCH])
            points.append((EPOCH, self._last_epoch, ms, step))
        self.writer.add_points(points)

    def log_artifact(self, local_path: str | Path, artifact_dir: str | None = None) -> None:
        self.writer.add_artifact(str(local_path), artifact_dir)

    def set_tags(self, tags: dict[str, object]) -> None:
        self.writer.set_tags({k: str(v) for k, v in tags.items()})

    def flush(self) -> None:
        self.writer.request_flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Called by Lightning at the end of fit; the run's status is set by ``trainers.train``."""
        self.writer.request_flush()

    def close(self) -> None:
        self.writer.close()
