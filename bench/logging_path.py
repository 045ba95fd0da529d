"""What one logged step costs the training thread, call by call (CPU µs of this thread, so other
processes on the machine barely move it; ``bench.logging_overhead`` measures whole trainings).

    .venv/bin/python -m bench.logging_path [--calls 20000]

Times, each over ``--calls`` calls: Lightning's conversion of a step's logged tensor to a float
(``convert_tensors_to_scalars``, what its logger connector does before calling a logger), the
Runboard logger's ``log_metrics`` (which includes the writer's ``add_points``), and ``add_points``
alone, and the step-health callback's gradient norm (``trainers.step_health.grad_norm``) of the ``mlp``
family's parameters. The writer process is started as in a run; its work is not in these figures.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import torch
from lightning_fabric.utilities.apply_func import convert_tensors_to_scalars

from trainers import tracking
from trainers.logger import RunboardLogger
from trainers.registry import get
from trainers.spec import build_spec
from trainers.step_health import grad_norm


def per_call_us(fn, calls: int) -> float:
    start = time.thread_time()
    for _ in range(calls):
        fn()
    return 1e6 * (time.thread_time() - start) / calls


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=20_000)
    args = p.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    torch.set_num_threads(1)  # as bench.logging_overhead trains
    step_metrics = {"train/loss": torch.tensor(0.5)}  # what Lightning holds for a step's self.log
    model, _ = get("mlp").build(build_spec("mlp", {}).config)
    params = [p for p in model.parameters() if p.requires_grad]
    for param in params:
        param.grad = torch.randn_like(param)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = tracking.client(uri)
        logger = RunboardLogger(client, client.create_run(tracking.experiment_id("bench", uri)).info.run_id)
        try:
            rows = {
                "Lightning: convert_tensors_to_scalars (1 tensor)": lambda: convert_tensors_to_scalars(step_metrics),
                "Runboard: RunboardLogger.log_metrics (1 value + epoch)": lambda: logger.log_metrics(
                    {"train/loss": 0.5, "epoch": 0}, 5
                ),
                "Runboard: BatchWriter.add_points (1 point)": lambda: logger.writer.add_points(
                    [("train/loss", 0.5, 1, 1)]
                ),
                f"StepHealth: grad_norm (mlp, {len(params)} tensors)": lambda: grad_norm(model, params),
            }
            for name, fn in rows.items():
                print(f"{name:58s} {per_call_us(fn, args.calls):6.2f} µs per call", flush=True)
        finally:
            logger.close()


if __name__ == "__main__":
    main()
