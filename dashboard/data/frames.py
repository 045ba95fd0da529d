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
    info = pd.DataFrame(base, columns=BASE_ROW)
    ids = info["run_id"].tolist()
    info["experiment_id"] = info["experiment_id"].astype(str)
    tag_wide = _wide(tags, ids)
    created, end = (pd.to_numeric(info[c], errors="coerce").astype("float64") for c in ("start_ms", "end_ms"))
    # "Started"/"Duration" are training's (the trainer's progress.started tag); the run's creation
    # (which includes any queue wait) is "queued_time", the wait itself "queue_wait_s".
    began = pd.Series(_column(tag_wide, PROGRESS_STARTED), index=info.index) * 1000.0
    # the tag has whole seconds: a start up to 1 s before creation is rounding, clamp it to creation
    start = began.where(np.isfinite(began) & (began >= created - 1000.0), created).clip(lower=created)
    info["queued_time"] = _utc(created)
    info["start_time"], info["end_time"] = _utc(start), _utc(end)
    info["duration_s"] = (end - start) / 1000.0  # NaN while a run has no end time
    info["queue_wait_s"] = (start - created) / 1000.0
    parent = tag_wide[PARENT_TAG] if PARENT_TAG in tag_wide else pd.Series(None, index=ids, dtype=object)
    info["parent_run_id"] = pd.Series([p if isinstance(p, str) else None for p in parent], index=info.index, dtype=object)
    columns = RUN_COLUMNS + (["artifact_uri"] if keep_artifact_uri else [])
    parts = [
        info[columns].set_index(info["run_id"]),
        _wide(params, ids).add_prefix("params."),
        tag_wide.add_prefix("tags."),
        _metrics_wide(latest, min_max, ids),
    ]
    return pd.concat(parts, axis=1).reset_index(drop=True)


def _utc(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(ms, errors="coerce").astype("float64"), unit="ms", utc=True)


def _wide(rows, ids: list[str]) -> pd.DataFrame:
    """(run_id, key, value) rows -> one column per key, one row per id (missing: NaN)."""
    long = pd.DataFrame(list(rows), columns=["run_id", "key", "value"])
    if long.empty:
        return pd.DataFrame(index=pd.Index(ids, name="run_id"))
    wide = long.pivot(index="run_id", columns="key", values="value")
    wide = wide.reindex(index=ids, columns=sorted(wide.columns))
    wide.columns.name = None
    return wide


def _metrics_wide(latest: pd.DataFrame, min_max, ids: list[str]) -> pd.DataFrame:
    """Per metric key: ``metrics.<key>`` (latest), ``metrics.<key>.min``, ``metrics.<key>.max``."""
    last = _wide(latest[["run_id", "key", "value"]].itertuples(index=False), ids)
    mm = pd.DataFrame(list(min_max), columns=["run_id", "key", "min", "max"])
    lows = _wide(mm[["run_id", "key", "min"]].itertuples(index=False), ids)
    highs = _wide(mm[["run_id", "key", "max"]].itertuples(index=False), ids)
    out = {}
    for key in sorted(set(last.columns) | set(lows.columns)):
        out[f"metrics.{key}"] = _column(last, key)
        out[f"metrics.{key}.min"] = _column(lows, key)
        out[f"metrics.{key}.max"] = _column(highs, key)
    return pd.DataFrame(out, index=pd.Index(ids, name="run_id"))


def _column(wide: pd.DataFrame, key: str) -> np.ndarray:
    if key not in wide:
        return np.full(len(wide), np.nan)
    values = pd.to_numeric(wide[key], errors="coerce").to_numpy(np.float64)
    return decode(values, np.zeros(len(values), bool))  # ±max float -> ±inf


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
