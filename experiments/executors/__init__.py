"""How a SCHEDULED run becomes a process. Pages and trainers only see this interface, so a
cluster executor (Ray jobs) is one more module here plus one line in ``executor_for``."""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    name: str
    limit: int  # runs this executor starts at once

    def start(self, run_id: str) -> None:
        """Start ``python -m trainers.train --run-id <run_id>`` for a run already claimed (RUNNING)."""

    def running(self) -> list[str]:
        """Run ids whose process this executor watches and which are still alive."""

    def reap(self) -> list[tuple[str, int | None]]:
        """(run id, exit code or None if unknown) for watched processes that have ended."""

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


def executor_for(name: str = "local", uri: str | None = None, limit: int | None = None) -> Executor:
    if name == "local":
        from experiments.executors.local import LocalExecutor

        return LocalExecutor(uri, limit)
    raise ValueError(f"executor: unknown executor {name!r} (known: local)")
