"""Run health over a real store (issue 17): runs written by plain ``mlflow`` and by the trainers are
flagged exactly right, the flags reach the runs frame and the filter, and a curve is read again only
when it grew."""

from __future__ import annotations

import time

import numpy as np
import pytest
import streamlit as st
from app_util import figures, open_page
from mlflow.entities import Metric

from dashboard import data
from dashboard.data import health_store
from trainers import run_tags as T
from trainers import tracking

N = 200
STEPS = np.arange(N)


def falling(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 + 1.0 / (1 + STEPS / 20)) * rng.lognormal(0, 0.05, N)


def shapes() -> dict[str, tuple[str, dict[str, np.ndarray], float]]:
    """name → (status, curves, age of the newest point in s)."""
    nan, spike, diverging = falling(2), falling(3), falling(4)
    nan[150:] = np.nan
    spike[120] = 3.0
    diverging[130:] += np.linspace(0, 1, N - 130)
    val_up = 0.5 + 0.00005 * (STEPS - 60) ** 2
    return {
        "healthy": ("FINISHED", {"train/loss": falling(0), "val/acc": np.linspace(0.5, 0.9, N)}, 0),
        "healthy-running": ("RUNNING", {"train/loss": falling(1)}, 0),
        "nan": ("FINISHED", {"train/loss": nan}, 0),
        "spike": ("FINISHED", {"train/loss": spike}, 0),
        "diverging": ("FINISHED", {"train/loss": diverging}, 0),
        "overfitting": ("FINISHED", {"train/loss": falling(5), "val/loss": val_up}, 0),
        "stalled": ("RUNNING", {"train/loss": falling(6)}, 3600),
    }


EXPECTED = {"healthy": "", "healthy-running": "", "nan": "nan", "spike": "spike", "diverging": "diverging",
            "overfitting": "overfitting", "stalled": "stalled"}


def write_plain(experiment: str = "health") -> dict[str, str]:
    c = tracking.client()
    eid = tracking.experiment_id(experiment)
    ids = {}
    for name, (status, curves, age) in shapes().items():
        rid = c.create_run(eid, run_name=name).info.run_id  # RUNNING until terminated
        t0 = int((time.time() - age) * 1000) - N
        c.log_batch(rid, metrics=[Metric(k, float(v), t0 + s, s) for k, vs in curves.items() for s, v in enumerate(vs)])
        if status != "RUNNING":
            c.set_terminated(rid, status)
        ids[name] = rid
    return ids


def health_by_name(frame) -> dict[str, str]:
    return dict(zip(frame["run_name"], frame["health"]))


def test_runs_written_by_plain_mlflow_are_flagged_exactly_right(store):
    write_plain()
    assert health_by_name(data.runs()) == EXPECTED


def test_runs_written_by_the_trainers_are_flagged_right(sqlite_store):
    import tiny_family  # noqa: F401 - registers "tiny": a few steps, seconds on a CPU

    from trainers.spec import build_spec
    from trainers.train import train

    good = train(build_spec("tiny", {"max_epochs": 2})).run_id
    blown = train(build_spec("tiny", {"max_epochs": 2, "lr": 5.0})).run_id  # inf, then NaN
    health = dict(zip(data.runs()["run_id"], data.runs()["health"]))
    assert health == {good: "", blown: "nan"}
    (flag,) = data.run_health(data.run(blown))
    assert flag.flag == "nan" and flag.metric is not None and flag.step is not None


def test_a_heartbeat_older_than_the_staleness_limit_stalls_a_running_run(sqlite_store, monkeypatch):
    c = tracking.client()
    rid = c.create_run(tracking.experiment_id("beat")).info.run_id
    c.log_batch(rid, metrics=[Metric("train/loss", 1.0, int(time.time() * 1000), 0)])
    c.set_tag(rid, T.HEARTBEAT, str(time.time() - 100))
    assert data.runs()["health"].tolist() == [""]
    monkeypatch.setenv("RUNBOARD_STALE_S", "60")
    c.log_batch(rid, metrics=[Metric("train/loss", 1.0, int((time.time() - 120) * 1000), 1)])
    assert data.runs()["health"].tolist() == ["stalled"]


def test_only_curves_that_grew_are_read_again(sqlite_store, monkeypatch):
    ids = write_plain()
    data.runs()
    computed = []
    real = health_store._compute
    monkeypatch.setattr(health_store, "_compute", lambda uri, keys: computed.append(sorted(keys)) or real(uri, keys))
    assert health_by_name(data.runs()) == EXPECTED and computed == [[]]
    c = tracking.client()
    c.log_batch(ids["healthy"], metrics=[Metric("train/loss", 0.1, int(time.time() * 1000), N)])
    assert health_by_name(data.runs()) == EXPECTED
    assert computed[-1] == [(ids["healthy"], "train/loss")]


def test_the_runs_filter_health_spike_lists_only_the_spiked_run(sqlite_store):
    st.cache_data.clear()
    ids = write_plain()
    at = open_page("runs", exp=tracking.experiment_id("health"), q='health = "spike"')
    (table,) = at.dataframe
    assert table.value["run_id"].tolist() == [ids["spike"]]
    assert table.value["health"].tolist() == [["spike"]]  # one badge
    st.cache_data.clear()


def test_the_run_page_says_the_flag_and_marks_the_curve_at_its_step(sqlite_store):
    st.cache_data.clear()
    ids = write_plain()
    at = open_page("run", run=ids["spike"])
    assert any("spike in train/loss at step 120" in w.value for w in at.warning)
    marks = [t for f in figures(at) for t in f["data"] if (t.get("meta") or {}).get("role") == "health"]
    assert [(m["meta"]["flag"], list(m["x"])) for m in marks] == [("spike", [120])]
    assert marks[0]["y"][0] == pytest.approx(3.0)
    st.cache_data.clear()


def test_a_store_the_dashboard_cannot_write_keeps_the_cache_in_memory(sqlite_store, monkeypatch):
    monkeypatch.setattr(health_store, "_writer", lambda uri: None)  # as a read-only database user
    monkeypatch.setattr(health_store, "_memo", {})
    write_plain()
    assert health_by_name(data.runs()) == EXPECTED
    computed = []
    real = health_store._compute
    monkeypatch.setattr(health_store, "_compute", lambda uri, keys: computed.append(keys) or real(uri, keys))
    assert health_by_name(data.runs()) == EXPECTED and computed == [[]]


def test_flags_cached_by_older_rules_are_computed_again(sqlite_store, monkeypatch):
    write_plain()
    data.runs()
    monkeypatch.setattr(health_store.H, "VERSION", health_store.H.VERSION + 1)
    computed = []
    real = health_store._compute
    monkeypatch.setattr(health_store, "_compute", lambda uri, keys: computed.append(keys) or real(uri, keys))
    assert health_by_name(data.runs()) == EXPECTED
    assert len(computed[0]) == sum(len(curves) for _, curves, _ in shapes().values())  # every curve
