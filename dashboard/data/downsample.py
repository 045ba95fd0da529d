"""Curve arrays: MLflow's value encoding, first/min/max/last bucketing, the long frame.

A curve travels as a ``Buckets`` of parallel numpy arrays, one entry per bucket (a bucket of one
point at full detail). The SQL reader and the REST reader both end here, so pages get the same
frame whatever the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_FLOAT = np.finfo(np.float64).max  # MLflow stores ±inf as ±this
STR = pd.StringDtype(na_value=np.nan)  # pandas' default string dtype ("str")
CURVE_COLUMNS = ["run_id", "metric", "step", "value", "first", "min", "max", "n", "timestamp", "epoch"]


@dataclass
class Buckets:
    step: np.ndarray  # int64, step of each bucket's last point
    value: np.ndarray  # float64, last value (by step, then timestamp)
    first: np.ndarray  # float64
    min: np.ndarray  # float64, NaN points ignored; all-NaN bucket -> NaN
    max: np.ndarray  # float64
    n: np.ndarray  # int64, points in the bucket
    timestamp: np.ndarray  # int64 ms of the last point

    def __len__(self) -> int:
        return len(self.step)


def decode(value, is_nan) -> np.ndarray:
    """MLflow's stored floats -> real floats: ``is_nan`` rows -> NaN, ±max float -> ±inf."""
    out = np.asarray(value, dtype=np.float64).copy()
    out[np.asarray(is_nan, dtype=bool)] = np.nan
    out[out >= MAX_FLOAT] = np.inf
    out[out <= -MAX_FLOAT] = -np.inf
    return out


def order(step: np.ndarray, timestamp: np.ndarray, curve: np.ndarray | None = None) -> np.ndarray | None:
    """Permutation sorting points by (step, timestamp) — within each ``curve`` number when several
    curves are laid end to end, in curve order; None when already sorted."""
    ds = np.diff(step)
    ok = (ds > 0) | ((ds == 0) & (np.diff(timestamp) >= 0))
    if curve is not None:
        ok |= np.diff(curve) != 0  # a new curve may start anywhere
    if np.all(ok):
        return None
    return np.lexsort((timestamp, step) if curve is None else (timestamp, step, curve))


def full_detail(step, timestamp, value) -> Buckets:
    """One bucket per point (duplicate steps are all kept, in logging-time order)."""
    step = np.asarray(step, dtype=np.int64)
    timestamp = np.asarray(timestamp, dtype=np.int64)
    value = np.asarray(value, dtype=np.float64)
    perm = order(step, timestamp)
    if perm is not None:
        step, timestamp, value = step[perm], timestamp[perm], value[perm]
    return Buckets(step, value, value, value, value, np.ones(len(step), np.int64), timestamp)


def bucket_index(step: np.ndarray, lo: int, hi: int, n_buckets: int) -> np.ndarray:
    """Equal-width step buckets over [lo, hi]; the same arithmetic as the SQL reader."""
    return (step - lo) * n_buckets // (hi - lo + 1)


def reduce(step, timestamp, value, max_points: int, lo: int | None = None, hi: int | None = None) -> Buckets:
    """Client-side first/min/max/last bucketing of one curve (the REST fallback's path)."""
    points = full_detail(step, timestamp, value)
    if len(points) <= max_points:
        return points
    s = points.step
    lo = int(s[0]) if lo is None else lo
    hi = int(s[-1]) if hi is None else hi
    b = bucket_index(s, lo, hi, max_points)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], len(s)] - 1
    v = points.value
    return Buckets(
        step=s[ends],
        value=v[ends],
        first=v[starts],
        min=np.fmin.reduceat(v, starts),  # fmin/fmax skip NaN unless the whole bucket is NaN
        max=np.fmax.reduceat(v, starts),
        n=(ends - starts + 1).astype(np.int64),
        timestamp=points.timestamp[ends],
    )


def frame(curves: dict[tuple[str, str], Buckets], totals: dict[tuple[str, str], int]) -> pd.DataFrame:
    """The long frame pages chart, sorted by run_id, metric, step; ``attrs["total_points"]``."""
    keys = sorted(k for k, b in curves.items() if len(b))
    parts = [curves[k] for k in keys]
    lengths = [len(p) for p in parts]

    def cat(field: str, dtype) -> np.ndarray:
        if not parts:
            return np.array([], dtype=dtype)
        return np.concatenate([getattr(p, field) for p in parts]).astype(dtype, copy=False)

    def text(i: int) -> pd.Categorical:
        # A category per name, not a string per row: a 100-run view's run_id and metric columns were
        # ~27 MB as strings (held twice: the read cache's bytes and each rerun's copy), ~1.6 MB as codes.
        names = [k[i] for k in keys]
        uniq = list(dict.fromkeys(names))
        where = {name: j for j, name in enumerate(uniq)}
        codes = np.repeat(np.array([where[n] for n in names], dtype=np.int32), lengths)
        return pd.Categorical.from_codes(codes, categories=pd.Index(uniq, dtype=STR))

    df = pd.DataFrame(
        {
            "run_id": text(0),
            "metric": text(1),
            "step": cat("step", np.int64),
            "value": cat("value", np.float64),
            "first": cat("first", np.float64),
            "min": cat("min", np.float64),
            "max": cat("max", np.float64),
            "n": cat("n", np.int64),
            "timestamp": cat("timestamp", np.int64),
            "epoch": np.full(sum(lengths), np.nan),
        },
        columns=CURVE_COLUMNS,
    )
    df.attrs["total_points"] = dict(totals)
    return df


def attach_epoch(df: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Fill ``epoch`` from each run's epoch change points (columns run_id, step, epoch).

    The epoch at a step is the value of the last change point at or before it (backward
    ``merge_asof``); steps before a run's first epoch point, or runs without one, stay NaN.
    """
    if df.empty or changes.empty:
        return df
    attrs = df.attrs
    left = df.drop(columns="epoch").reset_index().sort_values("step", kind="stable")
    right = changes.assign(run_id=changes["run_id"].astype(df["run_id"].dtype))  # merge keys of one dtype
    right = right.dropna(subset=["run_id"]).sort_values("step", kind="stable")
    merged = pd.merge_asof(left, right, on="step", by="run_id", direction="backward")
    out = merged.sort_values("index").set_index("index").rename_axis(None)[CURVE_COLUMNS]
    out.attrs = attrs
    return out
