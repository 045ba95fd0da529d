"""Callbacks that bridge a training loop and the store: progress, confusion matrices, stop."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytorch_lightning as pl

from trainers.logger import RunboardLogger

from trainers import run_tags as T


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
        self._previous = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        self.requested = True

    def request(self) -> None:
        self.requested = True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.requested:
            trainer.should_stop = True
