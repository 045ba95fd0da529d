"""Interval checkpoints uploaded as artifacts, and ``--resume <run id>`` from the last one.

``IntervalCheckpoint`` saves ``last.ckpt`` every N steps and/or seconds and uploads it (rank zero,
synchronously, so a kill -9 right after still leaves it) to the artifact ``checkpoints/last.ckpt``,
then tags the run with the checkpoint's step. ``reopen`` moves a FAILED / KILLED (or dead RUNNING)
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


class IntervalCheckpoint(pl.Callback):
    """Every rank calls ``save_checkpoint`` (it has a barrier); only rank zero uploads."""

    def __init__(self, cfg, client, run_id: str | None, workdir: Path):
        self.every_steps, self.every_s = cfg.checkpoint_every_n_steps, cfg.checkpoint_every_s
        self.client, self.run_id, self.path = client, run_id, workdir / CKPT_NAME
        self._last_t = time.monotonic()

    def _due(self, trainer) -> bool:
        step = trainer.global_step
        due = bool(self.every_steps and step % self.every_steps == 0)
        if self.every_s:
            timed = time.monotonic() - self._last_t >= self.every_s
            if trainer.world_size > 1:
                timed = bool(trainer.strategy.broadcast(timed, src=0))
            due = due or timed
        return due

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 0 or not self._due(trainer):
            return
        self._last_t = time.monotonic()
        trainer.save_checkpoint(self.path)
        if self.client is not None and trainer.is_global_zero:
            self.client.log_artifact(self.run_id, str(self.path), ARTIFACT_DIR)
            self.client.set_tag(self.run_id, run_tags.CHECKPOINT_STEP, str(trainer.global_step))


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


def reopen(client, run_id: str, workdir: str) -> tuple[str, str]:
    """Check, download the last checkpoint, set the run RUNNING again. ``(spec json, ckpt path)``."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ConfigError(f"resume: no run {run_id!r} in the store", field="resume") from None
    if why := resumable(run):
        raise ConfigError(f"resume: {why}", field="resume")
    path = client.download_artifacts(run_id, f"{ARTIFACT_DIR}/{CKPT_NAME}", workdir)
    if run_tags.ERROR in run.data.tags:
        client.delete_tag(run_id, run_tags.ERROR)
    client.set_tag(run_id, run_tags.RESUMED_FROM_STEP, run.data.tags[run_tags.CHECKPOINT_STEP])
    client.update_run(run_id, status="RUNNING")
    return run.data.tags[run_tags.SPEC], path


def skip_logged(logger, client, run_id: str) -> None:
    """Make ``logger`` drop points at steps the store already holds for that metric."""
    keys = client.get_run(run_id).data.metrics.keys()
    last = {k: max((m.step for m in client.get_metric_history(run_id, k)), default=-1) for k in keys}
    writer = logger.writer
    add = writer.add_points

    def add_new(points):
        add([p for p in points if p[3] > last.get(p[0], -1)])

    writer.add_points = add_new


class Pending:
    """The checkpoint a resumed run starts from (set by the CLI, read by ``trainers.train._fit``)."""

    run_id: str | None = None
    ckpt: str | None = None
    tmp: tempfile.TemporaryDirectory | None = None


def prepare(client, run_id: str) -> str:
    """For ``--resume``: reopen the run and remember its checkpoint. Returns the stored spec JSON."""
    Pending.tmp = tempfile.TemporaryDirectory(prefix="runboard-resume-")
    spec_json, Pending.ckpt = reopen(client, run_id, Pending.tmp.name)
    Pending.run_id = run_id
    return spec_json


def checkpoint_for(run_id: str) -> str | None:
    return Pending.ckpt if Pending.run_id == run_id else None
