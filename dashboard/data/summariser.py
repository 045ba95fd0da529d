"""Summarising a store's curves in the background of the dashboard process (issue 13).

A big store written by plain ``mlflow`` (an import, another team's runs) has curves nobody has
summarised; the first view of each would pay its build. A low-priority daemon thread builds them
ahead of the views, longest curve first, ``BATCH`` curves per sweep, each in its own short write
transactions (``curve_refresh.refresh``), with a pause after each, so no lock is held across a view
and views get the store between builds. A view meanwhile reads a curve without a fresh summary
from ``metrics`` (the raw path), never a stale summary. Short curves (below
``summary_read.BUILD_FROM_STEP`` steps) are left alone: the runs table scans those.

``RUNBOARD_SUMMARISER=off`` turns it off (tests; or ``python -m trainers.curve_summary build`` run
by hand instead). One thread per process and store.
"""

from __future__ import annotations

import logging
import os
import threading

import sqlalchemy as sa

from dashboard.data import engine as db
from dashboard.data import summary_read
from trainers import curve_refresh, tracking
from trainers import curve_summary as cs

log = logging.getLogger(__name__)
BATCH = 4  # curves per sweep
PAUSE_S = 0.5  # after each curve: the views' turn
SWEEP_S = 2.0  # between sweeps while curves are pending (a live foreign curve: refreshed this often)
IDLE_S = 30.0  # between looks when nothing is pending
# The longest curves not summarised, or whose summary is stale: one pass over latest_metrics.
PENDING = f"""SELECT lm.run_uuid, lm.key FROM latest_metrics lm
LEFT JOIN {cs.WATERMARK} w ON w.run_uuid = lm.run_uuid AND w.key = lm.key
LEFT JOIN {cs.VERSION} c ON c.run_uuid = lm.run_uuid AND c.key = lm.key
WHERE lm.step >= :from_step AND (w.run_uuid IS NULL OR w.built_v <> COALESCE(c.v, 0))
ORDER BY lm.step DESC, lm.run_uuid, lm.key LIMIT :n"""

_started: dict[str, Summariser] = {}
_lock = threading.Lock()


def enabled() -> bool:
    return cs.enabled() and os.environ.get("RUNBOARD_SUMMARISER", "on").lower() not in ("off", "0", "false", "no")


def ensure_started(uri: str | None = None) -> Summariser | None:
    """The store's summariser thread, started on the first call; None when off or not a database."""
    uri = uri or tracking.tracking_uri()
    if not enabled() or not tracking.is_database(uri):
        return None
    with _lock:
        if uri not in _started:
            _started[uri] = Summariser(uri)
            _started[uri].start()
        return _started[uri]


class Summariser(threading.Thread):
    def __init__(self, uri: str):
        super().__init__(name="runboard-summariser", daemon=True)
        self.uri, self.stopping = uri, threading.Event()
        self.failed: set[tuple[str, str]] = set()  # not retried by this process (the raw path serves them)
        self.built = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        _lower_priority()
        while not self.stopping.is_set():
            try:
                keys = self.pending()
            except Exception as exc:  # noqa: BLE001 - a store that is down now may answer later
                log.info("runboard: background summaries wait (%s)", exc)
                keys = []
            for key in keys:
                if self.stopping.is_set():
                    return
                if key in curve_refresh.refresh(self.uri, [key]):
                    self.built += 1
                else:
                    self.failed.add(key)
                self.stopping.wait(PAUSE_S)
            self.stopping.wait(SWEEP_S if keys else IDLE_S)

    def pending(self) -> list[tuple[str, str]]:
        """Up to ``BATCH`` curves to summarise next, longest first."""
        params = {"from_step": summary_read.BUILD_FROM_STEP, "n": BATCH + len(self.failed)}
        try:
            with db.engine(self.uri).connect() as conn:
                rows = db.rows(conn, PENDING, params)
        except sa.exc.DBAPIError:  # no summary tables yet: made by a first refresh (a write)
            curve_refresh.refresh(self.uri, [])
            return []
        return [k for k in ((r, key) for r, key in rows) if k not in self.failed][:BATCH]


def _lower_priority() -> None:
    """This thread only (a Linux thread is its own task for ``setpriority``): views come first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
