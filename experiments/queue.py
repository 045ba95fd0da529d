"""The queue is the store: a launch is an MLflow run in status SCHEDULED, created at once.

Everything a worker needs to start it (the validated spec as JSON, who launched it, its sweep
parent) is in the run's tags, so a dashboard or worker restart loses nothing.
"""

from __future__ import annotations

import fcntl
import getpass
import re
import time
from contextlib import contextmanager, nullcontext

from mlflow.entities import Param

from experiments.executors import executor_for
from trainers import run_status, tracking
from trainers import run_tags as T
from trainers.run_record import FAMILY_TAG, SPEC_TAG, STOP_TAG, TERMINAL, params_of
from trainers.run_tags import (  # noqa: F401 - re-exported for the launch side's callers
    CLONED_FROM,
    EXECUTOR,
    JOB,
    LAUNCHED_BY,
    PARENT,
    QUEUED,
    STOP_GRACE,
    STOPPED_BY,
    SUBMIT_KEY,
    SWEEP_KIND,
    SWEEP_TRIAL,
)
from trainers.spec import RunSpec
from trainers.version import __version__

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def launch_tags(spec: RunSpec, launched_by=None, parent_run_id=None, cloned_from=None, key=None) -> dict[str, str]:
    tags = {
        FAMILY_TAG: spec.family, SPEC_TAG: spec.to_json(), QUEUED: f"{time.time():.3f}",
        T.VERSION: __version__, LAUNCHED_BY: launched_by or getpass.getuser(),
        T.USER: launched_by or getpass.getuser(), T.SOURCE_NAME: "trainers.train",
    }
    optional = {PARENT: parent_run_id, CLONED_FROM: cloned_from, SUBMIT_KEY: key}
    return {**tags, **{k: v for k, v in optional.items() if v}}


@contextmanager
def submit_lock(uri: str):
    """Serialises "find the key, else create" between every process of this host."""
    with open(tracking.runtime_dir(uri) / "submit.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def find_by_key(client, experiment_id: str, key: str) -> str | None:
    if not _KEY.match(key):  # the key is spliced into a filter string: plain characters only
        raise ValueError(f"idempotency_key: 1-200 of A-Z a-z 0-9 _ . : - (got {key!r})")
    found = client.search_runs(
        [experiment_id], f"tags.`{SUBMIT_KEY}` = '{key}'", max_results=1, order_by=["attributes.start_time ASC"]
    )
    return found[0].info.run_id if found else None


def submit(spec: RunSpec, launched_by: str | None = None, parent_run_id: str | None = None,
           cloned_from: str | None = None, idempotency_key: str | None = None, uri: str | None = None,
           extra_tags: dict[str, str] | None = None) -> str:
    """Create the run for ``spec`` in status SCHEDULED and return its id.

    With an ``idempotency_key`` a second submit with the same key in the same experiment returns
    the first run (a double-clicked Launch or a Streamlit rerun starts one run).
    """
    uri = uri or tracking.tracking_uri()
    client = tracking.client(uri)
    exp = tracking.experiment_id(spec.experiment, uri)
    with submit_lock(uri) if idempotency_key else nullcontext():
        if idempotency_key and (found := find_by_key(client, exp, idempotency_key)):
            return found
        tags = {**launch_tags(spec, launched_by, parent_run_id, cloned_from, idempotency_key), **(extra_tags or {})}
        run_id = client.create_run(exp, tags=tags, run_name=spec.run_name).info.run_id
        # create_run makes it RUNNING; the reaper leaves a QUEUED run without a pid alone for a
        # minute, and the params go in before SCHEDULED so a worker never sees a run without them.
        client.log_batch(run_id, params=[Param(k, v) for k, v in params_of(spec).items()])
        client.update_run(run_id, status="SCHEDULED")
    return run_id


def cancel(run_id: str, uri: str | None = None, stopped_by: str | None = None) -> bool:
    """Take a SCHEDULED run off the queue (KILLED, never started). A sweep parent takes its
    queued trials with it. False when the run already started or ended. ``stopped_by`` lands
    with the status (a page refreshing in between never sees the run ended without it)."""
    uri = uri or tracking.tracking_uri()
    client = tracking.client(uri)
    run = client.get_run(run_id)
    who = {STOPPED_BY: stopped_by} if stopped_by else None
    if SWEEP_KIND in run.data.tags:
        for child in children(run_id, run.info.experiment_id, uri):
            if child.info.status == "SCHEDULED":
                run_status.cancel(child.info.run_id, uri, reason="sweep cancelled before this trial started")
        return run_status.end_if_active(run_id, "KILLED", "sweep cancelled", uri, tags=who)
    return run_status.cancel(run_id, uri, reason="cancelled before it started", tags=who)


def stop(run_id: str, grace_s: float = 30.0, uri: str | None = None, stopped_by: str | None = None) -> str:
    """Cancel a queued run, or ask a running one to stop (then signal it after ``grace_s``).
    Returns what happened: "cancelled", "stopping" or the run's terminal status. Who asked is
    recorded in ``runboard.stopped_by`` when it did something."""
    uri = uri or tracking.tracking_uri()
    who = stopped_by or getpass.getuser()
    if cancel(run_id, uri, stopped_by=who):
        return "cancelled"
    run = tracking.client(uri).get_run(run_id)
    if run.info.status in TERMINAL:
        return run.info.status
    tracking.client(uri).set_tag(run_id, STOPPED_BY, who)
    executor_for(run.data.tags.get(EXECUTOR, "local"), uri).stop(run_id, grace_s)
    return "stopping"


def children(parent_run_id: str, experiment_id: str, uri: str | None = None) -> list:
    client = tracking.client(uri)
    return client.search_runs([experiment_id], f"tags.`{PARENT}` = '{parent_run_id}'", max_results=10_000,
                              order_by=["attributes.start_time ASC"])


def runs_with_status(status: str, uri: str | None = None) -> list:
    """Active runs in ``status`` across every experiment, oldest first (the queue's FIFO)."""
    client = tracking.client(uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    out = []
    for i in range(0, len(exps), 100):  # search_runs takes at most 100 experiments
        out += client.search_runs(exps[i : i + 100], f"attributes.status = '{status}'", max_results=50_000,
                                  order_by=["attributes.start_time ASC", "attributes.run_id ASC"])
    return sorted(out, key=lambda r: (r.info.start_time or 0, r.info.run_id))


def stop_requested(run) -> float | None:
    value = run.data.tags.get(STOP_TAG)
    return float(value) if value else None
