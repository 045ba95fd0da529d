"""A reader process that fetches SQLite rows as Arrow columns — a speed-up, never a dependency.

Why a process: Python's ``sqlite3`` builds a tuple and three objects per point; that is ~70 % of
reading a 400-curve view (0.32 s of 0.45 s here, SQLite's own work ~0.1 s). ADBC's SQLite driver
fills Arrow columns in C (0.17 s for the same rows), but it carries its own SQLite library, and
two SQLite libraries in one process release each other's POSIX locks (sqlite.org/howtocorrupt.html
2.2.1: the benchmark died with SIGBUS when both were loaded). In a process of its own it is safe.

Two processes per dashboard process (one on a single core), started on first use; a view's
curves are split between them. They exit once no view has been read for ``RUNBOARD_READER_IDLE_S``
seconds (default 60; ~74 MB RSS each after a 100-run view, given back to an idle dashboard) and start
again with the next view. Each opens a fresh connection per request, so no transaction or file is
held between views. ``fetch`` returns None — and the caller reads in-process — whenever the
processes are still starting, busy with another session's view, missing (no
``adbc-driver-sqlite``), failed, or ``RUNBOARD_ARROW_READER=0``.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import selectors
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

log = logging.getLogger(__name__)
CHILD = Path(__file__).with_name("reader_child.py")
PROCESSES = min(2, os.cpu_count() or 1)  # a view's curves are split between them
TIMEOUT_S = 120.0  # one request; a view reads in well under a second
RETRY_S = 60.0  # after a failure, read in-process this long before starting new processes
IDLE_ENV, IDLE_S = "RUNBOARD_READER_IDLE_S", 60.0  # processes exit after this long with no view read
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _readable(stream, timeout: float) -> bool:
    """``stream`` has data within ``timeout`` s. A selector (epoll), not ``select.select``: a process
    with more than 1,024 open files (a long test session, a busy server) has pipe fds past its limit."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        return bool(sel.select(timeout))


class _Process:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(CHILD)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)
        try:  # 1 MiB (Linux's default cap) instead of 64 KiB: a view's ~16 MB in fewer wake-ups
            fcntl.fcntl(self.proc.stdout, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        self.ready = False

    def is_ready(self, timeout: float = 0.0) -> bool:
        if not self.ready and _readable(self.proc.stdout, timeout):
            if self.proc.stdout.read(1) != b"R":
                raise EOFError("reader process exited while starting")
            self.ready = True
        return self.ready

    def send(self, request: dict) -> None:
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")

    def receive(self, deadline: float) -> memoryview:
        (size,) = struct.unpack("<q", self._read(8, deadline))
        return self._read(size, deadline)

    def _read(self, n: int, deadline: float) -> memoryview:
        buf = memoryview(bytearray(n))
        got = 0
        while got < n:
            if not _readable(self.proc.stdout, max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"reader process sent nothing for {TIMEOUT_S:.0f} s")
            k = self.proc.stdout.readinto(buf[got:])
            if not k:
                raise EOFError("reader process exited")
            got += k
        return buf

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()


_lock = threading.Lock()  # guards _pool, _retry_at and _used_at
_busy = threading.Lock()  # one view at a time; a concurrent one reads in-process
_pool: list[_Process] = []
_retry_at = 0.0
_used_at = 0.0  # when a view last asked for the processes (monotonic)
served = 0  # requests answered by the processes (tests check which path a read took)


HAVE_ADBC = importlib.util.find_spec("adbc_driver_sqlite") is not None  # looked up once, not per view


def enabled() -> bool:
    return HAVE_ADBC and os.environ.get("RUNBOARD_ARROW_READER", "1") != "0"


def idle_s() -> float:
    try:
        return max(0.0, float(os.environ.get(IDLE_ENV, IDLE_S)))
    except ValueError:
        return IDLE_S


def _get() -> list[_Process]:
    """The reader processes, started if there are none (and no recent failure). Call holding
    ``_busy``: the idle watch stops only processes no view is using."""
    if not enabled():
        return []
    with _lock:
        _touch()
        if not _pool and _used_at >= _retry_at:
            _pool.extend(_Process() for _ in range(PROCESSES))
            threading.Thread(target=_stop_when_idle, args=(list(_pool), idle_s()), name="runboard-reader-idle",
                             daemon=True).start()
        return list(_pool)


def _touch() -> None:
    """A view uses the processes now (call holding ``_lock``)."""
    global _used_at
    _used_at = time.monotonic()


def _stop_when_idle(pool: list[_Process], limit: float) -> None:
    """Stop ``pool`` once no view has used it for ``limit`` s; ends when the pool is gone."""
    while True:
        with _lock:
            if _pool != pool:  # dropped after a failure: already stopped
                return
            wait = _used_at + limit - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            continue
        if not _busy.acquire(timeout=1.0):  # a view is being read: it counts as use
            continue
        try:
            with _lock:
                idle = _pool == pool and _used_at + limit <= time.monotonic()
                if idle:
                    _pool.clear()
        finally:
            _busy.release()
        if idle:
            for proc in pool:
                proc.stop()
            log.info("reader processes idle for %.0f s: stopped", limit)
            return


def _drop(pool: list[_Process], why: Exception) -> None:
    global _retry_at
    log.warning("reader process failed (%s); reading in-process for %.0f s", why, RETRY_S)
    with _lock:
        if _pool == pool:
            _pool.clear()
            _retry_at = time.monotonic() + RETRY_S
    for proc in pool:
        proc.stop()


def wait_ready(timeout: float = 30.0) -> bool:
    """Start the reader processes if needed and wait until they answer (tests, benchmarks)."""
    with _busy:  # a start slower than the idle limit is not idleness
        pool = _get()
        try:
            return bool(pool) and all(proc.is_ready(timeout) for proc in pool)
        except (OSError, EOFError) as exc:
            _drop(pool, exc)
            return False
        finally:
            with _lock:
                _touch()


def fetch(path: Path, sql: str, params: list[list], schema: list[tuple[str, str]]) -> pa.Table | None:
    """The rows of ``sql`` (``?`` parameters) for each row of ``params`` (one list per parameter),
    one row's results after the other, as ``schema``'s columns; None when the caller should read
    in-process (see module doc)."""
    if not _busy.acquire(blocking=False):
        return None
    pool: list[_Process] = []
    try:
        pool = _get()
        if not pool or not all(proc.is_ready() for proc in pool):
            return None
        answers = _ask(pool, {"path": str(path.resolve()), "sql": sql, "schema": schema}, params)
    except (OSError, EOFError, TimeoutError, ValueError) as exc:
        _drop(pool, exc)
        return None
    finally:
        with _lock:
            _touch()  # idle counts from the end of a read: a long view does not stop them right after
        _busy.release()
    failed = [a for a in answers if a[0] != ord("A")]
    if failed:  # a query error (odd data): this view reads in-process
        log.warning("reader process: %s", bytes(failed[0][1:501]).decode(errors="replace"))
        return None
    global served
    served += 1
    return pa.concat_tables(pa.ipc.open_stream(pa.py_buffer(a[1:])).read_all() for a in answers)


def _ask(pool: list[_Process], request: dict, params: list[list]) -> list[memoryview]:
    """Each process gets a contiguous share of the parameter rows; all of them work at once."""
    n = len(params[0])
    cuts = [n * i // len(pool) for i in range(len(pool) + 1)]
    shares = [(proc, lo, hi) for proc, lo, hi in zip(pool, cuts, cuts[1:]) if hi > lo]
    for proc, lo, hi in shares:
        proc.send({**request, "params": [col[lo:hi] for col in params]})
    deadline = time.monotonic() + TIMEOUT_S
    # Read one after the other: a process builds its whole answer before writing any of it.
    return [proc.receive(deadline) for proc, _, _ in shares]
