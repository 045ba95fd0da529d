"""Issue 21 item 1: a group's mean on time axes. Identical runs shifted in time have a mean equal
to each run (no sawtooth across runs on wall time, no mismatched x on relative time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.charts import curves_figure
from dashboard.data.downsample import CURVE_COLUMNS

T0 = 1_700_000_000_000.0


def _frame(offsets_s: list[float], n: int = 40, dt_ms: float = 250.0) -> tuple[pd.DataFrame, dict, np.ndarray]:
    rows, starts = [], {}
    values = 1.0 / (1.0 + np.arange(n)) + 0.1 * np.sin(np.arange(n))
    for i, off in enumerate(offsets_s):
        rid = f"run{i}"
        start = T0 + off * 1000.0
        starts[rid] = start - 3000.0  # training began 3 s before the first point, in every run
        for s in range(n):
            v = values[s]
            rows.append(dict(run_id=rid, metric="loss", step=s, value=v, first=v, min=v, max=v, n=1,
                             timestamp=start + s * dt_ms, epoch=0))
    return pd.DataFrame(rows, columns=CURVE_COLUMNS), starts, values


def _group_mean(fig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    traces = [t for t in fig.data if (t.meta or {}).get("role") in ("group", "group_band")]
    mean = next(t for t in traces if t.meta["role"] == "group")
    lo, hi = (np.asarray(t.y, dtype=float) for t in traces if t.meta["role"] == "group_band")
    return np.asarray(mean.y, dtype=float), lo, hi


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 10_000, allow_nan=False), min_size=2, max_size=4, unique=True))
def test_mean_of_identical_runs_shifted_in_time_equals_each_run(offsets):
    df, starts, values = _frame(offsets)
    groups = {rid: "g" for rid in starts}
    for x in ("wall", "relative"):
        fig = curves_figure(df, "loss", x=x, groups=groups, start_times=starts)
        mean, lo, hi = _group_mean(fig)
        assert mean.size == values.size, x
        np.testing.assert_allclose(mean, values, atol=1e-9, err_msg=x)
        np.testing.assert_allclose(hi - lo, 0.0, atol=1e-9, err_msg=x)  # no spread between identical runs


def test_wall_time_group_mean_starts_at_the_earliest_run():
    df, starts, values = _frame([0.0, 500.0])
    fig = curves_figure(df, "loss", x="wall", groups={"run0": "g", "run1": "g"})
    mean = next(t for t in fig.data if (t.meta or {}).get("role") == "group")
    xs = pd.to_datetime(np.asarray(mean.x))
    assert xs[0] == pd.Timestamp(T0, unit="ms") and len(xs) == values.size
