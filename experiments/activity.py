"""What the Queue/Activity view shows, as plain data: queued and running runs with their progress,
recently ended launches, and the tail of a run's log. Pages read this; they never see MLflow."""

from __future__ import annotations

import time

from experiments import queue
from experiments.executors import executor_for
from trainers import progress, run_tags, tracking
from trainers.run_record import ERROR_TAG, FAMILY_TAG

LOG_TAIL = 200  # lines of a run's log the panel shows (it scrolls)


def reason(tags: dict[str, str], status: str) -> str | None:
    """Why a run ended, in the user's words: a stop or cancel names who asked (the trainer's own
    error for a stop is the signal's exception, e.g. ``SIGTERMException``, which explains nothing)."""
    if status == "KILLED" and (who := tags.get(run_tags.STOPPED_BY)):
        started = run_tags.CLAIMED in tags or run_tags.PID in tags
        return f"{'stopped' if started else 'cancelled'} by {who}"
    error = tags.get(ERROR_TAG)
    return error.splitlines()[0] if error else None


def _row(run, now: float) -> dict:
    tags = run.data.tags
    started = (run.info.start_time or 0) / 1000
    p = progress.read(tags, float(tags.get(queue.QUEUED, started)), now)
    return {
        "run_id": run.info.run_id, "name": run.info.run_name or run.info.run_id[:8], "status": run.info.status,
        "family": tags.get(FAMILY_TAG, ""), "launched_by": tags.get(queue.LAUNCHED_BY, ""),
        "parent_run_id": tags.get(queue.PARENT), "sweep": tags.get(queue.SWEEP_KIND),
        "experiment_id": run.info.experiment_id, "queued_at": started,
        "epoch": p.epoch, "max_epochs": p.max_epochs, "step": p.step, "total_steps": p.total_steps,
        "fraction": p.fraction, "eta_s": p.eta_s, "heartbeat_age_s": p.heartbeat_age_s, "stale": p.stale,
        "progress_text": p.text(),
        "stopping": queue.STOP_TAG in tags,
        "error": tags.get(ERROR_TAG), "reason": reason(tags, run.info.status),
    }


def active(uri: str | None = None) -> list[dict]:
    """Queued (oldest first, with their queue position) then running runs."""
    now = time.time()
    scheduled = [_row(r, now) for r in queue.runs_with_status("SCHEDULED", uri)]
    for i, row in enumerate(scheduled, 1):
        row["position"] = i
    return scheduled + [_row(r, now) for r in queue.runs_with_status("RUNNING", uri)]


def recent(limit: int = 20, uri: str | None = None) -> list[dict]:
    """Launches (queued by Runboard) that ended, newest first."""
    client, now = tracking.client(uri), time.time()
    exps = [e.experiment_id for e in client.search_experiments()][:100]
    runs = client.search_runs(exps, "attributes.status != 'RUNNING' and attributes.status != 'SCHEDULED'",
                              max_results=limit * 3, order_by=["attributes.start_time DESC"]) if exps else []
    return [_row(r, now) for r in runs if queue.QUEUED in r.data.tags or queue.SWEEP_KIND in r.data.tags][:limit]


def logs(run_id: str, tail: int = LOG_TAIL, uri: str | None = None) -> str:
    tags = tracking.client(uri).get_run(run_id).data.tags
    return executor_for(tags.get(queue.EXECUTOR, "local"), uri).logs(run_id, tail)
