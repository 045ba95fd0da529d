"""What a run records about itself in the store: creation or attach, params, tags, final status."""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import subprocess
import sys
import time
from functools import lru_cache

from mlflow.entities import Param, RunTag

from trainers import run_status, tracking
from trainers import run_tags as T
from trainers.config import ConfigError
from trainers.run_tags import TERMINAL  # noqa: F401 - re-exported: older callers import it from here
from trainers.spec import RunSpec
from trainers.store_writer import retry_budget
from trainers.version import __version__

# The names other modules import from here; their one home is trainers.run_tags.
SPEC_TAG, FAMILY_TAG, ERROR_TAG = T.SPEC, T.FAMILY, T.ERROR
PID_TAG, HOST_TAG, STOP_TAG = T.PID, T.HOST, T.STOP_REQUESTED


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tracking.REPO, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_tags(spec: RunSpec) -> dict[str, str]:
    """What the run is. Written by whoever creates the run: the queue (``experiments.queue``) for a
    launch, the trainer for a run started by hand — never both, so a launcher stays ``mlflow.user``."""
    return {
        FAMILY_TAG: spec.family,
        SPEC_TAG: spec.to_json(),
        T.VERSION: __version__,
        T.USER: getpass.getuser(),
        T.SOURCE_NAME: "trainers.train",
    }


def process_tags() -> dict[str, str]:
    """The training process and the code it runs: always written by the trainer."""
    tags = {
        T.COMMAND: shlex.join([sys.executable, *sys.argv]),
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        T.SOURCE_TYPE: "LOCAL",
    }
    if commit := git_commit():
        tags[T.GIT_COMMIT] = commit
    return tags


def params_of(spec: RunSpec) -> dict[str, str]:
    return {"family": spec.family, **{k: str(v) for k, v in spec.config.model_dump().items()}}


def _log(client, run_id: str, params: dict[str, str], tags: dict[str, str]) -> None:
    client.log_batch(
        run_id, params=[Param(k, v) for k, v in params.items()], tags=[RunTag(k, v) for k, v in tags.items()]
    )


def start(client, spec: RunSpec, run_id: str | None) -> str:
    """Create a RUNNING run for ``spec``, or move an existing non-terminal run to RUNNING."""
    if run_id is None:
        exp = tracking.experiment_id(spec.experiment)
        location = client.get_experiment(exp).artifact_location
        if why := tracking.artifacts_unreachable(location, client.tracking_uri):
            # refused before the run exists, not after training at the first checkpoint
            name = spec.experiment or tracking.default_experiment()
            raise ConfigError(f"experiment: {name!r}: {why}", field="experiment")
        run_id = client.create_run(exp, run_name=spec.run_name).info.run_id
        params, tags = params_of(spec), {**run_tags(spec), **process_tags()}
    else:
        if attachable_status(client, run_id) == "SCHEDULED":
            claim(client, run_id)
        if pause := os.environ.get("RUNBOARD_TEST_ATTACH_PAUSE_S"):  # tests: hold the attach in the reaper's window
            time.sleep(float(pause))
        params, tags = {}, process_tags()  # the queue logged the params and what the run is
    try:
        _log(client, run_id, params, tags)
    except BaseException as exc:  # noqa: BLE001 - a run never stays RUNNING without its process
        raise StartError(run_id, one_line(exc), abandon(client, run_id, one_line(exc))) from exc
    return run_id


class StartError(RuntimeError):
    """The run exists but could not be set up; ``outcome`` says what became of it."""

    def __init__(self, run_id: str, cause: str, outcome: str):
        super().__init__(f"could not start run {run_id}: {cause} ({outcome})")
        self.run_id, self.cause, self.outcome = run_id, cause, outcome


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, at most ``limit`` characters: for a tag and stderr."""
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def abandon(client, run_id: str, cause: str) -> str:
    """End a half-made run FAILED naming the cause, else delete it; says which happened."""
    # the status first: one small write, the likeliest to get through a store that just failed
    if not _try(lambda: client.set_terminated(run_id, "FAILED")):
        # a SQLite store on a full disk: the write-ahead log holds space a fold gives back
        if not (tracking.fold_wal(client.tracking_uri) and _try(lambda: client.set_terminated(run_id, "FAILED"))):
            if _try(lambda: client.delete_run(run_id)):
                return "the half-made run was deleted"
            return "the store refused to mark it FAILED; the reaper will end it"
    try:
        client.set_tag(run_id, ERROR_TAG, f"set-up failed: {cause}")
    except Exception:  # noqa: BLE001 - any refusal: the run is FAILED already, only its reason is missing
        return "the run is marked FAILED; the store refused the reason"
    return "the run is marked FAILED"


def _try(write) -> bool:
    try:
        write()
        return True
    except Exception:  # noqa: BLE001 - the store that just failed may fail again
        return False


def claim(client, run_id: str) -> None:
    """SCHEDULED -> RUNNING for a trainer started by hand on a queued run, with the worker's own
    compare-and-set: of a hand-run and the worker, exactly one starts the run; the other stops
    here, before training. (A trainer the worker started finds its run RUNNING: claimed for it.)"""
    # pid and host go in with the claim: a reaper never sees this run RUNNING without its process
    if not run_status.claim(run_id, client.tracking_uri, {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}):
        raise ConfigError(f"run-id: run {run_id} was started by someone else just now (the queue's worker?); "
                          "not starting it twice", field="run-id")


def attachable_status(client, run_id: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ConfigError(f"run-id: no run {run_id!r} in the store", field="run-id") from None
    if run.info.status in TERMINAL:
        raise ConfigError(f"run-id: run {run_id} already ended {run.info.status}", field="run-id")
    return run.info.status


def stored_spec(client, run_id: str) -> str:
    attachable_status(client, run_id)
    spec = client.get_run(run_id).data.tags.get(SPEC_TAG)
    if not spec:
        raise ConfigError(f"run-id: run {run_id} has no {SPEC_TAG} tag to train from", field="run-id")
    return spec


def retrying(call):
    """``call()``, retried with backoff (0.2 s doubling to 5 s) for the writer's retry budget
    (``RUNBOARD_WRITE_RETRY_SECONDS``): a database restart must not end a training, nor leave its
    status unwritten. Writes passed here are idempotent (a tag, a param of the same value, a status)."""
    start, attempt = time.monotonic(), 0
    while True:
        try:
            return call()
        except Exception:  # noqa: BLE001 - any store error; the last one is raised
            if time.monotonic() - start >= retry_budget():
                raise
            time.sleep(min(0.2 * 2**attempt, 5.0))
            attempt += 1


def log_model_facts(client, run_id: str, model) -> None:
    n = sum(p.numel() for p in model.parameters())
    retrying(lambda: client.log_batch(run_id, params=[Param("num_params", str(n))]))


def end(client, run_id: str, status: str, error: str | None, tags: dict[str, str] | None = None) -> None:
    """Set the final status (and its reason, and ``tags``) unless someone (a reaper, a stop) already ended the run."""
    try:
        _end(client, run_id, status, error, tags)
    except Exception:
        # a SQLite store on a full disk: the write-ahead log holds space a fold gives back
        if not tracking.fold_wal(client.tracking_uri):
            raise
        _end(client, run_id, status, error, tags)


def _end(client, run_id: str, status: str, error: str | None, tags: dict[str, str] | None) -> None:
    if error or tags:
        batch = [RunTag(k, v) for k, v in {**(tags or {}), **({ERROR_TAG: error[:5000]} if error else {})}.items()]
        retrying(lambda: client.log_batch(run_id, tags=batch))
    if retrying(lambda: client.get_run(run_id).info.status) not in TERMINAL:
        retrying(lambda: client.set_terminated(run_id, status))
