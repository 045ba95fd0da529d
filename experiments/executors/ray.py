"""Runs on a Ray cluster: one Ray job per run, through the Jobs API (the head's dashboard port).

The job's entrypoint is the argv the local executor starts (``python -m trainers.train --run-id
<id>``), shell-quoted because Ray runs it with ``sh -c``, under the same allow-listed environment
plus ``PYTHONPATH`` = this repository. So every node that may run it needs the repository and the
venv at the same paths as here, and ``MLFLOW_TRACKING_URI`` must name a store every node reaches
(README, "Running on a Ray cluster"). The submission id is derived from the run id: submitting a
run twice is one job.

The run's MLflow status stays the truth; Ray only says whether the job still runs. ``reap``
reports jobs that ended and the supervisor fails a run its job left active.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.request

from experiments import placement
from experiments.executors.local import child_env, force_later
from trainers import run_status, run_tags, tracking
from trainers.hardware import device_env  # the GPUs reserved become the trainer's devices
from trainers.run_record import STOP_TAG

ADDRESS_TAG = run_tags.RAY_ADDRESS
DEFAULT_ADDRESS = "http://127.0.0.1:8265"
ACTIVE = ("PENDING", "RUNNING")  # Ray's job states before it ends SUCCEEDED / FAILED / STOPPED
DEFAULT_JOBS = 16  # jobs in flight at once unless RUNBOARD_MAX_RUNS says otherwise: Ray queues past its free resources
STOP_WAIT_S = 15
FORCE_EVERY_S = 10.0  # the supervisor asks to force a late stop every tick; Ray needs to hear it once


def cluster_address() -> str:
    """The Jobs API of the cluster: ``RAY_ADDRESS`` (``http://<head>:8265``), else this machine's."""
    return os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS


def job_id(run_id: str) -> str:
    return f"runboard-{run_id}"


def argv(run_id: str) -> list[str]:
    return [sys.executable, "-m", "trainers.train", "--run-id", run_id]


def job_env(uri: str) -> dict[str, str]:
    """The local executor's allow-list, and ``trainers`` importable from wherever Ray starts the job."""
    env = child_env(uri)
    env.pop("CUDA_VISIBLE_DEVICES", None)  # Ray sets it to the GPUs it reserved for the job
    # Ray's own stop (ray job stop, its dashboard, our forced stop) sends SIGTERM, then SIGKILL after
    # this many seconds (Ray's default: 3). The trainer ends KILLED on SIGTERM once it has written
    # its points and checkpoint; give it time to.
    env["RAY_JOB_STOP_WAIT_TIME_S"] = str(STOP_WAIT_S)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([str(tracking.REPO), *paths]))
    return env


def cluster_resources(address: str | None = None, timeout: float = 2.0) -> dict[str, dict[str, float]]:
    """``{"CPU": {"free", "total"}, "GPU": …}`` summed over the cluster's live nodes."""
    base = (address or cluster_address()).rstrip("/")
    with urllib.request.urlopen(f"{base}/api/cluster_status", timeout=timeout) as resp:
        status = json.load(resp)["data"].get("clusterStatus") or {}
    usage = (status.get("loadMetricsReport") or {}).get("usage") or {}  # {name: [used, total]}
    if "CPU" not in usage:  # Ray's monitor writes it a few seconds after the head starts
        raise LookupError("the cluster has not reported its resources yet")
    out = {}
    for name in ("CPU", "GPU"):
        used, total = usage.get(name, [0.0, 0.0])
        out[name] = {"free": float(total) - float(used), "total": float(total)}
    return out


def _ended_reason(job: str, info) -> str:
    message = (info.message or "").strip().splitlines()
    detail = f": {message[0][:300]}" if message else ""
    return f"the Ray job {job} ended {info.status.value} without ending the run{detail}"


class RayExecutor:
    name = "ray"

    def __init__(self, uri: str | None = None, limit: int | None = None, address: str | None = None):
        self.uri = uri or tracking.tracking_uri()
        self.limit = limit or int(os.environ.get("RUNBOARD_MAX_RUNS") or DEFAULT_JOBS)
        self.address = address or cluster_address()
        self._jobs: dict[str, str] = {}  # run id -> job id, for jobs this executor watches
        self._forced: dict[str, float] = {}  # job id -> when stop_job was last sent
        self._client = None

    def client(self):
        """The Jobs API client, made on first use (it checks the cluster's version over HTTP)."""
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            self._client = JobSubmissionClient(self.address)
        return self._client

    def _info(self, job: str):
        """Ray's record of ``job``, or None when the cluster has no such job (restarted, or another
        cluster). A cluster that does not answer raises: the supervisor's tick retries."""
        try:
            return self.client().get_job_info(job)
        except RuntimeError as exc:  # the SDK raises RuntimeError("Request failed with status code 404: …")
            if "status code 404" in str(exc):
                return None
            raise

    def start(self, run_id: str) -> None:
        job = job_id(run_id)
        run = tracking.client(self.uri).get_run(run_id)
        # Tagged before the submit: a worker that dies in between leaves a handle the next one checks.
        self._tag(run_id, job)
        request = placement.request_of(run.data.tags)
        try:
            self.client().submit_job(
                entrypoint=shlex.join(argv(run_id)),
                submission_id=job,
                runtime_env={"env_vars": {**job_env(self.uri), **device_env(request["gpus"])}},
                entrypoint_num_cpus=request["cpus"],
                entrypoint_num_gpus=request["gpus"],
                metadata={run_tags.RAY_RUN_ID: run_id},
            )
        except RuntimeError:
            if self._info(job) is None:  # not "already submitted": a real failure
                raise
        self._jobs[run_id] = job

    def _tag(self, run_id: str, job: str) -> None:
        from mlflow.entities import RunTag

        tags = {run_tags.EXECUTOR: self.name, run_tags.JOB: job, ADDRESS_TAG: self.address}
        tracking.client(self.uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def adopt(self, run_id: str, handle: str) -> None:
        self._jobs[run_id] = handle

    def watches(self, run_id: str) -> bool:
        return run_id in self._jobs

    def running(self) -> list[str]:
        if not self._jobs:  # a cluster that does not answer raises here, before the supervisor claims a run
            self.client().get_version()
        return [r for r, job in self._jobs.items() if (info := self._info(job)) and info.status.value in ACTIVE]

    def reap(self) -> list[tuple]:
        done = []
        for run_id, job in list(self._jobs.items()):
            info = self._info(job)
            if info is not None and info.status.value in ACTIVE:
                continue
            del self._jobs[run_id]
            self._forced.pop(job, None)
            if info is None:
                done.append(
                    (run_id, None, f"the Ray job {job} is gone from the cluster at {self.address} (restarted?)")
                )
            else:
                done.append((run_id, getattr(info, "driver_exit_code", None), _ended_reason(job, info)))
        return done

    def _job_of(self, run_id: str) -> str | None:
        if run_id in self._jobs:
            return self._jobs[run_id]
        return tracking.client(self.uri).get_run(run_id).data.tags.get(run_tags.JOB)

    def status(self, run_id: str) -> str:
        job = self._job_of(run_id)
        info = self._info(job) if job else None
        if info is None:
            return "unknown"
        return "running" if info.status.value in ACTIVE else "exited"

    def stop(self, run_id: str, grace_s: float = 30.0) -> None:
        # The tag reaches the trainer wherever it runs (its writer thread reads it between steps,
        # and the run ends KILLED with every point); Ray's stop_job only after the grace period.
        client = tracking.client(self.uri)
        client.set_tag(run_id, STOP_TAG, f"{time.time():.3f}")
        client.set_tag(run_id, run_tags.STOP_GRACE, f"{grace_s:g}")
        job = self._job_of(run_id)
        if job and (info := self._info(job)) is not None and info.status.value == "PENDING":
            # Still waiting for resources: no trainer reads the tag, and Ray only acts on stop_job
            # once the job starts. End the run now; a trainer that starts later finds it ended.
            self.kill(run_id)
            run_status.end_if_active(
                run_id, "KILLED", f"stopped while its Ray job {job} waited for resources", self.uri
            )
            return
        force_later(grace_s, self.kill, run_id)

    def kill(self, run_id: str) -> None:
        """Ray's stop: SIGTERM to the job's process group, SIGKILL a few seconds later."""
        job = self._job_of(run_id)
        if not job or time.monotonic() - self._forced.get(job, -FORCE_EVERY_S) < FORCE_EVERY_S:
            return
        self._forced[job] = time.monotonic()
        try:
            self.client().stop_job(job)
        except RuntimeError:  # no such job: nothing left to stop
            pass

    def logs(self, run_id: str, tail: int = 50) -> str:
        job = self._job_of(run_id)
        if not job:
            return ""
        try:
            text = self.client().get_job_logs(job)
        except Exception as exc:  # noqa: BLE001 - a log view must not break the page
            return f"(no log from the Ray cluster at {self.address}: {type(exc).__name__}: {exc})"
        return "\n".join(text.splitlines()[-tail:])
