"""How a SCHEDULED run becomes a process. Pages and trainers only see this interface, so a
cluster executor (Ray jobs) is one more module here plus one line in ``executor_for``."""

from __future__ import annotations

import os
from typing import Protocol

from experiments.executors import ray as ray_executor
from experiments.executors.local import LocalExecutor, default_limit

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    name: str
    limit: int  # runs this executor starts at once

    def start(self, run_id: str) -> None:
        """Start ``python -m trainers.train --run-id <run_id>`` for a run already claimed (RUNNING)."""

    def running(self) -> list[str]:
        """Run ids whose process this executor watches and which are still alive."""

    def reap(self) -> list[tuple]:
        """(run id, exit code or None if unknown[, reason]) for watched processes that have ended.
        The optional reason says in the executor's words how it ended (a Ray job's status message)."""

    def adopt(self, run_id: str, handle: str) -> None:
        """Watch a process started by an earlier worker (``handle``: its pid or job id)."""

    def watches(self, run_id: str) -> bool:
        """Whether ``run_id``'s process is one this executor started or adopted."""

    def status(self, run_id: str) -> str:
        """"running", "exited" or "unknown" (not started by this executor or on another host)."""

    def stop(self, run_id: str, grace_s: float = 30.0) -> None:
        """Ask the run to stop between steps; force it if still alive after ``grace_s``."""

    def kill(self, run_id: str) -> None:
        """Force the run's process to end now."""

    def logs(self, run_id: str, tail: int = 50) -> str:
        """The last ``tail`` lines of the run's output ("" if unknown)."""


def configured() -> str:
    """The executor new launches go to: ``RUNBOARD_EXECUTOR`` (``local``, the default, or ``ray``).
    The only place that reads it; a run keeps the executor that started it (``queue.EXECUTOR`` tag)."""
    name = os.environ.get("RUNBOARD_EXECUTOR", "").strip().lower() or "local"
    if name not in EXECUTORS:
        raise ValueError(f"RUNBOARD_EXECUTOR: one of {', '.join(EXECUTORS)} (got {name!r})")
    return name


def executor_for(name: str | None = None, uri: str | None = None, limit: int | None = None) -> Executor:
    name = name or configured()
    if name == "local":
        return LocalExecutor(uri, limit)
    if name == "ray":
        return ray_executor.RayExecutor(uri, limit)
    raise ValueError(f"executor: unknown executor {name!r} (known: {', '.join(EXECUTORS)})")


def where() -> dict:
    """Where new launches go: ``{"executor", "text", "resources", "error"}``. ``resources`` (Ray
    only) maps a resource name to ``{"free", "total"}``; ``error`` says why they are unknown."""
    if configured() == "local":
        return {"executor": "local", "text": f"local processes on this machine, up to {default_limit()} at once",
                "resources": None, "error": None}
    address = ray_executor.cluster_address()
    try:
        free, error = ray_executor.cluster_resources(address), None
    except Exception as exc:  # noqa: BLE001 - an unreachable cluster is shown, not raised
        free, error = None, f"{type(exc).__name__}: {exc}"
    return {"executor": "ray", "text": f"Ray jobs on the cluster at {address}", "resources": free, "error": error}
