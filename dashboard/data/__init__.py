"""The dashboard's data layer: the only UI-side code that talks to the tracking store.

Database stores (SQLite, PostgreSQL) are read with SQLAlchemy Core straight from MLflow's
tables, a bounded number of queries per view; ``http(s)://`` stores go through MLflow's REST
client. Both return the same frames. ``uri=None`` means ``tracking.tracking_uri()``.
Results are plain pandas/dicts; pages add Streamlit caching on top.
"""

from __future__ import annotations

import pandas as pd

from dashboard.analysis import health as _health
from dashboard.data import artifacts as _artifacts
from dashboard.data import at_best_sql, curves_sql, engine, health_store, rest, runs_sql, summariser
from trainers import tracking
from trainers.run_tags import CLAIMED, HEARTBEAT


def _resolve(uri: str | None) -> tuple[str, bool]:
    """(uri, True if read with SQL)."""
    uri = uri or tracking.tracking_uri()
    return uri, tracking.is_database(uri)


def experiments(uri: str | None = None) -> pd.DataFrame:
    """Active experiments: experiment_id (str), name, lifecycle_stage, artifact_location,
    creation_time (UTC), n_runs (active runs)."""
    uri, sql = _resolve(uri)
    return runs_sql.experiments(uri) if sql else rest.experiments(uri)


def experiment_tags(prefix: str, uri: str | None = None) -> list[tuple[str, str, str, str]]:
    """(experiment_id, name, tag key, value) of the active experiments' tags whose key starts with
    ``prefix``, by experiment and key."""
    uri, sql = _resolve(uri)
    return runs_sql.experiment_tags(uri, prefix) if sql else rest.experiment_tags(uri, prefix)


def runs(experiment_ids=None, uri: str | None = None) -> pd.DataFrame:
    """One row per active run (deleted runs and runs of deleted experiments hidden).

    Columns: run_id, experiment_id, run_name, status, start_time (training start, else creation),
    end_time (UTC), duration_s (training), parent_run_id, user, queued_time (creation, UTC),
    queue_wait_s, health, then ``params.<key>`` (strings), ``tags.<key>``, and per metric
    ``metrics.<key>`` (latest value), ``metrics.<key>.min``, ``metrics.<key>.max``.
    ``health``: the run's health flags joined by ", " ("" when healthy; see ``analysis.health``), None
    on ``http(s)://`` stores, where they are not computed yet.
    The user's filter is applied on this frame by ``dashboard.query``.
    """
    uri, sql = _resolve(uri)
    df, marks = runs_sql.runs_and_marks(uri, experiment_ids) if sql else (rest.runs(uri, experiment_ids), None)
    found = health_store.flags(uri, df, marks=marks) if sql and not df.empty else {}
    df.insert(
        df.columns.get_loc("queue_wait_s") + 1,
        "health",
        pd.Series([_health.text(found[r]) if r in found else None for r in df["run_id"]], index=df.index, dtype=object),
    )
    return df


def run_health(one: dict, uri: str | None = None) -> list[_health.Flag]:
    """The flags of one run (a ``run()`` dict), each with the metric and step it was found at; []
    on ``http(s)://`` stores."""
    uri, sql = _resolve(uri)
    if not sql:
        return []
    row = {"run_id": one["run_id"], "status": one["status"], "start_time": one["start_time"],
           **{f"tags.{t}": one["tags"].get(t) for t in (HEARTBEAT, CLAIMED)}}
    return health_store.flags(uri, pd.DataFrame([row]))[one["run_id"]]


def curves(run_ids, metrics, max_points: int = 1000, step_range=None, uri: str | None = None) -> pd.DataFrame:
    """Long frame, one row per bucket, sorted by run_id, metric, step.

    Columns: run_id, metric, step (int64, the bucket's last point), value (its last value),
    first, min, max (NaN ignored; all-NaN bucket -> NaN), n (points in the bucket), timestamp
    (ms of the last point), epoch (the run's ``epoch`` metric at that step, else NaN).
    A curve with at most ``max_points`` points in ``step_range`` (inclusive ``(lo, hi)``, either
    end may be None) comes back whole, n == 1 per row; a longer one as at most ``max_points``
    equal-width step buckets: on a database store, from the curve's summary pyramid when one of
    its levels has enough buckets (widths ``g * 2**k`` steps, edges at multiples of the width,
    the two end buckets cut by the range), else over the curve's own first..last step in range.
    Every bucket's first/min/max/last equals the raw points' for its edges.
    Duplicate steps are all kept, ordered by logging time.
    ``df.attrs["total_points"][(run_id, metric)]`` is the curve's point count in range.
    """
    uri, sql = _resolve(uri)
    reader = curves_sql.curves if sql else rest.curves
    return reader(uri, list(run_ids), list(metrics), max_points, step_range)


def children(parent_run_id: str, uri: str | None = None) -> pd.DataFrame:
    """The active runs nested under this one (``mlflow.parentRunId``: a sweep's trials), as
    ``runs()`` rows."""
    uri, sql = _resolve(uri)
    return runs_sql.children(uri, parent_run_id) if sql else rest.children(uri, parent_run_id)


def start_summariser(uri: str | None = None) -> None:
    """Summarise the store's long curves in a background thread of this process, ahead of the
    views (``dashboard.data.summariser``; ``RUNBOARD_SUMMARISER=off`` turns it off)."""
    summariser.ensure_started(uri)


def at_best(run_ids, metrics, other: str, uri: str | None = None) -> pd.DataFrame:
    """Columns run_id, metric, value: per run and metric, its value at the earliest step where
    ``other`` is best (lowest, highest for accuracy-like names; finite values only), or at the
    finite step nearest to it (the lower on a tie; the earliest logged at that step); NaN when
    either curve has no finite point. Database stores: indexed lookups and the curve summaries,
    never a scan of the curves' points once they are summarised."""
    uri, sql = _resolve(uri)
    if sql:
        return at_best_sql.values(uri, run_ids, metrics, other)
    curves = rest.curves(uri, run_ids, sorted({*metrics, other}), max_points=2**62)  # every point
    return at_best_sql.from_curves(curves, sorted(set(run_ids)), sorted(set(metrics)), other)


def metric_keys(run_ids, uri: str | None = None) -> list[str]:
    """Sorted metric names logged by any of these runs."""
    uri, sql = _resolve(uri)
    return runs_sql.metric_keys(uri, run_ids) if sql else rest.metric_keys(uri, run_ids)


def run(run_id: str, uri: str | None = None) -> dict | None:
    """One run: the ``runs()`` info columns plus artifact_uri, ``params``, ``tags`` (dicts of
    strings) and ``metrics`` ({key: {value, step, timestamp, min, max}}); None if the run is
    unknown or deleted."""
    uri, sql = _resolve(uri)
    return runs_sql.run(uri, run_id) if sql else rest.run(uri, run_id)


def artifacts(run_id: str, path: str = "", uri: str | None = None) -> list[dict]:
    """The run's artifacts directly under ``path``: dicts of path, is_dir, file_size."""
    return _artifacts.list_dir(uri or tracking.tracking_uri(), run_id, path)


def read_json_artifact(run_id: str, path: str, uri: str | None = None) -> object:
    """A JSON artifact, parsed (e.g. a confusion matrix); None if the run has no such file."""
    return _artifacts.read_json(uri or tracking.tracking_uri(), run_id, path)


def image_artifacts(run_id: str, uri: str | None = None) -> list[str]:
    """Paths of the run's image artifacts (root and one folder down), sorted."""
    return _artifacts.images(uri or tracking.tracking_uri(), run_id)


def read_artifact_bytes(run_id: str, path: str, uri: str | None = None) -> bytes | None:
    """One artifact's bytes (e.g. a PNG); None if the run has no such file."""
    return _artifacts.read_bytes(uri or tracking.tracking_uri(), run_id, path)


def store_problem(uri: str | None = None) -> str | None:
    """Why the store does not answer a trivial read now (``Type: first line``), else None."""
    uri, sql = _resolve(uri)
    try:
        if sql:
            engine.fetch(uri, "SELECT 1")
        else:
            rest.experiments(uri)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return one_line(exc)
    return None


def one_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}"


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store cannot be reached or written (down, refused, full), as
    opposed to a bug: those get one message on every page, and the page comes back by itself."""
    import sqlite3

    import sqlalchemy as sa

    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sqlite3.OperationalError, ConnectionError)):
        return True
    if type(exc).__name__ in ("ConnectionError", "MaxRetryError"):  # requests'/urllib3's, for an http store
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and unreachable(cause)
