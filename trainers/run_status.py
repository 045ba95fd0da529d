"""Run status transitions that must be atomic: claim, cancel, fail.

MLflow's API has no compare-and-set: ``get_run`` then ``update_run`` lets two workers both start
one SCHEDULED run, or a reaper overwrite a status the trainer just set. So on database stores these
three transitions are one conditional ``UPDATE runs … WHERE status = <expected>`` (issue 5 asks for
"nothing runs twice" and "a terminal status is never overwritten", which DESIGN.md's "writes go
through MLflow's API" cannot give). The row count says who won. On an ``http(s)://`` store there is
no SQL: the fallback reads then writes, which is safe because only one worker per store starts
runs (see ``experiments.worker``). It lives in ``trainers/`` because both sides move a run: the
queue and its worker (claim, cancel, reap) and a trainer started by hand on a queued run (claim).
"""

from __future__ import annotations

import time
from functools import cache

import sqlalchemy as sa

from trainers import tracking
from trainers.run_tags import CLAIMED, TERMINAL
from trainers.run_tags import ERROR as ERROR_TAG

_ACTIVE = tuple(sorted({"RUNNING", "SCHEDULED"}))


@cache
def _engine(uri: str) -> sa.Engine:
    tracking.prepare_store(uri)
    if tracking.sqlite_path(uri) is not None:
        return sa.create_engine(uri, connect_args={"timeout": 30})
    return sa.create_engine(uri, pool_pre_ping=True)


def _move(run_id: str, to: str, from_: tuple[str, ...], uri: str, end: bool, reason: str | None = None,
          tags: dict[str, str] | None = None) -> bool:
    # The reason tag (and any other ``tags``) land with the status, never after it: a reader that
    # sees FAILED sees why, and a reaper that sees a claimed run sees when and by whom.
    tags = {**(tags or {}), **({ERROR_TAG: reason} if reason else {})}
    if not tracking.is_database(uri):
        c = tracking.client(uri)
        if c.get_run(run_id).info.status not in from_:
            return False
        for key, value in tags.items():
            c.set_tag(run_id, key, value)
        if end:
            c.set_terminated(run_id, to)
        else:
            c.update_run(run_id, status=to)
        return True
    sql = "UPDATE runs SET status = :to" + (", end_time = :now" if end else "")
    sql += " WHERE run_uuid = :id AND lifecycle_stage = 'active' AND status IN :from_"
    stmt = sa.text(sql).bindparams(sa.bindparam("from_", expanding=True))
    with _engine(uri).begin() as con:
        res = con.execute(stmt, {"to": to, "now": int(time.time() * 1000), "id": run_id, "from_": list(from_)})
        if res.rowcount != 1:
            return False
        for key, value in tags.items():
            tag = {"key": key, "value": value, "id": run_id}
            con.execute(sa.text("DELETE FROM tags WHERE run_uuid = :id AND key = :key"), tag)
            con.execute(sa.text("INSERT INTO tags (key, value, run_uuid) VALUES (:key, :value, :id)"), tag)
        return True


def claim(run_id: str, uri: str | None = None, tags: dict[str, str] | None = None) -> bool:
    """SCHEDULED -> RUNNING; True for exactly one caller (the one that may start the process).
    The claim time (``run_tags.CLAIMED``) and ``tags`` (a trainer claiming for itself: its pid and
    host) are written in the same transaction, so no reaper sees a claimed run without them."""
    tags = {CLAIMED: f"{time.time():.3f}", **(tags or {})}
    return _move(run_id, "RUNNING", ("SCHEDULED",), uri or tracking.tracking_uri(), end=False, tags=tags)


def cancel(run_id: str, uri: str | None = None, reason: str | None = None, tags: dict[str, str] | None = None) -> bool:
    """SCHEDULED -> KILLED (never started), with ``reason`` as its error tag (and ``tags``, e.g. who
    cancelled it, in the same transaction); False if it already started or ended."""
    return _move(run_id, "KILLED", ("SCHEDULED",), uri or tracking.tracking_uri(), end=True, reason=reason, tags=tags)


def end_if_active(run_id: str, status: str, reason: str | None, uri: str | None = None,
                  tags: dict[str, str] | None = None) -> bool:
    """SCHEDULED/RUNNING -> ``status`` (with a reason tag if given, and ``tags``); a terminal status
    is never overwritten. True if this call ended the run."""
    assert status in TERMINAL
    return _move(run_id, status, _ACTIVE, uri or tracking.tracking_uri(), end=True, reason=(reason or "")[:5000],
                 tags=tags)


def requeue(run_id: str, uri: str | None = None) -> bool:
    """FAILED/KILLED -> SCHEDULED (a resumed run goes back on the queue); False if it changed meanwhile."""
    return _move(run_id, "SCHEDULED", ("FAILED", "KILLED"), uri or tracking.tracking_uri(), end=False)
