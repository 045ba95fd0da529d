"""Compare's curve charts are built once per (points, options): reruns that change neither reuse
the figure (dashboard.figure_cache), a changed option or a new point rebuilds it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import streamlit as st
from app_util import open_page

from dashboard.chart_controls import FIGURES
from dashboard.figure_cache import TRACE_BYTES, FigureCache, figure_bytes, points_version
from trainers import tracking

pytestmark = pytest.mark.usefixtures("fresh_page_caches")


@pytest.fixture
def two_runs(sqlite_store) -> tuple[str, list[str]]:
    c = tracking.client(sqlite_store)
    eid = tracking.experiment_id("figures", sqlite_store)
    ids = []
    for i in range(2):
        rid = c.create_run(eid, run_name=f"r{i}").info.run_id
        c.log_param(rid, "lr", str(0.1 / (i + 1)))
        for step in range(20):
            c.log_metric(rid, "train/loss", 1.0 / (step + 1 + i), step=step)
        c.set_terminated(rid)
        ids.append(rid)
    return sqlite_store, ids


def test_reruns_with_unchanged_points_and_options_build_the_figure_once(two_runs):
    uri, ids = two_runs
    FIGURES.clear()
    before = FIGURES.builds
    at = open_page("compare", runs=",".join(ids), metrics="train/loss")
    assert FIGURES.builds - before == 1
    at.run()  # a rerun with nothing changed
    at.toggle(key="cmp_diff").set_value(False).run()  # a control the chart does not use
    st.cache_data.clear()  # the next read is a new one (as past its TTL): same points
    at.run()
    assert FIGURES.builds - before == 1
    at.toggle(key="cmp_logy").set_value(True).run()  # an option of the chart
    assert FIGURES.builds - before == 2
    tracking.client(uri).log_metric(ids[0], "train/loss", 0.01, step=20)  # a new point
    st.cache_data.clear()
    at.run()
    assert FIGURES.builds - before == 3
    assert not at.exception


def test_points_version_moves_with_a_new_point_or_a_changed_value():
    part = pd.DataFrame({"run_id": ["a", "a"], "metric": ["m", "m"], "step": [0, 1], "value": [1.0, 0.5]})
    assert points_version(part) == points_version(part.copy())
    assert points_version(part.assign(value=[1.0, 0.4])) != points_version(part)
    assert points_version(part.assign(run_id=["a", "b"])) != points_version(part)
    assert points_version(part.head(1)) != points_version(part)


def test_cache_is_bounded_by_points_and_drops_the_least_recently_used():
    cache, built = FigureCache(max_bytes=10, size=len), []

    def build(name):
        return lambda: built.append(name) or name

    assert cache.get("a", build("aaaaaa")) == "aaaaaa"  # size = len: 6
    assert cache.get("a", build("a2")) == "aaaaaa"  # held: not rebuilt
    cache.get("b", build("bbbb"))
    cache.get("a", build("a3"))  # used: "b" is now the older
    cache.get("c", build("cccc"))  # 14 > 10: "b" goes
    assert built == ["aaaaaa", "bbbb", "cccc"] and len(cache) == 2
    cache.get("huge", build("h" * 11))  # over the bound alone: built, never held
    assert len(cache) == 2 and cache.builds == 4


def test_figure_bytes_counts_the_arrays_and_the_traces():
    fig = go.Figure([dict(type="scatter", x=np.arange(1000.0), y=np.arange(1000.0)), dict(type="scatter")])
    assert figure_bytes(fig) == 2 * 8 * 1000 + 2 * TRACE_BYTES
