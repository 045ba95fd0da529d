"""Queue a FAILED / KILLED run (with a checkpoint) to continue: the Run page's Resume button.

The run goes back to SCHEDULED (one conditional UPDATE, as every queue transition) with
``runboard.resume_requested``; the worker starts ``trainers.train --run-id`` on it as on any queued
run, and the trainer, seeing the tag, continues from the run's last checkpoint (``trainers.resume``).
"""

from __future__ import annotations

import getpass
import time

from trainers import run_status, run_tags, tracking
from trainers.resume import resumable


def can_resume(run_info: dict) -> bool:
    """For the page: a FAILED / KILLED run that has a checkpoint (from ``ui.run``'s dict)."""
    return run_info.get("status") in ("FAILED", "KILLED") and run_tags.CHECKPOINT_STEP in run_info.get("tags", {})


def request(run_id: str, uri: str | None = None, by: str | None = None) -> str:
    """Queue ``run_id`` to resume. Returns "queued", or why not (one line)."""
    uri = uri or tracking.tracking_uri()
    client = tracking.client(uri)
    run = client.get_run(run_id)
    if run.info.status not in ("FAILED", "KILLED"):
        return f"run {run_id} is {run.info.status}; only a FAILED or KILLED run can be resumed"
    if why := resumable(run):
        return why
    client.set_tag(run_id, run_tags.RESUME_REQUESTED, by or getpass.getuser())
    client.set_tag(run_id, run_tags.QUEUED, f"{time.time():.3f}")
    if not run_status.requeue(run_id, uri):
        client.delete_tag(run_id, run_tags.RESUME_REQUESTED)
        return f"run {run_id} changed status just now; not resumed"
    return "queued"
