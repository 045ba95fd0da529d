"""Runs on this machine: one process per run, in its own process group, output to a log file."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from experiments.scripts import script_argv
from trainers import run_tags, tracking
from trainers.run_record import HOST_TAG, PID_TAG, STOP_TAG

log = logging.getLogger(__name__)
EXECUTOR_TAG, STOP_GRACE_TAG = run_tags.EXECUTOR, run_tags.STOP_GRACE
# What a trainer may see of the launcher's environment. Everything else (the dashboard's auth
# secrets, cloud keys, tokens) stays out; RUNBOARD_ENV_ALLOW adds names for a site that needs them.
ALLOW = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH",
         "VIRTUAL_ENV", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
         "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",  # CA bundles, not secrets
         # the trainer writes to the same store, so it needs the store's own credentials
         "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
         "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH"}

DASHBOARD_ONLY = {"RUNBOARD_AUTH", "RUNBOARD_ACCOUNTS", "RUNBOARD_MLFLOW_UI"}
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|COOKIE|_KEY$|^RUNBOARD_OIDC", re.I)


def default_limit() -> int:
    if value := os.environ.get("RUNBOARD_MAX_RUNS"):
        return max(1, int(value))
    return max(1, (os.cpu_count() or 2) - 1)


def _runboard_setting(name: str) -> bool:
    """RUNBOARD_* settings reach trainers, except the dashboard's own login settings and anything
    named like a credential (a secrets.toml root key becomes an environment variable too)."""
    return name.startswith("RUNBOARD_") and name not in DASHBOARD_ONLY and not _SECRET_NAME.search(name)


def child_env(uri: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    extra = {s.strip() for s in environ.get("RUNBOARD_ENV_ALLOW", "").split(",") if s.strip()}
    env = {k: v for k, v in environ.items() if k in ALLOW or k in extra or _runboard_setting(k)}
    env["MLFLOW_TRACKING_URI"] = uri
    env["PYTHONUNBUFFERED"] = "1"  # the log file shows lines as they happen
    return env


def _proc_start(pid: int) -> float | None:
    """Unix time at which ``pid`` started (procfs), or None."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def pid_alive(pid: int, run_id: str | None = None, run_started: float | None = None) -> bool:
    """Is ``pid`` a live (not zombie) process — and, given ``run_id``, the trainer of that run?
    A recycled pid belongs to someone else and must never be signalled or taken for the trainer.

    A launched trainer has the run id in its argv. A trainer started by hand (``trainers.train
    mlp``) creates its run after it starts, so with ``run_started`` (unix s) a trainer process
    that started before the run is accepted; a younger one is a recycled pid."""
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():  # no procfs: the best test left
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    if run_id is None or run_id.encode() in cmdline:
        return True
    if run_started is not None and b"trainers.train" in cmdline:
        start = _proc_start(pid)
        return start is not None and start <= run_started + 1.0  # clock ticks: allow a second
    return False


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


class LocalExecutor:
    name = "local"

    def __init__(self, uri: str | None = None, limit: int | None = None):
        self.uri = uri or tracking.tracking_uri()
        self.limit = limit or default_limit()
        self.host = socket.gethostname()
        self._procs: dict[str, subprocess.Popen] = {}
        self._adopted: dict[str, int] = {}

    def log_path(self, run_id: str) -> Path:
        folder = tracking.runtime_dir(self.uri) / "logs"
        folder.mkdir(exist_ok=True)
        return folder / f"{run_id}.log"

    def start(self, run_id: str) -> None:
        argv = [sys.executable, "-m", "trainers.train", "--run-id", run_id]
        if (script := script_argv(run_id, self.uri)) is not None:  # a user's own script (experiments.scripts)
            argv = [sys.executable, "-m", "trainers.run_script", run_id, *script]
        with open(self.log_path(run_id), "ab") as log:
            log.write(
                f"runboard: starting run {run_id} on {self.host} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(argv, cwd=tracking.REPO, env=child_env(self.uri), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        self._procs[run_id] = proc
        try:
            self._tag(run_id, proc.pid)
        except Exception:  # noqa: BLE001 - the process runs and is watched: failing the run now would
            # leave a trainer training a FAILED run (its FINISHED refused). It writes pid/host itself.
            log.warning(
                "run %s started as pid %d, but its pid tag could not be written", run_id, proc.pid, exc_info=True
            )

    def _tag(self, run_id: str, pid: int) -> None:
        from mlflow.entities import RunTag

        tags = {PID_TAG: str(pid), HOST_TAG: self.host, EXECUTOR_TAG: self.name}
        tracking.client(self.uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def adopt(self, run_id: str, handle: str) -> None:
        self._adopted[run_id] = int(handle)

    def running(self) -> list[str]:
        alive = [r for r, p in self._procs.items() if p.poll() is None]
        return alive + [r for r, pid in self._adopted.items() if pid_alive(pid, r)]

    def reap(self) -> list[tuple[str, int | None]]:
        done = [(r, p.returncode) for r, p in self._procs.items() if p.poll() is not None]
        done += [(r, None) for r, pid in self._adopted.items() if not pid_alive(pid, r)]
        for run_id, _ in done:
            self._procs.pop(run_id, None)
            self._adopted.pop(run_id, None)
        return done

    def watches(self, run_id: str) -> bool:
        return run_id in self._procs or run_id in self._adopted

    def _pid(self, run_id: str) -> int | None:
        if run_id in self._procs:
            return self._procs[run_id].pid
        if run_id in self._adopted:
            return self._adopted[run_id]
        tags = tracking.client(self.uri).get_run(run_id).data.tags
        if tags.get(HOST_TAG) == self.host and tags.get(PID_TAG, "").isdigit():
            return int(tags[PID_TAG])
        return None

    def status(self, run_id: str) -> str:
        pid = self._pid(run_id)
        if pid is None:
            return "unknown"
        return "running" if pid_alive(pid, run_id) else "exited"

    def _signal(self, run_id: str, sig: int) -> bool:
        pid = self._pid(run_id)
        if pid is None or not pid_alive(pid, run_id):
            return False
        try:
            os.killpg(pid, sig)  # the trainer leads its own group (start_new_session): its children too
        except ProcessLookupError:
            return False
        return True

    def stop(self, run_id: str, grace_s: float = 30.0) -> None:
        # The tag works wherever the trainer runs (read by its writer thread); the signal is the
        # fast path on this host; SIGKILL after the grace period if it is still alive.
        tracking.client(self.uri).set_tag(run_id, STOP_TAG, f"{time.time():.3f}")
        tracking.client(self.uri).set_tag(run_id, STOP_GRACE_TAG, f"{grace_s:g}")
        self._signal(run_id, signal.SIGTERM)
        force_later(grace_s, self.kill, run_id)

    def kill(self, run_id: str) -> None:
        self._signal(run_id, signal.SIGKILL)

    def logs(self, run_id: str, tail: int = 50) -> str:
        path = self.log_path(run_id)
        if not path.exists():
            return ""
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 200 * max(tail, 1)))  # ~200 bytes a line is plenty
            lines = fh.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-tail:])
