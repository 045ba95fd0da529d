"""How a SCHEDULED run becomes a process. Pages and trainers only see this interface, so a
cluster executor (Ray jobs) is one more module here plus one line in ``executor_for``."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

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
        from experiments.executors.local import LocalExecutor

        return LocalExecutor(uri, limit)
    if name == "ray":
        from experiments.executors.ray import RayExecutor

        return RayExecutor(uri, limit)
    raise ValueError(f"executor: unknown executor {name!r} (known: {', '.join(EXECUTORS)})")


def force_later(grace_s: float, kill: Callable[[str], None], run_id: str) -> None:
    """Call ``kill(run_id)`` after the grace period, in a daemon thread. By then the store may be
    gone (the dashboard shut down, a test's database dropped): that is logged, never raised."""

    def force() -> None:
        try:
            kill(run_id)
        except Exception as exc:  # noqa: BLE001 - a background thread has no caller to tell
            log.warning("could not force run %s to stop: %s", run_id, exc)

    timer = threading.Timer(grace_s, force)
    timer.daemon = True
    timer.start()
