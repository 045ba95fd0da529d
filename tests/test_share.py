"""The "Copy link" box on every view, and the way back to a linked view after an identity
provider's login (only a path on this dashboard is ever followed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from mlflow.entities import Metric
from streamlit.testing.v1 import AppTest

from dashboard.share import parse_next, share_url
from trainers import tracking

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PATHS = ("", "compare", "run", "launch", "activity")


def test_share_url_keeps_lists_and_metric_names_readable():
    url = share_url("http://dash:8501/compare", "compare", {"runs": "a,b", "metrics": "val/loss", "q": "lr > 0.1"})
    assert url == "http://dash:8501/compare?runs=a,b&metrics=val/loss&q=lr+%3E+0.1"
    assert share_url(None, "run", {"run": "f" * 32}) == f"/run?run={'f' * 32}"
    assert share_url(None, "", {}) == "/"


@pytest.mark.parametrize("value, expected", [
    ("/compare?runs=a,b&metrics=val/loss", ("compare", {"runs": "a,b", "metrics": "val/loss"})),
    ("%2Flaunch%3Fclone%3Dabc", ("launch", {"clone": "abc"})),
    ("/base/path/activity", ("activity", {})),
    ("/", ("", {})),
])
def test_parse_next_follows_a_view_of_this_dashboard(value, expected):
    assert parse_next(value, PATHS) == expected


@pytest.mark.parametrize("value", [None, "", "https://evil.example/compare", "//evil.example/compare",
                                   "/admin?x=1", "compare?runs=a", "javascript:alert(1)"])
def test_parse_next_refuses_anything_else(value):
    assert parse_next(value, PATHS) is None


def test_every_view_shows_a_copyable_link_to_itself(sqlite_store):
    client = tracking.client()
    rid = client.create_run(tracking.experiment_id("links"), run_name="one").info.run_id
    client.log_batch(rid, metrics=[Metric("train/loss", 1.0 / (s + 1), 0, s) for s in range(5)])
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.context = {"url": "http://dash.example:8501/compare"}
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"] = rid
    at.run()
    assert not at.exception
    assert at.sidebar.code[0].value == f"http://dash.example:8501/compare?runs={rid}&metrics=train/loss"
    for page in ("runs", "run", "launch", "activity"):  # every other page has one too
        at.switch_page(f"app_pages/{page}.py").run()
        assert len(at.sidebar.code) == 1, page
