"""A view's curves as fetched by the SQL reader: one array per column, the curves laid end to end,
turned into ``Buckets`` in one pass (one decode and one sort check for the view, not per curve)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dashboard.data import downsample as ds

Key = tuple[str, str]  # (run_id, metric)


@dataclass
class Points:
    keys: list[Key]  # one per curve, in fetch order
    lengths: np.ndarray  # int64 rows fetched per curve; more than max_points marks a long curve
    step: np.ndarray  # int64
    timestamp: np.ndarray  # int64 ms
    value: np.ndarray  # float64 as stored (±max float for ±inf), NaN where MLflow's is_nan

    @classmethod
    def from_rows(cls, keys: list[Key], lengths: list[int], rows: list[tuple]) -> Points:
        """From ``(step, timestamp, value or None)`` tuples, the curves' rows end to end."""
        n = len(rows)
        # One float64 array: exact, as steps and ms timestamps stay far below 2**53; None -> NaN.
        pts = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=3 * n).reshape(n, 3)
        step, ts = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
        return cls(keys, np.array(lengths, dtype=np.int64), step, ts, pts[:, 2])

    @classmethod
    def from_arrow(cls, keys: list[Key], table: pa.Table) -> Points:
        """From columns curve (index into ``keys``, non-decreasing), step, timestamp, value, is_nan."""
        col = {name: table.column(name).to_numpy() for name in table.column_names}
        if np.any(np.diff(col["curve"]) < 0):  # the driver streams each curve's rows in turn
            perm = np.argsort(col["curve"], kind="stable")
            col = {name: a[perm] for name, a in col.items()}
        lengths = np.bincount(col["curve"], minlength=len(keys)).astype(np.int64)
        value = np.where(col["is_nan"] != 0, np.nan, col["value"])
        return cls(keys, lengths, col["step"], col["timestamp"], value)

    def long(self, max_points: int) -> list[tuple[Key, int]]:
        """(key, first step) of each curve with more than ``max_points`` points."""
        starts = np.cumsum(self.lengths) - self.lengths
        return [(self.keys[i], int(self.step[starts[i]])) for i in np.flatnonzero(self.lengths > max_points)]

    def short(self, max_points: int) -> dict[Key, ds.Buckets]:
        """The curves that came back whole (1..max_points points), one bucket per point."""
        keep = (self.lengths > 0) & (self.lengths <= max_points)
        if not keep.any():
            return {}
        rows = np.repeat(keep, self.lengths)
        step, ts, lengths = self.step[rows], self.timestamp[rows], self.lengths[keep]
        value = ds.decode(self.value[rows], np.zeros(len(step), bool))  # ±max float -> ±inf
        perm = ds.order(step, ts, np.repeat(np.arange(len(lengths)), lengths))
        if perm is not None:  # duplicate steps: by logging time within the step
            step, ts, value = step[perm], ts[perm], value[perm]
        ones = np.ones(len(step), np.int64)
        bounds = np.cumsum(lengths)[:-1]
        parts = zip(*(np.split(a, bounds) for a in (step, value, ones, ts)))
        keys = [k for k, kept in zip(self.keys, keep) if kept]
        return {k: ds.Buckets(s, v, v, v, v, one, t) for k, (s, v, one, t) in zip(keys, parts)}
