"""A private PostgreSQL cluster a test may stop and start: ``initdb`` + ``pg_ctl`` in a temp folder,
on 127.0.0.1 and a free port, trust auth, run as the ``postgres`` OS user when the test is root
(initdb refuses root). Never the shared server: stopping that would fail every other test."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from server_util import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def unavailable() -> str | None:
    """Why no private cluster can be made here, else None."""
    if not _bin("initdb") or not _bin("pg_ctl"):
        return "no initdb/pg_ctl (PostgreSQL server binaries) on this machine"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: initdb refuses root"
    return None


class PrivateCluster:
    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="runboard-pg-"))
        self.data, self.log = self.dir / "data", self.dir / "pg.log"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_owner([_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self.start()
        self._as_owner([_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "runboard"])

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/runboard"

    def _as_owner(self, argv: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + argv, check=True, capture_output=True, cwd=self.dir, timeout=120)

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        self._as_owner([_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start"])

    def stop(self) -> None:
        """A fast shutdown (what a routine restart does): open connections are cut."""
        self._as_owner([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_pg():
    """A private cluster for one test; skips where none can be made (fails under CI)."""
    if why := unavailable():
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    cluster = PrivateCluster()
    yield cluster
    cluster.destroy()
