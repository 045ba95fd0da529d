"""Points the store has not taken yet: kept in order, in memory up to a bound, beyond it in a journal file.

The journal is ``<runtime folder>/journal/<run id>.jsonl``: one batch ``[points, tags, artifacts]`` a line,
points as ``[key, value, ms, step]`` (JSON keeps floats exact; NaN and ±inf as Python writes them).
Replaying a batch twice is harmless: MLflow's metrics primary key is (key, timestamp, step,
run_uuid, value, is_nan), and its SQL store skips rows already there when an insert meets one
(tags are upserts), so a batch whose commit did land but whose reply was lost is stored once.
Beside it, ``<run id>.json`` says how the run ended when points were left: the training's own
status and error, how many points, and why — what ``python -m trainers.recover`` and the reaper
read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from trainers import tracking

log = logging.getLogger("trainers.log_sinks")
Point = tuple[str, float, int, int]  # (key, value, ms, step)
Artifact = tuple[str, "str | None"]  # (local path, artifact dir)
Batch = tuple[list[Point], dict[str, str], list[Artifact]]  # in the order they were logged


def folder(uri: str | None = None) -> Path:
    return tracking.runtime_dir(uri) / "journal"


class Journal:
    """The append-only batch file of one run, and its end facts."""

    def __init__(self, run_id: str, uri: str | None = None):
        base = folder(uri)
        self.path, self.facts_path = base / f"{run_id}.jsonl", base / f"{run_id}.json"

    def append(self, batches: list[Batch]) -> None:
        """Write batches durably (fsync): this is the copy that survives the process."""
        if not batches:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(_encode(batches).decode())
            fh.flush()
            os.fsync(fh.fileno())

    def read(self, offset: int = 0, max_points: int | None = None) -> tuple[list[Batch], int]:
        """Whole batches from byte ``offset`` (at most about ``max_points`` points); and the new offset."""
        out: list[Batch] = []
        if not self.path.exists():
            return out, offset
        n = 0
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a line cut by a crash mid-append: its batch was never acknowledged
                pts, tags, arts = json.loads(line)
                out.append(([tuple(p) for p in pts], tags, [tuple(a) for a in arts]))
                offset += len(line)
                n += len(pts)
                if max_points is not None and n >= max_points:
                    break
        return out, offset

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def points(self) -> int:
        return sum(len(b[0]) for b in self.read()[0])

    def record_end(self, status: str, error: str | None, points: int, cause: str) -> None:
        """How the run ended while points were left here (written before the store is asked)."""
        self.facts_path.parent.mkdir(parents=True, exist_ok=True)
        self.facts_path.write_text(json.dumps({"status": status, "error": error, "points": points, "cause": cause}))

    def facts(self) -> dict | None:
        try:
            return json.loads(self.facts_path.read_text())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.facts_path.unlink(missing_ok=True)


def _encode(batches: list[Batch]) -> bytes:
    return "".join(json.dumps([[list(p) for p in pts], tags, [list(a) for a in arts]]) + "\n"
                   for pts, tags, arts in batches).encode()


def not_written_reason(points: int, cause: str | None) -> str:
    """The one wording of a run's loss, for ``runboard.error``, the CLI and the reaper."""
    return f"{points} points not written: {cause or 'store failed'}"


def record_unwritten(run_id: str, uri: str, training_status: str, training_error: str | None, exc) -> str:
    """Note beside the journal how the run ended with ``exc.points`` left in it (before the store is
    asked for the status, which may fail too); returns the run's ``runboard.error``."""
    Journal(run_id, uri).record_end(training_status, training_error, exc.points, exc.cause)
    return f"{exc}; kept in the journal: python -m trainers.recover {run_id}"


def failed_ending(run_id: str, uri: str, training_status: str, training_error: str | None, exc) -> tuple[str, dict]:
    """``runboard.error`` and the tags of a run that trained to its end (``training_status``) but
    whose points (``exc``: ``PointsNotWritten``) the store did not all take; notes the facts."""
    from trainers.run_tags import POINTS_NOT_WRITTEN

    tags = {POINTS_NOT_WRITTEN: "unknown" if exc.unknown else str(exc.points)} if exc.points or exc.unknown else {}
    if not exc.points or exc.unknown:
        return str(exc), tags
    try:  # they wait in the journal: recover finishes the run later
        return record_unwritten(run_id, uri, training_status, training_error, exc), tags
    except OSError as why:  # the journal's disk is full too: the count and the cause still say it
        return f"{exc}; the journal could not be written either ({why})", tags


def reaper_reason(run_id: str, uri: str | None = None) -> str | None:
    """The facts a reaper ends a run with when its trainer recorded points left in the journal."""
    facts = Journal(run_id, uri).facts()
    if not facts:
        return None
    return (not_written_reason(facts["points"], facts["cause"])
            + f" (kept in the journal: python -m trainers.recover {run_id})")


class Pending:
    """Batches waiting for the store, oldest first: in memory up to ``bound`` points; past it new
    batches go to the journal (and, once it holds any, all later ones too, so order is kept).
    ``put`` may be called from a reader thread while the writer loop calls ``head``/``pop``.
    A journal already there when this starts (an earlier attempt's leftovers) is left alone:
    its points are ``python -m trainers.recover``'s."""

    def __init__(self, journal: Journal, bound: int):
        self.journal, self.bound = journal, bound
        self._mem: list[Batch] = []
        self._mem_points = 0
        self._base = self._offset = journal.size()
        self._lock = threading.Lock()

    def put(self, points: list[Point], tags: dict[str, str], artifacts: list[Artifact] | None = None) -> None:
        batch = (points, tags, list(artifacts or []))
        with self._lock:
            if self.journal.size() > self._offset or self._mem_points + len(points) > self.bound:
                try:
                    self.journal.append([batch])
                    return
                except OSError as exc:  # the journal's disk is full too: past the bound beats lost
                    log.error("runboard: journal not writable (%s); keeping points in memory", exc)
            self._mem.append(batch)
            self._mem_points += len(points)

    def head(self) -> Batch | None:
        with self._lock:
            if not self._mem and self.journal.size() > self._offset:
                self._mem, self._offset = self.journal.read(self._offset, self.bound)
                self._mem_points = sum(len(b[0]) for b in self._mem)
                if self._offset >= self.journal.size():  # all of ours is in memory now
                    self._truncate()
            return self._mem[0] if self._mem else None

    def pop(self) -> None:
        with self._lock:
            self._mem_points -= len(self._mem.pop(0)[0])

    def points_done(self) -> None:
        """The head's points and tags are in the store; its artifacts are still to upload."""
        with self._lock:
            pts, _, arts = self._mem.pop(0)
            self._mem_points -= len(pts)
            if arts:
                self._mem.insert(0, ([], {}, arts))

    def artifacts(self) -> int:
        with self._lock:
            rest, _ = self.journal.read(self._offset)
            return sum(len(b[2]) for b in self._mem + rest)

    def points(self) -> int:
        with self._lock:
            rest, _ = self.journal.read(self._offset)
            return self._mem_points + sum(len(b[0]) for b in rest)

    def persist(self) -> int:
        """Everything still waiting goes to the journal, in order (memory before what spilled, after
        any earlier leftovers), replaced atomically; returns how many points are waiting."""
        with self._lock:
            rest, _ = self.journal.read(self._offset)
            if self._mem:
                data = self.journal.path.read_bytes() if self.journal.path.exists() else b""
                tmp = self.journal.path.with_suffix(".tmp")
                tmp.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(data[: self._base] + _encode(self._mem) + data[self._offset :])
                os.replace(tmp, self.journal.path)
            waiting = self._mem + rest
            self._mem, self._mem_points, self._offset = [], 0, self.journal.size()
            return sum(len(b[0]) for b in waiting)

    def _truncate(self) -> None:
        if self._base:
            os.truncate(self.journal.path, self._base)
        else:
            self.journal.path.unlink(missing_ok=True)
        self._offset = self._base
