"""Params read in 3 significant digits on every page that shows them (issue 21, item 7), while
the stored text stays what sorting and the CSV download use."""

from __future__ import annotations

import pytest
import streamlit as st
from app_util import open_page
from mlflow.entities import Metric, Param

from dashboard.numbers import short_number
from trainers import tracking

LONG_LR = "0.0031622776601683794"  # 10 ** -2.5, as a log-range sweep writes it


@pytest.mark.parametrize("stored, shown", [
    (LONG_LR, "0.00316"), ("0.30000000000000004", "0.3"), ("1e-05", "1e-05"), ("300.0", "300"),
    ("64", "64"), ("adam", "adam"), ("nan", "nan"), ("", ""), (None, None),
])
def test_a_decimal_param_reads_in_three_significant_digits_and_other_text_as_stored(stored, shown):
    assert short_number(stored) == shown


@pytest.fixture
def two_runs(sqlite_store) -> list[str]:
    st.cache_data.clear()
    client, ids = tracking.client(), []
    eid = tracking.experiment_id("numbers")
    for lr in (LONG_LR, "0.01"):
        rid = client.create_run(eid).info.run_id
        client.log_batch(rid, metrics=[Metric("val/loss", 0.5, 0, 0)],
                         params=[Param("lr", lr), Param("batch_size", "64")])
        client.set_terminated(rid)
        ids.append(rid)
    yield ids
    st.cache_data.clear()


def test_the_run_page_shows_a_long_learning_rate_short(two_runs):
    at = open_page("run", run=two_runs[0])
    params = at.dataframe[0].value.set_index("key")["value"]
    assert params["lr"] == "0.00316" and params["batch_size"] == "64"


def test_the_runs_table_shows_it_short(two_runs):
    at = open_page("runs", exp=tracking.experiment_id("numbers"))
    assert set(at.dataframe[0].value["params.lr"]) == {"0.00316", "0.01"}


def test_the_compare_param_diff_shows_it_short(two_runs):
    at = open_page("compare", runs=",".join(two_runs), metrics="val/loss")
    diffs = [df.value for df in at.dataframe if "lr" in df.value.index]
    assert diffs and set(diffs[0].loc["lr"]) == {"0.00316", "0.01"}
