"""``scripts/serve.sh``: refuses to serve the network without login, and the server it starts
enforces its hardening (a WebSocket from a Host name not in ``server.allowedHosts`` is refused,
error details stay off the browser)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from browser_util import REPO, free_port

from dashboard import accounts

SERVE = str(REPO / "scripts" / "serve.sh")


def serve(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", SERVE], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)


def test_it_refuses_a_network_address_with_login_off():
    done = serve({"ADDRESS": "0.0.0.0", "PORT": str(free_port()), "RUNBOARD_AUTH": "off"})
    assert done.returncode == 2 and "refusing to serve 0.0.0.0 with RUNBOARD_AUTH=off" in done.stderr


def test_it_refuses_accounts_mode_without_an_account(tmp_path):
    done = serve({"RUNBOARD_AUTH": "accounts", "RUNBOARD_ACCOUNTS": str(tmp_path / "none.toml"),
                  "PORT": str(free_port())})
    assert done.returncode == 2 and "no accounts yet" in done.stderr


def test_it_refuses_an_unknown_auth_mode():
    done = serve({"RUNBOARD_AUTH": "maybe", "PORT": str(free_port())})
    assert done.returncode == 2 and "must be off, accounts or oidc" in done.stderr


def handshake(port: int, host: str) -> str:
    """The status line of a WebSocket upgrade to Streamlit's stream, sent with ``Host: host``."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: streamlit\r\nOrigin: http://{host}:{port}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        return s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


@contextmanager
def served(env: dict[str, str], log_path: Path):
    """``scripts/serve.sh`` in the background (its own process group) until it answers health."""
    port = env["PORT"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["bash", SERVE], cwd=REPO, env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("serve.sh never became healthy:\n" + log_path.read_text())
                time.sleep(0.25)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # only the group started here
        proc.wait(timeout=15)


def test_the_served_dashboard_refuses_a_websocket_for_an_unknown_host_name(tmp_path, sqlite_uri):
    accounts.add(tmp_path / "accounts.toml", "ada", "launcher", "long-password")
    port = free_port()
    env = {"RUNBOARD_AUTH": "accounts", "RUNBOARD_ACCOUNTS": str(tmp_path / "accounts.toml"),
           "ADDRESS": "127.0.0.1", "PORT": str(port), "ALLOWED_HOSTS": "localhost 127.0.0.1",
           "MLFLOW_TRACKING_URI": sqlite_uri, "RUNBOARD_WORKER": "off"}
    with served(env, tmp_path / "serve.log") as proc:
        assert " 101 " in handshake(port, "127.0.0.1")
        assert " 101 " not in handshake(port, "attacker.example")  # DNS rebinding: another name, same IP
        argv = open(f"/proc/{proc.pid}/cmdline", "rb").read().decode().split("\0")  # serve.sh exec'd the dashboard
        flags = dict(zip(argv, argv[1:]))
        assert flags["--client.showErrorDetails"] == "none" and flags["--server.enableXsrfProtection"] == "true"
        assert flags["--browser.gatherUsageStats"] == "false" and flags["--server.address"] == "127.0.0.1"


def test_the_served_dashboard_starts_queued_runs_before_any_page_is_opened(tmp_path, sqlite_store):
    """After a restart the queue moves with nobody on a page: the worker starts with the process."""
    from launch_util import kill_trainers, wait_until

    from experiments import queue
    from trainers import run_tags, tracking
    from trainers.spec import build_spec

    run_id = queue.submit(build_spec("mlp", {"max_epochs": 1}, run_name="waiting-for-a-restart"))
    env = {"PORT": str(free_port()), "RUNBOARD_AUTH": "off", "RUNBOARD_WORKER": "thread",
           "RUNBOARD_RUNTIME_DIR": str(tmp_path / "runtime")}
    try:
        with served(env, tmp_path / "serve.log"):  # only its health endpoint is asked: no session, no page
            tags = wait_until(lambda: run_tags.PID in (t := tracking.client().get_run(run_id).data.tags) and t, 60,
                              message="the worker starting the queued run")
            assert tags[run_tags.CLAIMED]
    finally:
        kill_trainers()  # trainers lead their own process groups: they outlive the server
