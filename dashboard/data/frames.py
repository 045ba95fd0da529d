"""Plain rows -> the frames pages read. Shared by the SQL and the REST readers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data.downsample import decode
from trainers.run_tags import PARENT as PARENT_TAG
from trainers.run_tags import PROGRESS_STARTED

EXPERIMENT_COLUMNS = ["experiment_id", "name", "lifecycle_stage", "artifact_location", "creation_time", "n_runs"]
RUN_COLUMNS = [
    "run_id", "experiment_id", "run_name", "status", "start_time", "end_time",
    "duration_s", "parent_run_id", "user", "queued_time", "queue_wait_s",
]  # fmt: skip
BASE_ROW = ["run_id", "experiment_id", "run_name", "status", "start_ms", "end_ms", "user", "artifact_uri"]


def experiments_frame(df: pd.DataFrame) -> pd.DataFrame:
    """experiment_id as MLflow's string ids, creation_time as UTC datetimes."""
    df = df[EXPERIMENT_COLUMNS].copy()
    df["experiment_id"] = df["experiment_id"].astype(str)
    df["creation_time"] = _utc(df["creation_time"])
    df["n_runs"] = df["n_runs"].astype("int64")
    return df.reset_index(drop=True)


def runs_frame(base, params, tags, latest: pd.DataFrame, min_max, keep_artifact_uri: bool = False) -> pd.DataFrame:
    """One row per run: info columns, then ``params.*``, ``tags.*``, ``metrics.*`` (sorted keys).

    base: (run_id, experiment_id, name, status, start_ms, end_ms, user, artifact_uri) tuples;
    params/tags: (run_id, key, value); latest: run_id, key, value (decoded); min_max: (run_id, key, min, max).
    """
    # Plain lists and numpy until the one frame at the end: a frame of the base rows with its
    # columns set one by one, and pd.to_datetime per time column, cost a small view more than its SQL.
    info = (
        dict(zip(BASE_ROW, (list(c) for c in zip(*base))))
        if base
        else {c: pd.Series([], dtype=object) for c in BASE_ROW}
    )
    ids = list(info["run_id"])
    info["experiment_id"] = pd.Series([str(e) for e in info["experiment_id"]], dtype="str")
    tags = _by_key(tags)
    created, end = (_numbers(info[c]) for c in ("start_ms", "end_ms"))
    # "Started"/"Duration" are training's (the trainer's progress.started tag); the run's creation
    # (which includes any queue wait) is "queued_time", the wait itself "queue_wait_s".
    began = _floats(tags.get(PROGRESS_STARTED, {}), ids) * 1000.0
    # the tag has whole seconds: a start up to 1 s before creation is rounding, clamp it to creation
    start = np.fmax(np.where(np.isfinite(began) & (began >= created - 1000.0), began, created), created)
    info["queued_time"] = _utc(created)
    info["start_time"], info["end_time"] = _utc(start), _utc(end)
    info["duration_s"] = (end - start) / 1000.0  # NaN while a run has no end time
    info["queue_wait_s"] = (start - created) / 1000.0
    parent = tags.get(PARENT_TAG, {})
    info["parent_run_id"] = pd.Series([parent.get(i) for i in ids], dtype=object)
    columns = RUN_COLUMNS + (["artifact_uri"] if keep_artifact_uri else [])
    # One frame from one dict of columns: concatenating four frames cost a small view more than its SQL.
    out: dict[str, object] = {c: info[c] for c in columns}
    out.update(_columns(_by_key(params), ids, "params."))
    out.update(_columns(tags, ids, "tags."))
    out.update(_metric_columns(latest, min_max, ids))
    return pd.DataFrame(out)


def _numbers(values) -> np.ndarray:
    """Integers (ms) or None as float64 (None -> NaN)."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)


def _utc(ms) -> pd.Series:
    """Epoch milliseconds (NaN: NaT) as UTC datetimes, microsecond resolution, as
    ``pd.to_datetime(unit="ms", utc=True)`` gives them (~10x cheaper than it on a small view)."""
    ms = _numbers(ms)
    known = np.isfinite(ms)
    us = np.where(known, np.round(ms * 1000.0), 0).astype(np.int64).view("datetime64[us]")
    us[~known] = np.datetime64("NaT")
    return pd.Series(us, dtype=pd.DatetimeTZDtype("us", "UTC"))


def _columns(by_key: dict[str, dict[str, object]], ids: list[str], prefix: str) -> dict[str, list]:
    """One column per key (sorted), one row per id (missing: NaN). Plain dicts, not ``pivot``:
    a pivot per table cost a small view ~30 ms of fixed pandas work."""
    return {prefix + k: [by_key[k].get(i, np.nan) for i in ids] for k in sorted(by_key)}


def _by_key(rows) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for run_id, key, value in rows:
        out.setdefault(key, {})[run_id] = value
    return out


def _metric_columns(latest: pd.DataFrame, min_max, ids: list[str]) -> dict[str, np.ndarray]:
    """Per metric key: ``metrics.<key>`` (latest), ``metrics.<key>.min``, ``metrics.<key>.max``."""
    last = _by_key(zip(latest["run_id"], latest["key"], latest["value"]))
    min_max = list(min_max)
    lows = _by_key((r, k, lo) for r, k, lo, _ in min_max)
    highs = _by_key((r, k, hi) for r, k, _, hi in min_max)
    out = {}
    for key in sorted(set(last) | set(lows)):
        out[f"metrics.{key}"] = _floats(last.get(key, {}), ids)
        out[f"metrics.{key}.min"] = _floats(lows.get(key, {}), ids)
        out[f"metrics.{key}.max"] = _floats(highs.get(key, {}), ids)
    return out


def _floats(values: dict[str, object], ids: list[str]) -> np.ndarray:
    """One numeric column: missing or not a number -> NaN, MLflow's ±max float -> ±inf."""
    raw = [values.get(i) for i in ids]
    try:  # numbers, None and numeric text: one C loop
        column = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        column = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(np.float64)
    return decode(column, np.zeros(len(column), bool))


def run_dict(row: pd.Series, latest: pd.DataFrame) -> dict:
    """One run as a dict: info fields, ``params``, ``tags`` and ``metrics`` summaries."""
    out = {c: (None if _missing(row[c]) else row[c]) for c in RUN_COLUMNS + ["artifact_uri"]}
    out["params"] = _prefixed(row, "params.")
    out["tags"] = _prefixed(row, "tags.")
    out["metrics"] = {
        m.key: {
            "value": float(m.value),
            "step": None if _missing(m.step) else int(m.step),
            "timestamp": None if _missing(m.timestamp) else int(m.timestamp),
            "min": float(row.get(f"metrics.{m.key}.min", np.nan)),
            "max": float(row.get(f"metrics.{m.key}.max", np.nan)),
        }
        for m in latest.sort_values("key").itertuples(index=False)
    }
    return out


def _prefixed(row: pd.Series, prefix: str) -> dict[str, str]:
    return {c[len(prefix) :]: row[c] for c in row.index if c.startswith(prefix) and not _missing(row[c])}


def _missing(value) -> bool:
    return value is None or (np.isscalar(value) and pd.isna(value)) or value is pd.NaT
