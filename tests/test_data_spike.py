"""Acceptance: a one-step spike in a 1,000,000-step curve survives the reduction to 1,000 buckets."""

from __future__ import annotations

import numpy as np
import pytest
from plain_store import write_metric_rows

from dashboard import data
from trainers import tracking

POINTS = 1_000_000
SPIKE = 1e6


def _spiked(uri: str, points: int) -> tuple[str, int]:
    """(run_id, spike step). The run is MlflowClient's; its rows go in by SQL (MLflow's ORM
    writes ~6k points/s: minutes for this curve, seconds this way)."""
    c = tracking.client(uri)
    run_id = c.create_run(tracking.experiment_id("spike", uri)).info.run_id
    spike_at = int(np.random.default_rng().integers(1, points - 1))
    values = np.sin(np.arange(points) / 5000.0)
    values[spike_at] = SPIKE
    write_metric_rows(uri, run_id, "train/loss", np.arange(points), values)
    return run_id, spike_at


@pytest.fixture
def spiked(store):
    return _spiked(store, POINTS)


@pytest.mark.slow
def test_spike_survives_as_a_bucket_max(spiked):
    run_id, spike_at = spiked
    df = data.curves([run_id], ["train/loss"], max_points=1000)
    assert len(df) <= 1000 and df["n"].sum() == POINTS
    holder = df[df["max"] == SPIKE]
    assert len(holder) == 1, f"spike at step {spike_at} lost"
    # The bucket holding it ends at or after the spike and starts after the previous bucket.
    previous_end = df["step"].where(df["step"] < holder["step"].iloc[0]).max()
    assert previous_end < spike_at <= holder["step"].iloc[0]


def test_zooming_around_the_spike_gives_full_detail(store):
    run_id, spike_at = _spiked(store, 100_000)  # zooming needs a long curve, not the longest
    df = data.curves([run_id], ["train/loss"], max_points=1000, step_range=(spike_at - 200, spike_at + 200))
    assert (df["n"] == 1).all() and df["step"].tolist() == list(range(spike_at - 200, spike_at + 201))
    assert df.set_index("step").loc[spike_at, "value"] == SPIKE
    assert df.attrs["total_points"][(run_id, "train/loss")] == 401


def _ys(fig: dict) -> np.ndarray:
    """Every y value of every trace; Plotly ships numpy arrays as base64 typed arrays."""
    import base64

    out = []
    for trace in fig["data"]:
        y = trace.get("y")
        if isinstance(y, dict) and "bdata" in y:
            out.append(np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"])).astype(float))
        elif y is not None:
            out.append(np.asarray(y, dtype=float))
    return np.concatenate(out) if out else np.array([])


@pytest.mark.slow
def test_compare_chart_of_a_million_step_curve_contains_the_spike(sqlite_store):
    import json

    from streamlit.testing.v1 import AppTest

    run_id, _ = _spiked(sqlite_store, POINTS)
    at = AppTest.from_file(str(tracking.REPO / "dashboard" / "app.py"), default_timeout=120)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"], at.query_params["metrics"] = run_id, "train/loss"
    at.run()
    assert not at.exception
    (fig,) = [json.loads(el.proto.spec) for el in at.get("plotly_chart")][:1]
    assert SPIKE in _ys(fig)
