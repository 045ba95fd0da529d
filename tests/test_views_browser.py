"""Named views in a real browser (issue 18, acceptance 2 and 3): a share link naming a view opens
the Runs page with the view's table and workspace, and a view saved in one browser session is
there, as the experiment's default, in a fresh one."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from browser_util import WAIT_MS, chromium, open_view, plotly_traces, require_chromium, streamlit_app, wait_for_rerun
from three_families import write_three_families

from dashboard import views
from trainers import tracking

pytestmark = pytest.mark.browser
MLP = "family = mlp"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(base URL, {family: run ids}, experiment id, uri, browser) over a three-family store."""
    require_chromium()

    root = tmp_path_factory.mktemp("views_browser")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri()}
    ids = write_three_families(uri)
    eid = tracking.experiment_id("three", uri)
    with streamlit_app(env, root / "streamlit.log") as base, chromium() as browser:
        yield base, ids, eid, uri, browser



def workspace_runs(page) -> set[str]:
    """Run ids with a line in the workspace's first chart."""
    return {t["meta"]["run_id"] for t in plotly_traces(page, 0) if (t["meta"] or {}).get("role") == "line"}


def test_a_share_link_naming_a_view_opens_its_table_and_workspace(app):
    from playwright.sync_api import expect

    base, ids, eid, uri, browser = app
    views.save(eid, "mlp by acc", {"q": MLP, "sort": "-metrics.val/acc", "smooth": "0.3"}, uri=uri)
    context, page = open_view(browser, f"{base}/?view={quote('mlp by acc')}", height=2400)
    total = sum(len(v) for v in ids.values())
    expect(page.get_by_text(f"{len(ids['mlp'])} of {total} runs")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stTextInput").filter(has_text="Filter").get_by_role("textbox")).to_have_value(MLP)
    assert workspace_runs(page) == set(ids["mlp"])
    assert {t["meta"]["role"] for t in plotly_traces(page, 0)} >= {"raw"}  # the view's smoothing
    expect(page).to_have_url(re.compile(r"q=family"), timeout=WAIT_MS)
    context.close()


def test_a_view_saved_in_the_browser_is_the_default_in_a_fresh_session(app):
    from playwright.sync_api import expect

    base, ids, eid, uri, browser = app
    context, page = open_view(browser, f"{base}/?exp={eid}&q={quote('family = linreg')}", height=2400)
    page.get_by_role("button", name="Save this view").click()
    page.get_by_label("Name").fill("linreg only")
    page.get_by_text("Open this experiment with it").click()
    page.get_by_role("button", name="Save", exact=True).click()
    wait_for_rerun(page)
    expect(page.get_by_text("Saved view “linreg only”.")).to_be_visible(timeout=WAIT_MS)
    context.close()
    saved = {v.name: v for v in views.every_view(uri)}
    assert saved["linreg only"].default and saved["linreg only"].params["q"] == "family = linreg"

    fresh, page = open_view(browser, f"{base}/", height=2400)  # a new browser session, the bare page
    total = sum(len(v) for v in ids.values())
    expect(page.get_by_text(f"{len(ids['linreg'])} of {total} runs")).to_be_visible(timeout=WAIT_MS)
    assert workspace_runs(page) == set(ids["linreg"])
    fresh.close()
