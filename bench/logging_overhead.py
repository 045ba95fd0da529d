"""What logging every step costs: Runboard's logger vs Lightning's stock MLFlowLogger vs none.

    .venv/bin/python bench/logging_overhead.py [--steps 3000] [--reps 3]

Trains the same MLP on the digits for a fixed number of steps, logging ``train/loss`` every
step, alternating the three variants in one process (so machine noise hits all of them), each
on its own fresh SQLite store in a temp folder. The clock stops when the points are in the store
(Runboard's time includes draining its writer). Prints medians and overhead against no logger.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import pytorch_lightning as pl  # noqa: E402
from pytorch_lightning.loggers import MLFlowLogger  # noqa: E402

from trainers import tracking  # noqa: E402
from trainers.logger import RunboardLogger  # noqa: E402
from trainers.spec import build_spec  # noqa: E402
from trainers.registry import get  # noqa: E402


def fit_seconds(steps: int, make_logger) -> tuple[float, int]:
    spec = build_spec("mlp", {"max_steps": steps, "max_epochs": 10_000, "batch_size": 32})
    pl.seed_everything(0, verbose=False)
    model, data = get("mlp").build(spec.config)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        logger, count = make_logger(uri, tmp)
        trainer = pl.Trainer(
            max_steps=steps, max_epochs=10_000, log_every_n_steps=1, logger=logger, limit_val_batches=0,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            accelerator="cpu", devices=1, default_root_dir=tmp,
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=data)
        if isinstance(logger, RunboardLogger):
            logger.close()
        elapsed = time.perf_counter() - start
        return elapsed, count()


def no_logger(uri, tmp):
    return False, lambda: 0


def stock(uri, tmp):
    logger = MLFlowLogger(experiment_name="bench", tracking_uri=uri, artifact_location=f"{tmp}/artifacts")
    return logger, lambda: len(logger.experiment.get_metric_history(logger.run_id, "train/loss"))


def runboard(uri, tmp):
    client = tracking.client(uri)
    run_id = client.create_run(tracking.experiment_id("bench", uri)).info.run_id
    return RunboardLogger(client, run_id), lambda: len(client.get_metric_history(run_id, "train/loss"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    variants = {"no logger": no_logger, "Lightning MLFlowLogger (sqlite)": stock, "Runboard logger (sqlite)": runboard}
    fit_seconds(50, no_logger)  # warm-up: imports, allocator, data loading
    times: dict[str, list[float]] = {name: [] for name in variants}
    for rep in range(args.reps):
        for name, make in variants.items():
            seconds, points = fit_seconds(args.steps, make)
            times[name].append(seconds)
            print(f"rep {rep + 1}: {name:34s} {seconds:7.2f} s  ({points} train/loss points stored)", flush=True)
    base = statistics.median(times["no logger"])
    print(f"\n{args.steps} steps, log every step, median of {args.reps}:\n")
    print("| variant | median s | overhead vs no logger |")
    print("|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {100 * (med - base) / base:+.1f} % |")


if __name__ == "__main__":
    main()
