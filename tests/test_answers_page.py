"""The Compare page answers: group tests when runs are grouped and param importance, in the link (issue 17)."""

from __future__ import annotations

import pytest
import streamlit as st
from app_util import figures, open_page
from mlflow.entities import Metric, Param
from seeded_runs import write_seeds

from trainers import tracking


@pytest.fixture
def seeds(sqlite_store):
    st.cache_data.clear()
    yield write_seeds()
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


@pytest.fixture
def overfit(sqlite_store):
    """Two configurations × three seeds; val/loss is best at step 1 everywhere. At that step lr=0.1
    has the higher val/acc, at the end lr=0.01 has."""
    st.cache_data.clear()
    c = tracking.client()
    eid = tracking.experiment_id("at-best")
    ids = []
    for lr, accs in (("0.1", (0.5, 0.9, 0.5)), ("0.01", (0.5, 0.6, 0.8))):
        for seed in range(3):
            rid = c.create_run(eid, run_name=f"lr{lr}-s{seed}").info.run_id
            jitter = seed * 0.001
            metrics = [Metric("val/loss", v, 0, s) for s, v in enumerate((0.5, 0.2, 0.4))]
            metrics += [Metric("val/acc", a + jitter, 0, s) for s, a in enumerate(accs)]
            c.log_batch(rid, metrics=metrics, params=[Param("lr", lr), Param("seed", str(seed))])
            c.set_terminated(rid)
            ids.append(rid)
    yield ids
    st.cache_data.clear()


def test_the_group_test_can_take_each_runs_value_at_the_best_epoch_of_another_metric(overfit):
    def best_group(at):
        (table,) = [df.value for df in at.dataframe if "p (Welch)" in df.value.columns]
        return table.set_index("Δ vs best").loc["best", "group"]

    common = dict(runs=",".join(overfit), metrics="val/acc", group="lr")
    assert best_group(open_page("compare", **common)) == "0.01"  # final values
    at = open_page("compare", **common, sig="at_best", sigby="val/loss")
    assert best_group(at) == "0.1"  # at the epoch of the best val/loss
    assert at.query_params["sig"] == "at_best" and at.query_params["sigby"] == "val/loss"


def test_the_html_export_of_a_grouped_comparison_holds_the_answers(seeds, monkeypatch):
    import functools

    from dashboard import share

    built = []
    monkeypatch.setattr(share, "partial", lambda fn, *args: built.append(args) or functools.partial(fn, *args))
    open_page("compare", runs=",".join(seeds), metrics="val/loss", group="lr", sig="best")
    (args,) = built
    page = functools.partial(share.export.figures_html, *args)()
    assert "<h2>Answers</h2>" in page and "p (Welch)" in page and "n too small" not in page
    assert page.count('class="runboard-figure"') == 2  # the val/loss chart and the importance bars
    (heading, table), = args[4]
    assert heading == "val/loss (lower is better)" and table.set_index("group").loc["0.1", "Δ vs best"] == "best"
