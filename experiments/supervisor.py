"""The loop that turns the queue into processes and makes sure no run outlives its process.

Each ``tick``: collect children that exited (a run they left RUNNING -> FAILED, or KILLED after a
stop request), force runs past their stop grace period, reconcile the store against live processes
(at start-up and every ``reconcile_s``), move sweeps on, then start SCHEDULED runs oldest first up
to the executor's limit and each sweep's parallelism.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

from experiments import queue, sweeps
from experiments.executors.local import pid_alive
from trainers import journal, run_status, run_tags, tracking
from trainers.run_record import HOST_TAG, PID_TAG, TERMINAL
from trainers.run_tags import CLAIMED, POINTS_NOT_WRITTEN

log = logging.getLogger(__name__)
HEARTBEAT = run_tags.HEARTBEAT
REPEAT_LOG_S = 60.0  # a repeating tick failure is logged at most this often
CLAIM_TIMEOUT_S = 60.0  # a queued run RUNNING this long with no pid lost its worker before the spawn


def stale_after_s() -> float:
    return run_tags.stale_after_s()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "the trainer process exited without ending the run"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the trainer process was killed by {name} (out of memory or kill -9?) without ending the run"
    return f"the trainer process exited with code {code} without ending the run"


class Supervisor:
    def __init__(self, executor, uri: str | None = None, reconcile_s: float = 10.0, stale_s: float | None = None):
        self.executor = executor
        self.uri = uri or tracking.tracking_uri()
        self.reconcile_s = reconcile_s
        self.stale_s = stale_after_s() if stale_s is None else stale_s
        self.host = socket.gethostname()
        self._next_reconcile = 0.0

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        last_error, quiet_until = "", 0.0
        while not stop.is_set():
            try:
                self.tick()
                if last_error:
                    log.warning("supervisor recovered")
                last_error = ""
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not end the queue; next tick retries
                # A store or cluster that stays down fails every poll: the traceback once, then
                # one line a minute while the same error repeats.
                said = f"{type(exc).__name__}: {exc}"
                if said != last_error:
                    log.exception("supervisor tick failed")
                    last_error, quiet_until = said, time.monotonic() + REPEAT_LOG_S
                elif time.monotonic() >= quiet_until:
                    log.warning("supervisor tick still failing: %s", said[:300])
                    quiet_until = time.monotonic() + REPEAT_LOG_S
            stop.wait(poll_s)

    def tick(self) -> None:
        self.reap()
        running = queue.runs_with_status("RUNNING", self.uri)
        self.enforce_stops(running)
        if time.monotonic() >= self._next_reconcile:
            self.reconcile(running)
            self._next_reconcile = time.monotonic() + self.reconcile_s
        for parent in (r for r in running if queue.SWEEP_KIND in r.data.tags):
            try:
                sweeps.advance(parent, self.uri)
            except Exception:  # noqa: BLE001 - one broken sweep must not stop the queue
                log.exception("sweep %s could not advance", parent.info.run_id)
        self.start_queued(running)

    def reap(self) -> None:
        client = tracking.client(self.uri)
        for run_id, code, *said in self.executor.reap():  # said: the executor's own reason, if it gives one
            run = client.get_run(run_id)
            if run.info.status in TERMINAL:
                continue
            reason = said[0] if said else _exit_reason(code)
            if last := self._last_words(run_id):
                reason += f"; its last output: {last}"
            if lost := self._points_left(run_id):  # its trainer trained to the end; the store was away
                run_status.end_if_active(run_id, "FAILED", lost[0], self.uri, lost[1])
                continue
            log.warning("run %s ended by the reaper: %s", run_id, reason)
            if queue.stop_requested(run):
                run_status.end_if_active(run_id, "KILLED", "stopped by request; " + reason, self.uri)
            else:
                run_status.end_if_active(run_id, "FAILED", reason, self.uri)

    def _points_left(self, run_id: str) -> tuple[str, dict[str, str]] | None:
        """The facts a trainer left beside its journal when the store refused its points and then
        its status: the reaper ends the run with them (same reason, same count)."""
        if not (reason := journal.reaper_reason(run_id, self.uri)):
            return None
        log.warning("run %s ended by the reaper: %s", run_id, reason)
        return reason, {POINTS_NOT_WRITTEN: str(journal.Journal(run_id, self.uri).facts()["points"])}

    def _last_words(self, run_id: str) -> str:
        """The trainer's last output line (e.g. a crash's exception), bounded, for the reason."""
        try:
            lines = [ln.strip() for ln in self.executor.logs(run_id, 20).splitlines() if ln.strip()]
        except Exception:  # noqa: BLE001 - the reason without it is still a reason
            return ""
        return lines[-1][:500] if lines else ""

    def enforce_stops(self, running: list) -> None:
        for run in running:
            asked = queue.stop_requested(run)
            grace = float(run.data.tags.get(queue.STOP_GRACE, "30"))
            if asked and time.time() > asked + grace and self.executor.watches(run.info.run_id):
                self.executor.kill(run.info.run_id)

    def reconcile(self, running: list | None = None) -> list[str]:
        """Mark RUNNING runs whose process is gone (or silent too long) FAILED; adopt live ones
        an earlier worker started. Returns the run ids it failed."""
        failed = []
        for run in running if running is not None else queue.runs_with_status("RUNNING", self.uri):
            reason, tags = self._orphan_reason(run), None
            if reason and (lost := self._points_left(run.info.run_id)):
                reason, tags = lost
            if reason and run_status.end_if_active(run.info.run_id, "FAILED", reason, self.uri, tags):
                failed.append(run.info.run_id)
                log.warning("run %s marked FAILED: %s", run.info.run_id, reason)
        return failed

    def _orphan_reason(self, run) -> str | None:
        run_id, tags = run.info.run_id, run.data.tags
        if queue.SWEEP_KIND in tags or self.executor.watches(run_id):
            return None  # a sweep parent has no process; our own children are wait()ed for
        if (job := tags.get(queue.JOB)) and tags.get(queue.EXECUTOR) == self.executor.name:
            # A cluster job an earlier worker submitted: this host's processes say nothing about
            # it. Watch it; if it already ended, the next reap() fails the run with the job's reason.
            self.executor.adopt(run_id, job)
            return None
        pid = tags.get(PID_TAG, "")
        local = tags.get(HOST_TAG) == self.host and pid.isdigit()
        alive = local and pid_alive(int(pid), run_id, (run.info.start_time or 0) / 1000)
        if local and not alive:
            return f"reconciled: process {pid} on {self.host} is gone and the run never ended"
        beat = tags.get(HEARTBEAT)
        if beat and time.time() - float(beat) > self.stale_s:
            if alive:
                os.killpg(int(pid), signal.SIGKILL)
            return f"reconciled: no heartbeat for {time.time() - float(beat):.0f} s (limit {self.stale_s:.0f} s)"
        if alive:
            ours = tags.get(queue.EXECUTOR, "local") == self.executor.name  # a pid means nothing to Ray
            if queue.QUEUED in tags and ours:  # a launch an earlier worker started: watch it, count its slot
                self.executor.adopt(run_id, pid)
            return None
        # from the claim, not the submit: a trial may wait in the queue far longer than the timeout
        started = max(float(tags.get(queue.QUEUED, 0)), float(tags.get(CLAIMED, 0)), (run.info.start_time or 0) / 1000)
        if queue.QUEUED in tags and not pid and time.time() - started > CLAIM_TIMEOUT_S:
            return "reconciled: the worker stopped after claiming the run and before starting its process"
        return None

    def start_queued(self, running: list) -> list[str]:
        room = self.executor.limit - len(self.executor.running())
        if room <= 0:
            return []
        parents = {r.info.run_id: r for r in running if queue.SWEEP_KIND in r.data.tags}
        busy: dict[str, int] = {}
        for r in running:
            if parent := r.data.tags.get(queue.PARENT):
                busy[parent] = busy.get(parent, 0) + 1
        started = []
        for run in queue.runs_with_status("SCHEDULED", self.uri):
            if room <= 0:
                break
            parent = run.data.tags.get(queue.PARENT)
            if parent in parents and busy.get(parent, 0) >= sweeps.parallelism(parents[parent]):
                continue
            if not run_status.claim(run.info.run_id, self.uri):
                continue  # cancelled or taken since we listed it
            try:
                self.executor.start(run.info.run_id)
            except Exception as exc:  # noqa: BLE001 - a run that cannot start fails, the queue goes on
                run_status.end_if_active(run.info.run_id, "FAILED", f"could not start the trainer: {exc}", self.uri)
                continue
            started.append(run.info.run_id)
            room -= 1
            if parent:
                busy[parent] = busy.get(parent, 0) + 1
        return started
