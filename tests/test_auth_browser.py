"""Issue 6, acceptance 2, in a real browser over a real server with login on (accounts mode, a
temp account file): an anonymous visitor of a Compare share link sees only the login; a viewer
signs in, lands on the linked comparison and finds Launch and Cancel disabled; a launcher
launches a run that the store holds as SCHEDULED under their name. The queue worker is off, so
nothing trains."""

from __future__ import annotations

import re
import shutil

import pytest
from browser_util import COLD_WAIT_MS, WAIT_MS, chromium, plotly_traces, require_chromium, streamlit_app, wait_for_rerun
from plain_store import finished_runs

from dashboard import accounts
from experiments import queue
from trainers import tracking
from trainers.spec import build_spec

pytestmark = pytest.mark.browser
VIEWER, LAUNCHER = ("vera", "viewer-password-1"), ("lena", "launcher-password-1")
RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")


def write_store(uri: str) -> tuple[list[str], str]:
    """Two finished runs with a curve each, and one queued launch."""
    ids = finished_runs(uri, "team")
    queued = queue.submit(build_spec("mlp", {}, run_name="queued-one"), uri=uri)
    return ids, queued


@pytest.fixture(scope="module")
def app(tmp_path_factory, sqlite_template):
    """(base URL, store URI, run ids, queued run id, browser) with RUNBOARD_AUTH=accounts."""
    require_chromium()

    root = tmp_path_factory.mktemp("auth-browser")
    shutil.copyfile(sqlite_template, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOARD_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        mp.setenv("RUNBOARD_RUNTIME_DIR", str(root / "runtime"))
        ids, queued = write_store(uri)
    accounts.add(root / "accounts.toml", VIEWER[0], "viewer", VIEWER[1])
    accounts.add(root / "accounts.toml", LAUNCHER[0], "launcher", LAUNCHER[1])
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
           "RUNBOARD_RUNTIME_DIR": str(root / "runtime"), "RUNBOARD_WORKER": "off",
           "RUNBOARD_AUTH": "accounts", "RUNBOARD_ACCOUNTS": str(root / "accounts.toml")}
    with streamlit_app(env, root / "streamlit.log") as base, chromium() as browser:
        yield base, uri, ids, queued, browser


def open_link(browser, url: str):
    """A fresh browser context (no session) opening ``url``, as a teammate clicking a link."""
    page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    page.goto(url, timeout=WAIT_MS)
    wait_for_rerun(page, COLD_WAIT_MS)
    return page


def sign_in(page, who: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Username", exact=True).fill(who[0])
    page.get_by_label("Password", exact=True).fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Username", exact=True)).to_have_count(0, timeout=COLD_WAIT_MS)  # signed in
    wait_for_rerun(page, COLD_WAIT_MS)


def go_to(page, title: str) -> None:
    """Switch page with the sidebar's navigation (the same session, like a person would)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for_rerun(page, COLD_WAIT_MS)


def compare_link(base: str, ids: list[str]) -> str:
    return f"{base}/compare?runs={','.join(ids)}&metrics=train/loss"


def test_an_anonymous_visitor_of_a_share_link_sees_only_the_login(app):
    from playwright.sync_api import expect

    base, _, ids, _, browser = app
    page = open_link(browser, compare_link(base, ids))
    expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    for hidden in ("stPlotlyChart", "stMultiSelect", "stSidebarNav", "stDataFrame", "stCode"):
        expect(page.get_by_test_id(hidden)).to_have_count(0)
    page.context.close()


def test_a_viewer_lands_on_the_linked_comparison_and_cannot_launch_or_cancel(app):
    from playwright.sync_api import expect

    base, uri, ids, queued, browser = app
    page = open_link(browser, compare_link(base, ids))
    sign_in(page, VIEWER)
    lines = [t for t in plotly_traces(page) if (t["meta"] or {}).get("role") == "line"]
    assert sorted(t["meta"]["run_id"] for t in lines) == sorted(ids)
    assert f"runs={','.join(ids)}" in page.url and "metrics=train/loss" in page.url
    for name in ("team-0", "team-1"):  # the run picker holds the link's runs
        expect(page.get_by_test_id("stMultiSelect").first).to_contain_text(name)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in as vera · viewer")

    go_to(page, "Launch")
    expect(page.get_by_role("button", name="Launch", exact=True)).to_be_disabled(timeout=WAIT_MS)
    go_to(page, "Activity")
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_disabled(timeout=WAIT_MS)
    assert tracking.client(uri).get_run(queued).info.status == "SCHEDULED"
    page.context.close()


def test_a_launcher_launches_a_run_recorded_under_their_name(app):
    from playwright.sync_api import expect

    base, uri, _, _, browser = app
    page = open_link(browser, base + "/launch?family=mlp")
    sign_in(page, LAUNCHER)
    name = page.get_by_label("name", exact=True)
    name.fill("by-the-launcher")
    name.press("Tab")
    wait_for_rerun(page, COLD_WAIT_MS)
    page.get_by_role("button", name="Launch", exact=True).click()
    wait_for_rerun(page, COLD_WAIT_MS)
    success = page.get_by_test_id("stAlertContentSuccess")
    expect(success).to_be_visible(timeout=WAIT_MS)
    run = tracking.client(uri).get_run(RUN_ID.search(success.inner_text()).group(0))
    assert run.info.status == "SCHEDULED" and run.info.run_name == "by-the-launcher"
    assert run.data.tags[queue.LAUNCHED_BY] == "lena"
    page.context.close()
