"""Interval checkpoints uploaded as artifacts, and ``--resume <run id>`` from the last one.

``IntervalCheckpoint`` saves ``last.ckpt`` every N steps and/or seconds and uploads it (rank zero,
through the run's writer) to the artifact ``checkpoints/step-<N>/last.ckpt``, then tags the run with the
checkpoint's step. ``reopen`` moves a FAILED / KILLED (or dead RUNNING)
run back to RUNNING and downloads that checkpoint; ``skip_logged`` drops points whose step the store
already holds for that metric (those logged between the checkpoint and the kill), so nothing is
written twice and no step goes missing.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl

from trainers import run_tags
from trainers.config import ConfigError

ARTIFACT_DIR = "checkpoints"
CKPT_NAME = "last.ckpt"


def artifact_dir(step) -> str:
    """Where the checkpoint taken at global step ``step`` is uploaded."""
    return f"{ARTIFACT_DIR}/step-{step}"


class IntervalCheckpoint(pl.Callback):
    """Every rank calls ``save_checkpoint`` (it has a barrier); only rank zero uploads.

    The upload goes through the run's writer, after every point buffered before it, and the
    ``runboard.checkpoint.step`` tag follows in a later write: a run tagged with a checkpoint has
    its artifact and every point up to its step (a kill -9 right after still leaves both)."""

    def __init__(self, cfg, logger, workdir: Path):
        self.every_steps, self.every_s = cfg.checkpoint_every_n_steps, cfg.checkpoint_every_s
        self.logger, self.workdir = logger, workdir
        self._last_t = time.monotonic()
        self._pending_step: int | None = None

    def _due(self, trainer) -> bool:
        step = trainer.global_step
        due = bool(self.every_steps and step % self.every_steps == 0)
        if self.every_s:
            timed = time.monotonic() - self._last_t >= self.every_s
            if trainer.world_size > 1:
                timed = bool(trainer.strategy.broadcast(timed, src=0))
            due = due or timed
        return due

    def _tag_when_taken(self) -> None:
        writer = getattr(self.logger, "writer", None)
        if self._pending_step is None or writer is None:
            return
        with writer._lock:
            taken = not writer._artifacts
        if taken:  # the artifact is in a write call already: the tag lands in a later one
            self.logger.set_tags({run_tags.CHECKPOINT_STEP: self._pending_step})
            self._pending_step = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._tag_when_taken()
        if trainer.global_step == 0 or not self._due(trainer):
            return
        self._last_t = time.monotonic()
        path = self.workdir / CKPT_NAME
        trainer.save_checkpoint(path)
        if not trainer.is_global_zero or getattr(self.logger, "writer", None) is None:
            return
        copy = self.workdir / f"upload-{trainer.global_step}" / CKPT_NAME
        copy.parent.mkdir(exist_ok=True)
        os.replace(path, copy)
        # One artifact folder per step: the tag names the checkpoint whose points are all stored; a
        # newer upload must not replace it (its points may still be in the writer at a kill -9).
        self.logger.log_artifact(copy, artifact_dir(trainer.global_step))
        self._pending_step = trainer.global_step
        # Each upload keeps its own copy until the run's temp folder goes: the writer (process) may
        # read it well after this call, and a vanished file would cost the points batched with it.

    def on_train_end(self, trainer, pl_module):
        self._tag_when_taken()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resumable(run) -> str | None:
    """Why ``run`` cannot be resumed, or None."""
    tags = run.data.tags
    if run_tags.CHECKPOINT_STEP not in tags:
        return f"run {run.info.run_id} has no checkpoint to resume from"
    if run_tags.SPEC not in tags:
        return f"run {run.info.run_id} has no {run_tags.SPEC} tag to train from"
    status = run.info.status
    if status in ("FAILED", "KILLED"):
        return None
    if status == "RUNNING":
        pid, host = tags.get(run_tags.PID, ""), tags.get(run_tags.HOST)
        if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
            return None  # its trainer died without ending it (kill -9)
        return f"run {run.info.run_id} is still RUNNING (pid {pid or '?'} on {host or '?'})"
    return f"run {run.info.run_id} ended {status}; only a FAILED or KILLED run can be resumed"


def reopen(client, run_id: str, workdir: str, queued: bool = False) -> tuple[str, str]:
    """Check, download the last checkpoint, set the run RUNNING again. ``(spec json, ckpt path)``.
    ``queued``: the queue already moved it (Resume button); its worker started this trainer."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ConfigError(f"resume: no run {run_id!r} in the store", field="resume") from None
    if queued:
        if run_tags.CHECKPOINT_STEP not in run.data.tags or run.info.status not in ("SCHEDULED", "RUNNING"):
            raise ConfigError(
                f"resume: run {run_id} is {run.info.status} without a checkpoint to resume", field="resume"
            )
        client.delete_tag(run_id, run_tags.RESUME_REQUESTED)
    elif why := resumable(run):
        raise ConfigError(f"resume: {why}", field="resume")
    step = run.data.tags[run_tags.CHECKPOINT_STEP]
    path = client.download_artifacts(run_id, f"{artifact_dir(step)}/{CKPT_NAME}", workdir)
    if run_tags.ERROR in run.data.tags:
        client.delete_tag(run_id, run_tags.ERROR)
    client.set_tag(run_id, run_tags.RESUMED_FROM_STEP, run.data.tags[run_tags.CHECKPOINT_STEP])
    if not queued:
        client.update_run(run_id, status="RUNNING")
    return run.data.tags[run_tags.SPEC], path


def skip_logged(logger, client, run_id: str) -> dict[str, int]:
    """Make ``logger`` drop points at steps the store already holds for that metric; returns the
    last stored step per metric."""
    keys = client.get_run(run_id).data.metrics.keys()
    last = {k: max((m.step for m in client.get_metric_history(run_id, k)), default=-1) for k in keys}
    writer = logger.writer
    add = writer.add_points

    def add_new(points):
        add([p for p in points if p[3] > last.get(p[0], -1)])

    writer.add_points = add_new
    return last


class Pending:
    """The checkpoint a resumed run starts from (set by the CLI, read by ``trainers.train._fit``)."""

    run_id: str | None = None
    ckpt: str | None = None
    tmp: tempfile.TemporaryDirectory | None = None


def requested(client, run_id: str) -> bool:
    """A queued run the Resume button asked to continue (``--run-id`` from the worker)."""
    from mlflow.exceptions import MlflowException

    try:
        return run_tags.RESUME_REQUESTED in client.get_run(run_id).data.tags
    except MlflowException:
        return False


def prepare(client, run_id: str, queued: bool = False) -> str:
    """For ``--resume``: reopen the run and remember its checkpoint. Returns the stored spec JSON."""
    Pending.tmp = tempfile.TemporaryDirectory(prefix="runboard-resume-")
    spec_json, Pending.ckpt = reopen(client, run_id, Pending.tmp.name, queued)
    Pending.run_id = run_id
    return spec_json


def checkpoint_for(run_id: str) -> str | None:
    return Pending.ckpt if Pending.run_id == run_id else None
