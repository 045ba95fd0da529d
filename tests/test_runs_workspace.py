"""The Runs page's first screen on a store of three families: a table that leads with results,
and a workspace of charts of the runs in view that follows the filter (issue 18, acceptance 1)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from app_util import figures, open_page
from three_families import write_three_families

from dashboard.runs_columns import default_columns, main_metrics
from dashboard.workspace import MAX_RUNS, colours, drawn
from trainers.run_tags import FAMILY

FIXED = ("run_name", "status")
pytestmark = pytest.mark.usefixtures("fresh_page_caches")


@pytest.fixture
def three(sqlite_store):
    return write_three_families(sqlite_store)


def lines(fig: dict) -> list[str]:
    return [t["meta"]["run_id"] for t in fig["data"] if (t.get("meta") or {}).get("role") == "line"]


def charts(at) -> dict[str, list[str]]:
    """{chart title: run ids with a line} of the workspace."""
    return {f["layout"]["title"]["text"]: lines(f) for f in figures(at) if lines(f)}


def test_the_table_leads_with_metrics_primary_first_and_no_default_column_is_empty(three):
    at = open_page("runs")
    table = at.dataframe[0].value
    cols = list(table.columns)
    assert cols[:2] == list(FIXED)
    assert cols[2].startswith("metrics.") and cols[3].startswith("metrics.")
    assert cols[2] == "metrics.val/acc"  # the family with most runs leads: mlp's primary metric
    assert "metrics.epoch" not in cols
    for col in cols:
        assert table[col].replace("", None).notna().any(), f"{col} is empty for every run"
    # Only the params that vary: every run has seed=1, so no seed column.
    assert "params.lr" in cols and "params.seed" not in cols


def test_labels_are_human_and_the_raw_key_is_the_tooltip(three):
    at = open_page("runs")
    config = json.loads(at.dataframe[0].proto.columns)  # the column config the browser gets
    fam = config[f"tags.{FAMILY}"]
    assert fam["label"] == "family" and f"tags.{FAMILY}" in fam["help"]
    assert config["params.lr"]["label"] == "lr"


def test_every_param_toggle_shows_params_that_do_not_vary(three):
    at = open_page("runs", allp="1")
    assert "params.seed" in at.dataframe[0].value.columns


def test_workspace_draws_one_chart_per_main_metric_and_a_line_per_run_in_view(three):
    at = open_page("runs")
    every = {r for ids in three.values() for r in ids}
    drawn = charts(at)
    # The families' primary metrics first (most runs first), then the other results.
    main = ["val/acc", "val/mse", "val/loss", "train/loss", "val/kl"]
    assert at.multiselect(key="runs_ws_metrics").value == main
    assert sorted(drawn) == sorted(main)  # two charts a row: the page lists them column by column
    for ids in drawn.values():
        assert len(ids) == len(set(ids)) and set(ids) <= every
    assert set(drawn["val/loss"]) == every


def test_workspace_follows_a_filter_change(three):
    at = open_page("runs")
    at.text_input(key="runs_q").set_value("family = mlp").run()
    assert not at.exception
    drawn = charts(at)
    assert at.multiselect(key="runs_ws_metrics").value == ["val/acc", "train/loss", "val/loss"]
    assert sorted(drawn) == ["train/loss", "val/acc", "val/loss"]
    assert set(drawn["val/acc"]) == set(three["mlp"])
    assert set(at.dataframe[0].value["run_id"]) == set(three["mlp"])
    assert "params.latent" not in at.dataframe[0].value.columns  # vae's param: empty for every mlp run


def test_table_and_charts_colour_a_run_alike(three):
    at = open_page("runs", q="family = linreg")
    fig = next(f for f in figures(at) if lines(f))
    colour = {t["meta"]["run_id"]: t["line"]["color"] for t in fig["data"] if t["meta"]["role"] == "line"}
    assert len(set(colour.values())) == len(three["linreg"])


def test_default_columns_follow_the_runs_given(three, sqlite_store):
    from dashboard import data
    frame = data.runs(None)
    metrics = sorted(c.removeprefix("metrics.") for c in frame.columns
                     if c.startswith("metrics.") and not c.endswith((".min", ".max")))
    mlp = frame[frame[f"tags.{FAMILY}"] == "mlp"]
    assert main_metrics(mlp, metrics) == ["val/acc", "train/loss", "val/loss"]
    cols = default_columns(mlp, metrics)
    assert cols[:3] == ["metrics.val/acc", "metrics.train/loss", "metrics.val/loss"]
    assert "params.latent" not in cols and "params.lr" in cols and "params.seed" not in cols


def test_the_workspace_draws_the_first_runs_by_the_sort_or_the_selected_ones_and_says_so():
    table = pd.DataFrame({"run_id": [f"{i:032x}" for i in range(MAX_RUNS + 5)]})
    ids, note = drawn(table, [])
    assert ids == list(table["run_id"])[:MAX_RUNS] and f"first {MAX_RUNS} of {MAX_RUNS + 5}" in note
    ids, note = drawn(table, list(table["run_id"])[3:5])
    assert ids == list(table["run_id"])[3:5] and "2 selected" in note
    assert len(set(colours(table).values())) > 10  # past ten runs the 48-colour cycle


def test_a_running_run_keeps_the_workspace_and_compare_live(three, sqlite_store):
    from mlflow.entities import Metric

    from trainers import tracking

    client = tracking.client(sqlite_store)
    rid = client.create_run(tracking.experiment_id("three", sqlite_store), run_name="live",
                            tags={FAMILY: "mlp"}).info.run_id  # RUNNING until it ends
    client.log_batch(rid, metrics=[Metric("val/acc", 0.5, 0, s) for s in range(3)])
    for at in (open_page("runs", q="family = mlp"), open_page("compare", runs=rid, metrics="val/acc")):
        assert any("Live: refreshing" in c.value for c in at.caption)
        assert any(rid in lines(f) for f in figures(at))
