"""Callbacks that bridge a training loop and the store: progress, confusion matrices, stop."""

from __future__ import annotations

import json
import logging
import signal
import time
from pathlib import Path

import pytorch_lightning as pl

from trainers import pruning
from trainers import run_tags as T
from trainers.logger import RunboardLogger

log = logging.getLogger(__name__)


class Progress(pl.Callback):
    """Epoch / step / total steps as run tags, written with the next metric batch."""

    def __init__(self, logger: RunboardLogger):
        self.logger = logger

    def on_train_start(self, trainer, pl_module):
        self.logger.set_tags({
            T.PROGRESS_TOTAL_STEPS: int(trainer.estimated_stepping_batches),
            T.PROGRESS_MAX_EPOCHS: trainer.max_epochs, T.PROGRESS_STARTED: f"{time.time():.0f}",
            T.PROGRESS_EPOCH: 0, T.PROGRESS_STEP: 0, T.HEARTBEAT: f"{time.time():.0f}",
        })

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.logger.set_tags({
            T.PROGRESS_EPOCH: trainer.current_epoch, T.PROGRESS_STEP: trainer.global_step,
            T.HEARTBEAT: f"{time.time():.0f}",
        })

    def on_train_epoch_end(self, trainer, pl_module):
        self.logger.set_tags({T.PROGRESS_EPOCH: trainer.current_epoch + 1})
        self.logger.flush()
        if trainer.is_global_zero:  # the run's log (Activity's log panel) gets a line per epoch
            print(epoch_line(trainer.current_epoch + 1, trainer.max_epochs, trainer.global_step,
                             trainer.callback_metrics), flush=True)


def epoch_line(epoch: int, max_epochs: int | None, step: int, metrics) -> str:
    """``epoch 3/10 · step 120 · train/loss 0.412 · val/loss 0.398``: scalar metrics, sorted by name."""
    parts = [f"epoch {epoch}/{max_epochs}" if max_epochs and max_epochs > 0 else f"epoch {epoch}", f"step {step}"]
    for name in sorted(metrics):
        value = metrics[name]
        if getattr(value, "numel", lambda: 1)() == 1:
            parts.append(f"{name} {float(value):.4g}")
    return " · ".join(parts)


class ConfusionArtifacts(pl.Callback):
    """Writes ``pl_module.confusion`` (set by classifiers each validation epoch) as JSON."""

    def __init__(self, logger: RunboardLogger, workdir: Path):
        self.logger, self.workdir = logger, workdir

    def on_validation_end(self, trainer, pl_module):
        conf = getattr(pl_module, "confusion", None)
        if not conf or trainer.sanity_checking:
            return
        path = self.workdir / f"epoch_{conf['epoch']:03d}.json"
        path.write_text(json.dumps(conf))
        self.logger.log_artifact(path, "confusion")


class StopRequest(pl.Callback):
    """SIGTERM / SIGINT (or the run's ``runboard.stop_requested`` tag, seen by the logger's writer
    thread, which calls ``request``) ask for a graceful stop: the loop ends at the next step
    boundary and the run is marked KILLED with every logged point kept. A second signal is not
    special: Lightning raises at the next batch anyway."""

    def __init__(self):
        self.requested = False
        self.reason: str | None = None  # why, when it is not a person's request (e.g. pruned)
        self._previous = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        self.requested = True

    def request(self, reason: str | None = None) -> None:
        self.requested = True
        self.reason = self.reason or reason

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.requested:
            trainer.should_stop = True


class SweepPruning(pl.Callback):
    """A sweep trial's early stopping (see ``trainers.pruning``): at each validation epoch's end,
    the trial's objective against its siblings' curves from the store; when the rule prunes it,
    training stops after this epoch and ``stop`` carries the reason (the run ends KILLED)."""

    def __init__(self, client, run, stop: StopRequest):
        cfg = json.loads(run.data.tags[T.SWEEP_PRUNE])
        self.client, self.stop = client, stop
        self.run_id, self.experiment_id, self.parent = run.info.run_id, run.info.experiment_id, run.data.tags[T.PARENT]
        self.rule, self.metric, self.direction = pruning.PruneRule(**cfg["rule"]), cfg["metric"], cfg["direction"]
        self._ended: dict[str, list[float]] = {}  # an ended sibling's curve no longer changes: read once

    @classmethod
    def for_run(cls, client, run_id: str, stop: StopRequest) -> SweepPruning | None:
        run = client.get_run(run_id)
        return cls(client, run, stop) if T.SWEEP_PRUNE in run.data.tags and T.PARENT in run.data.tags else None

    def on_validation_end(self, trainer, pl_module):
        value = trainer.callback_metrics.get(self.metric)
        if trainer.sanity_checking or value is None or self.stop.requested or trainer.world_size > 1:
            return  # DDP: the child ranks (no store) could not follow rank zero's stop; they train on
        epoch = trainer.current_epoch + 1
        try:
            prune = pruning.should_prune(self.rule, self.direction, float(value), epoch, self._siblings())
        except Exception as exc:  # noqa: BLE001 - a store hiccup must not end the trial: it trains on
            log.warning("early stopping skipped at epoch %d: %s", epoch, exc)
            return
        if prune:
            self.stop.request(pruning.reason(epoch))
            trainer.should_stop = True

    def _siblings(self) -> list[tuple[str, list[float]]]:
        runs = self.client.search_runs([self.experiment_id], f"tags.`{T.PARENT}` = '{self.parent}'", max_results=10_000)
        wanted = [
            r
            for r in runs
            if r.info.run_id != self.run_id
            and self.metric in r.data.metrics
            and (self.rule.rule != "median" or r.info.status == "FINISHED")
        ]  # the median reads finished ones only
        return [(r.info.status, self._curve(r)) for r in wanted]

    def _curve(self, run) -> list[float]:
        """The sibling's objective per epoch: ``curve[k-1]`` is its k-th validation point."""
        rid = run.info.run_id
        if rid not in self._ended:
            by_step = {m.step: m.value for m in self.client.get_metric_history(rid, self.metric)}
            curve = [by_step[s] for s in sorted(by_step)]
            if run.info.status not in T.TERMINAL:
                return curve
            self._ended[rid] = curve
        return self._ended[rid]
