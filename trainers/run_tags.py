"""The run vocabulary: every tag a trainer, the launch side and the dashboard share, and the statuses.

One home for each name. MLflow's own tags are MLflow's constants, spelled out (see below); Runboard's are
``runboard.*``. A comment says which side writes a tag (each tag is written by one side).
"""

from __future__ import annotations

import os

# --- statuses ---------------------------------------------------------------------------------
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
ACTIVE = ("RUNNING", "SCHEDULED")

# --- MLflow's own -------------------------------------------------------------------------------
# Spelled here, not imported from ``mlflow.utils.mlflow_tags``: importing that loads all of MLflow
# (~150 MB), and the dashboard process and the queue worker's idle poll need these names without
# it (issue 16). tests/test_dashboard_imports.py pins each one to MLflow's constant.
USER = "mlflow.user"  # who launched the run (launch side), else the trainer's OS user
PARENT = "mlflow.parentRunId"  # a sweep trial's parent run
RUN_NAME = "mlflow.runName"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"

NAMESPACE = "runboard."  # every Runboard tag name starts with it (pages show tags without it)

# --- what a run is (written when it is created: by the queue, or by a trainer started by hand) ---
FAMILY = "runboard.family"
SPEC = "runboard.spec"  # the validated RunSpec as JSON: what the trainer trains
VERSION = "runboard.version"

# --- the trainer process (trainer) ---------------------------------------------------------------
COMMAND = "runboard.command"
HOST = "runboard.host"  # with PID: lets a reaper on that host tell a live run from a dead one
PID = "runboard.pid"
ERROR = "runboard.error"  # why a run ended FAILED / KILLED (trainer, reaper or launch side)
# How many points the store did not take (a count, or "unknown" when the writer process was lost);
# "recovering" while ``python -m trainers.recover`` writes them; removed once they are all in.
# Written with the final status by whoever ends the run (trainer or reaper), then by recover.
POINTS_NOT_WRITTEN = "runboard.points_not_written"
RECOVERING = "recovering"  # its value while recover runs

# --- live progress (trainer) ---------------------------------------------------------------------
PROGRESS = "runboard.progress."  # prefix of the ones below
PROGRESS_EPOCH = PROGRESS + "epoch"
PROGRESS_STEP = PROGRESS + "step"
PROGRESS_TOTAL_STEPS = PROGRESS + "total_steps"
PROGRESS_MAX_EPOCHS = PROGRESS + "max_epochs"
PROGRESS_STARTED = PROGRESS + "started"  # unix seconds when training began (after any queue wait)
HEARTBEAT = "runboard.heartbeat"  # unix seconds of the last step

# --- the queue (launch side) ---------------------------------------------------------------------
QUEUED = "runboard.queued"  # unix seconds of submit; every run the queue created has it
LAUNCHED_BY = "runboard.launched_by"
CLONED_FROM = "runboard.cloned_from"
SUBMIT_KEY = "runboard.submit_key"  # idempotency key of a submit
STOP_REQUESTED = "runboard.stop_requested"  # unix seconds; the trainer stops at the next step once it sees it
STOPPED_BY = "runboard.stopped_by"  # who pressed Stop / Cancel
EXECUTOR = "runboard.executor"  # local | ray
JOB = "runboard.job_id"  # the executor's handle when the run is not a local process (a Ray job id)
STOP_GRACE = "runboard.stop_grace_s"
CLAIMED = "runboard.claimed"  # unix seconds of the SCHEDULED -> RUNNING claim (the claim timeout counts from it)
RAY_ADDRESS = "runboard.ray.address"
RAY_RUN_ID = "runboard.run_id"  # Ray job metadata key naming the run
REQUEST_CPUS = "runboard.request.cpus"
REQUEST_GPUS = "runboard.request.gpus"

# --- sweeps (launch side) ------------------------------------------------------------------------
SWEEP = "runboard.sweep"  # on the parent: the sweep's definition
SWEEP_KIND = "runboard.sweep.kind"  # grid | random | optuna, on parent and trials
SWEEP_TRIAL = "runboard.sweep.trial"  # the trial's number, on a trial
SWEEP_BEST = "runboard.sweep.best_"  # prefix: best trial's facts on the parent
SWEEP_FINISHED_TRIALS = "runboard.sweep.finished_trials"
SWEEP_PRUNE = "runboard.sweep.prune"  # on a trial: the early-stopping rule its trainer applies (trainers.pruning)

# How long a RUNNING run may go without a heartbeat before the reaper (and every page) calls it dead.
STALE_AFTER_S_DEFAULT = 600.0

# --- resume (trainer) ----------------------------------------------------------------------------
CHECKPOINT_STEP = (
    "runboard.checkpoint.step"  # global step of the last checkpoint uploaded (artifact CHECKPOINT_ARTIFACT)
)
RESUMED_FROM_STEP = "runboard.resumed_from_step"  # set when --resume continued the run from a checkpoint
RESUME_REQUESTED = "runboard.resume_requested"  # launch side: the queued run continues from its checkpoint

# --- your own script (launch side sets it in the environment; RunboardLogger attaches to it) -----
RUN_ID_ENV = "RUNBOARD_RUN_ID"  # env var, not a tag: the run a queue-launched script's logger attaches to
SCRIPT = "runboard.script"  # launch side: the user's script as JSON argv, for the local executor

# --- saved views (dashboard; EXPERIMENT tags, shared by everyone who reads the store) -------------
VIEW = "runboard.view."  # prefix: + the view's name -> the Runs page's URL state as a query string
DEFAULT_VIEW = "runboard.default_view"  # the name of the view the Runs page opens the experiment with


def stale_after_s() -> float:
    """The reaper's limit (``RUNBOARD_STALE_S``), which the pages use too: one threshold everywhere."""
    return float(os.environ.get("RUNBOARD_STALE_S", STALE_AFTER_S_DEFAULT))
