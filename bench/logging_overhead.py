"""What logging every step costs: Runboard's logger vs Lightning's stock MLFlowLogger vs none.

    .venv/bin/python -m bench.logging_overhead [--steps 3000] [--reps 3]

Trains the same MLP on the digits for a fixed number of steps, logging ``train/loss`` every
step, alternating the variants (the last adds what every ``trainers.train`` run logs besides:
lr, gradient norm and throughput per step, system metrics every 5 s) in one process (so machine
noise hits all of them), each on its own fresh SQLite store in a temp folder. The clock stops when
the points are in the store (Runboard's time includes draining its writer). Prints median and best wall time, median CPU
time and the overhead of each against no logger, plus how long Runboard's writer thread was busy
and the CPU its writer process spent (on another core where there is one: it is not in the
training's CPU column, and on a 2-core machine it competes with the training loop).
``--rows-ab`` compares the writer process's direct rows (``trainers.point_rows``) with MLflow's
``log_batch``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import tempfile
import time
import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import MLFlowLogger

from trainers import tracking
from trainers.logger import RunboardLogger
from trainers.registry import get
from trainers.spec import build_spec
from trainers.step_health import StepHealth
from trainers.system_metrics import SystemSampler


def fit_seconds(steps: int, make_logger) -> tuple[float, float, int, float]:
    """(wall s, process CPU s, points stored, writer process CPU s) for one training of ``steps`` steps."""
    spec = build_spec("mlp", {"max_steps": steps, "max_epochs": 10_000, "batch_size": 32})
    pl.seed_everything(0, verbose=False)
    model, data = get("mlp").build(spec.config)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        logger, count, callbacks = make_logger(uri, tmp)
        trainer = pl.Trainer(
            max_steps=steps, max_epochs=10_000, log_every_n_steps=1, logger=logger, limit_val_batches=0,
            callbacks=callbacks,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            accelerator="cpu", devices=1, default_root_dir=tmp,
        )
        start, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
        trainer.fit(model, datamodule=data)
        if isinstance(logger, RunboardLogger):
            fit_end = time.perf_counter()
            if sampler := getattr(logger, "sampler", None):
                sampler.stop()
            logger.close()
            print(f"    Runboard: writer thread busy {logger.writer.busy_seconds:.2f} s; "
                  f"close (drain + writer exit) {time.perf_counter() - fit_end:.2f} s", flush=True)
        return time.perf_counter() - start, time.process_time() - cpu, count(), _children_cpu() - child


def _children_cpu() -> float:
    """CPU seconds of ended child processes (the writer process, once ``close`` waited for it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def no_logger(uri, tmp):
    return False, lambda: 0, []


def stock(uri, tmp):
    logger = MLFlowLogger(experiment_name="bench", tracking_uri=uri, artifact_location=f"{tmp}/artifacts")
    return logger, lambda: len(logger.experiment.get_metric_history(logger.run_id, "train/loss")), []


def runboard(uri, tmp, summaries: str = "1", rows: str = "1"):
    os.environ["RUNBOARD_CURVE_SUMMARIES"] = summaries  # read by the writer process it starts
    os.environ["RUNBOARD_POINT_ROWS"] = rows
    client = tracking.client(uri)
    run_id = client.create_run(tracking.experiment_id("bench", uri)).info.run_id
    return RunboardLogger(client, run_id), lambda: len(client.get_metric_history(run_id, "train/loss")), []


def runboard_no_summaries(uri, tmp):
    """The logger with its writer not keeping curve summaries (issue 13's A/B)."""
    return runboard(uri, tmp, "0")


def runboard_log_batch(uri, tmp):
    """The logger with its writer process storing points through MLflow's ``log_batch`` (the A/B of
    ``trainers.point_rows``)."""
    return runboard(uri, tmp, rows="0")


def runboard_system(uri, tmp):
    """The logger plus system metrics (every 5 s, a thread): what the drop-in logger adds."""
    logger, count, _ = runboard(uri, tmp)
    logger.sampler = SystemSampler(logger.writer)
    logger.sampler.start()
    return logger, count, []


def runboard_full(uri, tmp):
    """What every ``trainers.train`` run logs: the logger plus per-step health and system metrics."""
    return _full(runboard(uri, tmp))


def runboard_full_log_batch(uri, tmp):
    return _full(runboard_log_batch(uri, tmp))


def _full(made):
    logger, count, _ = made
    logger.sampler = SystemSampler(logger.writer)
    logger.sampler.start()
    return logger, count, [StepHealth(logger.writer)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads; 1 keeps OpenMP from spin-waiting on a shared 2-core box")
    p.add_argument("--without-stock", action="store_true",
                   help="skip Lightning's MLFlowLogger (the slowest variant) when re-measuring Runboard only")
    p.add_argument("--summaries-ab", action="store_true",
                   help="only no logger, Runboard, and Runboard without curve summaries (the writer's pyramid)")
    p.add_argument("--rows-ab", action="store_true",
                   help="only no logger, Runboard, and Runboard writing through MLflow's log_batch")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    variants = {"no logger": no_logger, "Lightning MLFlowLogger (sqlite)": stock, "Runboard logger (sqlite)": runboard,
                "Runboard + system metrics": runboard_system,
                "Runboard + lr/grad-norm/throughput + system metrics": runboard_full}
    if args.summaries_ab:
        variants = {"no logger": no_logger, "Runboard logger (sqlite)": runboard,
                    "Runboard, no curve summaries": runboard_no_summaries}
    if args.rows_ab:
        variants = {"no logger": no_logger, "Runboard logger (sqlite)": runboard,
                    "Runboard, log_batch writer": runboard_log_batch,
                    "Runboard + lr/grad-norm/throughput + system metrics": runboard_full,
                    "the same, log_batch writer": runboard_full_log_batch}
    if args.without_stock and not (args.summaries_ab or args.rows_ab):
        del variants["Lightning MLFlowLogger (sqlite)"]
    fit_seconds(50, no_logger)  # warm-up: imports, allocator, data loading
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    writer: dict[str, list[float]] = {name: [] for name in variants}
    for rep in range(args.reps):
        for name, make in variants.items():
            seconds, cpu_s, points, writer_s = fit_seconds(args.steps, make)
            wall[name].append(seconds)
            cpu[name].append(cpu_s)
            writer[name].append(writer_s)
            print(f"rep {rep + 1}: {name:34s} {seconds:7.2f} s wall {cpu_s:7.2f} s CPU {writer_s:5.2f} s writer "
                  f"process CPU ({points} points stored)", flush=True)
    base_w, base_c = statistics.median(wall["no logger"]), statistics.median(cpu["no logger"])
    print(
        f"\n{args.steps} steps, log every step, {args.reps} alternating repetitions "
        "(CPU = all threads of this process;\n"
        "best = fastest repetition, the least disturbed by the rest of the machine):\n"
    )
    best_w = min(wall["no logger"])
    print(
        "| variant | median wall s | overhead (median) | best wall s | overhead (best) | median CPU s | overhead (CPU) "
        "| writer process CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in variants:
        w, b, c = statistics.median(wall[name]), min(wall[name]), statistics.median(cpu[name])
        print(f"| {name} | {w:.2f} | {pct(w, base_w)} | {b:.2f} | {pct(b, best_w)} | {c:.2f} | {pct(c, base_c)} "
              f"| {statistics.median(writer[name]):.2f} |")


def pct(value: float, base: float) -> str:
    return f"{100 * (value - base) / base:+.1f} %"


if __name__ == "__main__":
    main()
