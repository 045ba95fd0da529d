"""Per-step training health for any Lightning module: learning rate, gradient norm, throughput.

Written straight into the run's writer every ``every_n_steps`` steps (the family's
``log_every_n_steps``), not through Lightning's logging path, so it costs a timer read, one
gradient norm and a list append per logged step. Throughput is samples per second of the steps
since the last point, and tokens per second when the module says how many tokens a sample holds
(an int ``tokens_per_sample``, as ``gpt`` does).
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch

from trainers.metrics import SAMPLES_PER_S, TOKENS_PER_S, TRAIN_GRAD_NORM, TRAIN_LR


def batch_size(batch) -> int:
    """Samples in a batch: the first dimension of its first tensor (tuples, lists and dicts alike)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for item in items:
        if (n := batch_size(item)) > 0:
            return n
    return 0


class StepHealth(pl.Callback):
    def __init__(self, writer, every_n_steps: int = 1):
        self.writer, self.every = writer, max(1, int(every_n_steps))
        self._since, self._samples, self._grad, self._last = None, 0, None, -1

    def _due(self, trainer) -> bool:
        return (trainer.global_step + 1) % self.every == 0  # the steps Lightning logs train/loss at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._since is None:
            self._since = time.perf_counter()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if self._due(trainer):  # a tensor: no device sync until the point is written
            norms = [p.grad.detach().norm(2) for p in pl_module.parameters() if p.grad is not None]
            self._grad = torch.stack(norms).norm(2) if norms else None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._samples += batch_size(batch)
        step = trainer.global_step - 1  # the step that just ran, as Lightning logs its metrics
        if step < 0 or (step + 1) % self.every or step == self._last:  # accumulating batches: one point a step
            return
        self._last = step
        now, points = time.perf_counter(), {}
        if trainer.optimizers:
            points[TRAIN_LR] = float(trainer.optimizers[0].param_groups[0]["lr"])
        if self._grad is not None:
            points[TRAIN_GRAD_NORM] = float(self._grad)
        elapsed = now - (self._since or now)
        if elapsed > 0 and self._samples:
            points[SAMPLES_PER_S] = self._samples / elapsed
            if tokens := getattr(pl_module, "tokens_per_sample", None):
                points[TOKENS_PER_S] = self._samples * int(tokens) / elapsed
        ms = int(time.time() * 1000)
        self.writer.add_points([(k, v, ms, step) for k, v in points.items()])
        self._since, self._samples, self._grad = now, 0, None
