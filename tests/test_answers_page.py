"""The Compare page answers: group tests when runs are grouped and param importance, in the link (issue 17)."""

from __future__ import annotations

import pytest
import streamlit as st
from mlflow.entities import Metric, Param

from app_util import figures, open_page
from trainers import tracking

# Two configurations × four seeds: lr=0.1 reaches a clearly lower val/loss than lr=0.01.
LOSS = {("0.1", 0): 0.20, ("0.1", 1): 0.22, ("0.1", 2): 0.21, ("0.1", 3): 0.19,
        ("0.01", 0): 0.40, ("0.01", 1): 0.43, ("0.01", 2): 0.41, ("0.01", 3): 0.42}


@pytest.fixture
def seeds(sqlite_store):
    st.cache_data.clear()
    c = tracking.client()
    eid = tracking.experiment_id("answers")
    ids = []
    for (lr, seed), loss in LOSS.items():
        rid = c.create_run(eid, run_name=f"lr{lr}-s{seed}").info.run_id
        c.log_batch(rid, metrics=[Metric("val/loss", loss + 0.1, 0, 0), Metric("val/loss", loss, 0, 1)],
                    params=[Param("lr", lr), Param("seed", str(seed))])
        c.set_terminated(rid)
        ids.append(rid)
    yield ids
    st.cache_data.clear()


def test_a_grouped_comparison_from_a_link_shows_the_group_test_and_param_importance(seeds):
    at = open_page("compare", runs=",".join(seeds), metrics="val/loss", group="lr", sig="best")
    (table,) = [df.value for df in at.dataframe if "p (Welch)" in df.value.columns]
    rows = table.set_index("group")
    assert rows.loc["0.1", "Δ vs best"] == "best" and rows.loc["0.1", "n"] == 4
    assert float(rows.loc["0.01", "p (Welch)"]) < 0.001  # 0.2 vs 0.4 over 4 seeds: far beyond noise
    (bars,) = [f for f in figures(at) if any((t.get("meta") or {}).get("role") == "importance" for t in f["data"])]
    assert list(bars["data"][0]["y"])[-1] == "lr"  # the longest bar, drawn on top
    assert at.query_params["sig"] == "best" and "imetric" not in at.query_params


def test_a_group_of_one_run_says_n_too_small(seeds):
    at = open_page("compare", runs=",".join(seeds[:5]), metrics="val/loss", group="lr")
    (table,) = [df.value for df in at.dataframe if "p (Welch)" in df.value.columns]
    assert table.set_index("group").loc["0.01", "p (Welch)"] == "n too small"


def test_the_runs_page_ranks_params_for_the_filtered_runs_from_a_link(seeds):
    at = open_page("runs", exp=tracking.experiment_id("answers"), q="seed != 3", sig="best")
    (bars,) = [f for f in figures(at) if any((t.get("meta") or {}).get("role") == "importance" for t in f["data"])]
    assert list(bars["data"][0]["y"])[-1] == "lr"
    assert any("From 6 runs" in c.value for c in at.caption)  # the filter's 6 of 8 runs
    assert at.query_params["sig"] == "best" and at.query_params["q"] == "seed != 3"
