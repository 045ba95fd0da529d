"""A real local Ray head for the Ray executor tests, one per test session (imported by conftest).

Started on 127.0.0.1 with free ports (6379 is Redis's here), 2 CPUs, a small object store and its
own short temp dir (Ray's unix sockets must fit in 107 bytes). Stopped by signalling the process
group of the ``ray start --block`` it started, then any Ray process left that names its temp dir,
by pid. Never ``ray stop``: that ends every Ray process on the machine.
Without ``ray`` installed the tests skip with the reason, except under CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

START_TIMEOUT_S = 180  # a cold head on a busy 2-core machine: GCS, raylet, dashboard, then the job agent


def require_ray() -> None:
    try:
        import ray.job_submission  # noqa: F401 - only whether it imports
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"ray is required in CI (scripts/setup.sh --ray installs requirements-ray.txt): {exc}")
        pytest.skip(f"ray is not installed ({exc}); `bash scripts/setup.sh --ray` to run the Ray executor tests")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:  # all bound at once, so the n ports differ
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start_command(temp_dir: str, gcs: int, dashboard: int, client: int, agent: int) -> list[str]:
    ray_cli = Path(sys.executable).with_name("ray")
    return [str(ray_cli), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
            "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--include-dashboard", "true",
            "--ray-client-server-port", str(client), "--dashboard-agent-listen-port", str(agent),
            "--num-cpus", "2", "--num-gpus", "0", "--object-store-memory", "200000000",
            "--temp-dir", temp_dir, "--disable-usage-stats"]


def _wait_for_jobs_api(address: str, proc: subprocess.Popen, log: Path) -> None:
    """Until jobs can be submitted and the cluster reports its resources (the Launch page shows them)."""
    from ray.job_submission import JobSubmissionClient

    from experiments.executors.ray import cluster_resources

    deadline, last = time.monotonic() + START_TIMEOUT_S, None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            JobSubmissionClient(address).list_jobs()
            cluster_resources(address)
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(1)
    raise RuntimeError(
        f"the Jobs API at {address} did not answer in {START_TIMEOUT_S} s ({last}):\n{log.read_text()[-3000:]}"
    )


def _leftovers(temp_dir: str) -> list[int]:
    """Pids of processes whose command line names our temp dir (raylet, workers, agents)."""
    me, out = os.getpid(), []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if temp_dir.encode() in cmdline.read_bytes() and int(cmdline.parent.name) != me:
                out.append(int(cmdline.parent.name))
        except OSError:
            continue
    return out


def _stop(proc: subprocess.Popen, temp_dir: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # only the group started here
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)  # `ray start --block` ends its children on SIGTERM but may not exit itself
            break
        except subprocess.TimeoutExpired:
            continue
    deadline = time.monotonic() + 15
    while (left := _leftovers(temp_dir)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGTERM if time.monotonic() < deadline - 5 else signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)


@pytest.fixture(scope="session")
def ray_head():
    """The Jobs API address (``http://127.0.0.1:<port>``) of a Ray head running for this session."""
    require_ray()
    temp_dir = tempfile.mkdtemp(prefix="rb-ray-", dir="/tmp")
    gcs, dashboard, client, agent = _free_ports(4)
    log = Path(temp_dir) / "ray-start.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}  # no outside cluster address
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    with open(log, "wb") as out:  # a file, not a PIPE: an unread pipe can block ray start
        proc = subprocess.Popen(_start_command(temp_dir, gcs, dashboard, client, agent), env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        _wait_for_jobs_api(address, proc, log)
        yield address
    finally:
        _stop(proc, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
