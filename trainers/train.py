"""Train one run: ``train(spec) -> TrainResult`` and the CLI over it.

    python -m trainers.train <family | experiments/<file>.yaml> [--set key=value ...] [--run-id ID]

The last line of stdout is the run id. Exit 0 when the run ends FINISHED; 2 for a config error
(nothing is created); 1 otherwise, with the run marked FAILED (or KILLED after SIGTERM/SIGINT).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from trainers import ddp, hardware, journal, registry, resume, run_record, tracking
from trainers.callbacks import ConfusionArtifacts, Progress, StopRequest, SweepPruning
from trainers.config import ConfigError, parse_overrides
from trainers.log_sinks import PointsNotWritten
from trainers.logger import RunboardLogger
from trainers.metrics import SYSTEM_PREFIX
from trainers.spec import RunSpec, spec_from_json, spec_from_target
from trainers.step_health import StepHealth
from trainers.system_metrics import SystemSampler

log = logging.getLogger("trainers.train")


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    status: str  # FINISHED | FAILED | KILLED
    metrics: dict[str, float]
    error: str | None = None


def _trainer(spec: RunSpec, logger, callbacks, workdir: Path):
    cfg = spec.config
    ckpt = ModelCheckpoint(dirpath=workdir / "ckpt", filename="best", monitor="val/loss", mode="min", save_top_k=1)
    return pl.Trainer(
        max_epochs=cfg.max_epochs, max_steps=cfg.max_steps, log_every_n_steps=cfg.log_every_n_steps,
        logger=logger, callbacks=[*callbacks, ckpt, resume.IntervalCheckpoint(cfg, logger, workdir)],
        **hardware.trainer_kwargs(cfg),
        default_root_dir=str(workdir), num_sanity_val_steps=0,
        enable_progress_bar=False, enable_model_summary=False,
    ), ckpt


def build_seeded(spec: RunSpec):
    """The family's (module, data module), built after seeding: the seed decides the initial weights."""
    pl.seed_everything(spec.config.seed, workers=True, verbose=False)
    return registry.get(spec.family).build(spec.config)


def child_main() -> int | None:
    """Train as a DDP child rank and return the exit code; None when this is not a child rank."""
    if not ddp.child_rank():
        return None
    spec = spec_from_json(os.environ[ddp.SPEC_ENV])
    model, data = build_seeded(spec)
    logger, stop = ddp.NullLogger(), StopRequest()
    stop.install()
    with tempfile.TemporaryDirectory(prefix="runboard-rank-") as tmp:
        workdir = Path(tmp)
        (workdir / "confusion").mkdir()
        callbacks = [Progress(logger), ConfusionArtifacts(logger, workdir / "confusion"), stop]
        trainer, _ = _trainer(spec, logger, callbacks, workdir)
        trainer.fit(model, datamodule=data, ckpt_path=os.environ.get(ddp.CKPT_ENV) or None)
    return 0


def _fit(spec: RunSpec, run_id: str, client, stop) -> dict[str, float]:
    hardware.check_available(spec.config)  # a launched run whose GPU is absent ends FAILED with why
    model, data = build_seeded(spec)
    run_record.log_model_facts(client, run_id, model)
    logger = RunboardLogger(client, run_id, on_stop=stop.request)
    first_sample = 0
    if ckpt_path := resume.checkpoint_for(run_id):
        stored = resume.skip_logged(logger, client, run_id)
        first_sample = 1 + max((s for k, s in stored.items() if k.startswith(SYSTEM_PREFIX)), default=-1)
    with tempfile.TemporaryDirectory(prefix="runboard-") as tmp:
        workdir = Path(tmp)
        (workdir / "confusion").mkdir()
        callbacks = [Progress(logger), ConfusionArtifacts(logger, workdir / "confusion"), stop,
                     StepHealth(logger.writer, spec.config.log_every_n_steps)]
        if pruner := SweepPruning.for_run(client, run_id, stop):  # a sweep trial with early stopping
            callbacks.append(pruner)
        trainer, ckpt = _trainer(spec, logger, callbacks, workdir)
        ddp.share(spec, run_id, ckpt_path)
        sampler = SystemSampler(logger.writer, first_step=first_sample)  # MLflow's system/… metrics every 5 s
        sampler.start()
        try:
            trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
        finally:
            sampler.stop()
            if ckpt.best_model_path:
                logger.log_artifact(ckpt.best_model_path, "model")
            logger.close()  # drains every buffered point and artifact before the status changes
        logger.writer.raise_if_incomplete()  # never FINISHED with points missing
        return {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}


def train(spec: RunSpec, run_id: str | None = None) -> TrainResult:
    """Create (or attach to) the run, train, and end it FINISHED / FAILED / KILLED."""
    client = tracking.client()
    tags: dict[str, str] = {}  # written with the final status (how many points are missing)
    stop = StopRequest()
    stop.install()  # before the run exists: a signal during set-up is a stop request, not a half-made run
    try:
        run_id = run_record.start(client, spec, run_id)
    except BaseException:
        stop.uninstall()
        raise
    try:
        if stop.requested:
            raise KeyboardInterrupt("stopped during set-up")
        metrics = _fit(spec, run_id, client, stop)
        status, error = ("KILLED", stop.reason or "stopped by request") if stop.requested else ("FINISHED", None)
    except PointsNotWritten as exc:  # trained to the end, but the store did not take everything
        metrics, status = {}, "FAILED"
        error, tags = journal.failed_ending(run_id, client.tracking_uri, "KILLED" if stop.requested else "FINISHED",
                                            (stop.reason or "stopped by request") if stop.requested else None, exc)
        log.error("%s", error)
    except BaseException as exc:  # noqa: BLE001 - every way out must end the run
        metrics = {}
        status = "KILLED" if stop.requested or isinstance(exc, KeyboardInterrupt) else "FAILED"
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__
        if stop.requested:  # Lightning answers SIGTERM with its own SIGTERMException: the stop is the reason
            error = stop.reason or "stopped by request"
        if status == "FAILED":
            log.error("training failed:\n%s", traceback.format_exc())
    finally:
        stop.uninstall()
    run_record.end(client, run_id, status, error, tags)
    return TrainResult(run_id, status, metrics, error)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m trainers.train", description=__doc__.split("\n\n")[0])
    p.add_argument("target", nargs="?", help="a model family or an experiments/*.yaml file")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config field"
    )
    p.add_argument("--resume", metavar="RUN_ID", help="continue a FAILED/KILLED run from its last checkpoint")
    p.add_argument("--run-id", help="attach to an existing (e.g. SCHEDULED) run instead of creating one")
    p.add_argument("--experiment", help="MLflow experiment name (default: runboard)")
    p.add_argument("--name", help="run name")
    return p.parse_args(argv)


def _spec_for(args) -> RunSpec:
    if args.resume or (args.run_id and resume.requested(tracking.client(), args.run_id)):
        queued, args.run_id = not args.resume, args.resume or args.run_id
        return spec_from_json(resume.prepare(tracking.client(), args.run_id, queued))
    if args.target:
        return spec_from_target(args.target, parse_overrides(args.overrides), args.experiment, args.name)
    if not args.run_id:
        raise ConfigError("target: name a model family or an experiment file (or pass --run-id)")
    return spec_from_json(run_record.stored_spec(tracking.client(), args.run_id))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("RUNBOARD_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*(does not have many workers|LeafSpec|_pytree).*")
    if (
        logging.getLogger().level > logging.DEBUG
    ):  # MLflow logs every store error with its traceback; we say it in one line
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
        # and urllib3 one line per retry of an mlflow server's request: the writer says it once
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    if (code := child_main()) is not None:  # a DDP child rank: trains, never touches the store
        return code
    args = _parse(argv)
    try:
        spec = _spec_for(args) if args.resume or args.run_id else hardware.checked(_spec_for(args))
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    try:
        result = train(spec, args.run_id)
    except ConfigError as err:  # e.g. --run-id names no run, or one that already ended
        print(f"config error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the store failed while the run was set up: one line, not a traceback
        log.debug("start failed", exc_info=True)
        msg = str(err) if isinstance(err, run_record.StartError) else f"the store failed: {run_record.one_line(err)}"
        print(f"error: {msg}", file=sys.stderr)
        return 1
    for key in sorted(result.metrics):
        print(f"{key} = {result.metrics[key]:.6g}")
    print(f"status = {result.status}")
    print(result.run_id)
    return 0 if result.status == "FINISHED" else 1


if __name__ == "__main__":
    sys.exit(main())
