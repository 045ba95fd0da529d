"""Curves frames for the chart tests, in the shape ``dashboard.data.curves`` returns."""

from __future__ import annotations

import numpy as np
import pandas as pd

A, B, C = "a" * 32, "b" * 32, "c" * 32
T0 = 1_700_000_000_000  # ms


def curve_rows(run_id, values, *, metric="val/loss", n=1, mins=None, maxs=None, steps=None,
               t0=T0, epochs=None):
    """Curves-frame rows for one run (shape of dashboard.data.curves)."""
    values = np.asarray(values, dtype=float)
    k = len(values)
    steps = np.arange(k) if steps is None else np.asarray(steps)
    return pd.DataFrame({
        "run_id": run_id, "metric": metric, "step": steps.astype("int64"), "value": values,
        "first": values, "min": values if mins is None else mins,
        "max": values if maxs is None else maxs, "n": np.full(k, n, dtype="int64"),
        "timestamp": (t0 + 1000 * steps).astype("int64"),
        "epoch": np.full(k, np.nan) if epochs is None else np.asarray(epochs, dtype=float),
    })


def frame(*parts):
    return pd.concat(parts, ignore_index=True)


def by_role(fig, role):
    return [t for t in fig.data if (t.meta or {}).get("role") == role]
