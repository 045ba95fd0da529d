"""Per-step training health for any Lightning module: learning rate, gradient norm, throughput.

Written straight into the run's writer every ``every_n_steps`` steps (the family's
``log_every_n_steps``), not through Lightning's logging path, so it costs a timer read, one
fused gradient norm (``torch._foreach_norm``: one kernel launch for all parameters, ~3x cheaper than
a norm per parameter on a small CPU model) and a list append per logged step. The norms stay tensors
until ``SYNC_SECONDS`` have passed (or a checkpoint / the end of training): on a GPU a ``float()``
per step would stall the host on the device every step; this costs one sync per batch of points.
Throughput is samples per second of the steps since the last point, and tokens per second when the
module says how many tokens a sample holds (an int ``tokens_per_sample``, as ``gpt`` does).
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


SYNC_SECONDS = 0.5  # as often as the writer's pipe is flushed: a SIGKILL loses no more of these than of the rest


def grad_norm(module: torch.nn.Module, params: list[torch.Tensor] | None = None) -> torch.Tensor | None:
    """The 2-norm of all gradients together, as a tensor on their device (no sync). ``params``:
    the module's trainable parameters, listed once by the caller (walking the module tree costs
    more than the norm itself on a small model)."""
    grads = [p.grad for p in (params if params is not None else module.parameters()) if p.grad is not None]
    if not grads:
        return None
    with torch.no_grad():
        device = grads[0].device
        if all(g.device == device for g in grads):
            return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2)), 2)
        per_device: dict[torch.device, list[torch.Tensor]] = {}
        for g in grads:  # _foreach_norm wants one device per call (a model split over GPUs has several)
            per_device.setdefault(g.device, []).append(g)
        norms = [
            torch.linalg.vector_norm(torch.stack(torch._foreach_norm(gs, 2)), 2).cpu() for gs in per_device.values()
        ]
        return torch.linalg.vector_norm(torch.stack(norms), 2)


class StepHealth(pl.Callback):
    def __init__(self, writer, every_n_steps: int = 1):
        self.writer, self.every = writer, max(1, int(every_n_steps))
        self._since, self._samples, self._grad, self._last = None, 0, None, -1
        self._pending: list[tuple[int, int, dict, torch.Tensor | None]] = []  # (step, ms, points, grad norm)
        self._synced = time.perf_counter()
        self._params: list[torch.Tensor] | None = None

    def on_fit_start(self, trainer, pl_module):
        # listed once, after the strategy moved the module to its device(s)
        self._params = [p for p in pl_module.parameters() if p.requires_grad]

    def _due(self, trainer) -> bool:
        return (trainer.global_step + 1) % self.every == 0  # the steps Lightning logs train/loss at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._since is None:
            self._since = time.perf_counter()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if self._due(trainer):  # a tensor: no device sync until the points are written
            self._grad = grad_norm(pl_module, self._params)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._samples += batch_size(batch)
        step = trainer.global_step - 1  # the step that just ran, as Lightning logs its metrics
        if step < 0 or (step + 1) % self.every or step == self._last:  # accumulating batches: one point a step
            return
        self._last = step
        now, points = time.perf_counter(), {}
        if trainer.optimizers:
            points[TRAIN_LR] = float(trainer.optimizers[0].param_groups[0]["lr"])
        elapsed = now - (self._since or now)
        if elapsed > 0 and self._samples:
            points[SAMPLES_PER_S] = self._samples / elapsed
            if tokens := getattr(pl_module, "tokens_per_sample", None):
                points[TOKENS_PER_S] = self._samples * int(tokens) / elapsed
        self._pending.append((step, int(time.time() * 1000), points, self._grad))
        self._since, self._samples, self._grad = now, 0, None
        if now - self._synced >= SYNC_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Hand the pending points to the writer, reading all their gradient norms in one sync."""
        if not self._pending:
            return
        pending, self._pending, self._synced = self._pending, [], time.perf_counter()
        grads = [g for *_, g in pending if g is not None]
        values = iter(torch.stack([g.to(grads[0].device) for g in grads]).float().tolist() if grads else [])
        out = []
        for step, ms, points, grad in pending:
            if grad is not None:
                points[TRAIN_GRAD_NORM] = next(values)
            out += [(k, v, ms, step) for k, v in points.items()]
        self.writer.add_points(out)

    # every point of the steps a checkpoint covers is handed over before it is saved (resume continues after it)
    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.flush()

    def on_train_end(self, trainer, pl_module):
        self.flush()

    def on_exception(self, trainer, pl_module, exception):
        self.flush()
