"""A real ``mlflow server`` for tests: 127.0.0.1, a free port, output in a file (an unread PIPE can
block a server), stopped through its own process group and nothing else."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

MLFLOW = Path(sys.executable).with_name("mlflow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    """True if ``url`` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_for(url: str, proc: subprocess.Popen | None, log: Path, timeout: float = 300) -> None:
    """Until ``url`` answers 200; fails with the log's tail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.args[:3]} exited ({proc.returncode}):\n{_tail(log)}")
        if answers(url):
            return
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group this test started, SIGKILL it if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def launch_server(backend_uri: str, workdir: Path, port: int, artifacts: Path | None = None):
    """``(process, log path)`` of an ``mlflow server`` on ``port``, in its own process group
    (appending to its log, so a restart on the same port keeps the first one's lines)."""
    log = workdir / "mlflow-server.log"
    cmd = [str(MLFLOW), "server", "--backend-store-uri", backend_uri, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    cmd += ["--serve-artifacts", "--artifacts-destination", str(artifacts)] if artifacts else ["--no-serve-artifacts"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}  # only its flags configure it
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, log


@contextmanager
def mlflow_server(backend_uri: str, workdir: Path, artifacts: Path | None = None):
    """Yield the base URL of ``mlflow server`` over ``backend_uri``.

    With ``artifacts`` the server stores artifacts there and serves them (``mlflow-artifacts:``
    locations: clients upload and download over HTTP); without, it does not serve artifacts and
    clients use each experiment's own location.
    """
    port = free_port()
    proc, log = launch_server(backend_uri, workdir, port, artifacts)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", proc, log)
        yield url
    finally:
        stop_group(proc)


def stop_marked(marker: str, grace_s: float = 20) -> None:
    """SIGTERM, then SIGKILL, every process whose environment holds ``RUNBOARD_TEST_MARK=<marker>``:
    the processes a test's shell commands started, however they detached (nohup, setsid)."""
    needle = f"RUNBOARD_TEST_MARK={marker}".encode()

    def marked() -> list[int]:
        pids = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if needle in environ.read_bytes().split(b"\0"):
                    pids.append(int(environ.parent.name))
            except OSError:
                continue
        return pids

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in marked():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while marked() and time.monotonic() < deadline:
            time.sleep(0.2)
