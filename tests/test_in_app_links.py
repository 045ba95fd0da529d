"""Issue 21, item 6: links from one page of the app to another keep the tab. Streamlit opens a
markdown link (and a dataframe LinkColumn) in a new tab, where a signed-in user meets the login
again; ``st.page_link`` switches page in the same tab and session. Under AppTest: no page draws
an in-app markdown link or a link column, and the page links name the right page and view.
The click itself, signed in, is tests/test_activity_browser.py."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from app_util import open_page, page_links
from launch_util import runtime_in_tmp  # noqa: F401 - autouse fixture: logs and locks in the test's folder
from plain_store import finished_runs

from experiments import queue
from trainers.spec import build_spec

IN_APP = ("](/", "](run", "](launch", "](activity", "](compare", 'href="/')


@pytest.fixture(autouse=True)
def _fresh_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def texts(at) -> list[str]:
    """Every text block the page drew that renders markdown."""
    kinds = (at.markdown, at.caption, at.info, at.success, at.warning, at.error, at.toast)
    return [el.value for kind in kinds for el in kind]


def assert_no_markdown_links(at) -> None:
    found = [t for t in texts(at) if any(marker in t for marker in IN_APP)]
    assert not found, f"in-app markdown links open a new tab: {found}"


def test_activity_links_to_runs_and_clones_with_page_links(sqlite_store):
    ended = queue.submit(build_spec("mlp", {}, run_name="ended"))
    queue.cancel(ended)
    waiting = queue.submit(build_spec("mlp", {}, run_name="waiting"))
    at = open_page("activity")
    assert_no_markdown_links(at)
    links = page_links(at)
    assert ("Open run", "run", f"run={waiting}") in links
    assert ("Clone", "launch", f"clone={ended}") in links


def test_the_launch_confirmation_links_to_activity_and_the_run_with_page_links(sqlite_store):
    at = open_page("launch", family="mlp")
    at.button(key="launch_go").click().run()
    [run_id] = [r.info.run_id for r in queue.runs_with_status("SCHEDULED")]
    assert_no_markdown_links(at)
    links = page_links(at)
    assert ("Activity", "activity", "") in links and ("Open the run", "run", f"run={run_id}") in links


def test_the_runs_table_has_no_link_column(sqlite_store):
    """A LinkColumn cell opens a new tab; the table's "Open run" button switches page instead."""
    finished_runs(sqlite_store, "links")
    at = open_page("runs")
    [table] = at.dataframe
    columns = json.loads(table.proto.columns or "{}")
    assert columns and not [c for c, conf in columns.items() if conf.get("type_config", {}).get("type") == "link"]
    assert_no_markdown_links(at)
