"""Issue 21, items 5 and 6, in a real browser over a real server with login on (accounts mode):
what AppTest cannot show, because it reruns the whole script where a browser reruns only the
Activity page's live fragment. A Cancel click confirms with a toast naming the run; a run that
ends elsewhere moves to "Recently ended" with no reload; the "Open run" link opens the run in
the same tab, still signed in; a long log scrolls in its box, showing its newest line. The queue
worker is off, so nothing trains."""

from __future__ import annotations

import re
import shutil

import pytest
from browser_util import WAIT_MS, chromium, require_chromium, streamlit_app, wait_for_rerun
from test_auth_browser import LAUNCHER, open_link, sign_in

from dashboard import accounts
from experiments import queue
from experiments.executors.local import LocalExecutor
from trainers import run_status, run_tags, tracking
from trainers.spec import build_spec

pytestmark = pytest.mark.browser
NAMES = ("cancel-me", "ends-elsewhere", "open-me")


@pytest.fixture(scope="module")
def app(tmp_path_factory, sqlite_template):
    """(base URL, store URI, {run name: queued run id}, browser) with RUNBOARD_AUTH=accounts."""
    require_chromium()

    root = tmp_path_factory.mktemp("activity-browser")
    shutil.copyfile(sqlite_template, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOARD_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        mp.setenv("RUNBOARD_RUNTIME_DIR", str(root / "runtime"))
        ids = {name: queue.submit(build_spec("mlp", {}, run_name=name), uri=uri) for name in NAMES}
        ids["chatty"] = running_with_a_long_log(uri)
    accounts.add(root / "accounts.toml", LAUNCHER[0], "launcher", LAUNCHER[1])
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
           "RUNBOARD_RUNTIME_DIR": str(root / "runtime"), "RUNBOARD_WORKER": "off",
           "RUNBOARD_AUTH": "accounts", "RUNBOARD_ACCOUNTS": str(root / "accounts.toml")}
    with streamlit_app(env, root / "streamlit.log") as base, chromium() as browser:
        yield base, uri, ids, browser


def running_with_a_long_log(uri: str) -> str:
    """A RUNNING launch (no process: the worker is off, nothing reaps it) with 500 log lines."""
    run_id = queue.submit(build_spec("mlp", {}, run_name="chatty"), uri=uri)
    assert run_status.claim(run_id, uri, {run_tags.EXECUTOR: "local"})
    LocalExecutor(uri).log_path(run_id).write_text("".join(f"epoch {i}/500 · step {10 * i}\n" for i in range(1, 501)))
    return run_id


def activity_row(page, name: str):
    """The innermost block of the run's Activity row holding its name and a button."""
    return (page.get_by_test_id("stVerticalBlock").filter(has_text=name)
            .filter(has=page.get_by_test_id("stButton")).last)


def signed_in_activity(base: str, browser):
    page = open_link(browser, base + "/activity")
    sign_in(page, LAUNCHER)
    return page


def test_cancel_confirms_with_a_toast_naming_the_run(app):
    from playwright.sync_api import expect

    base, uri, ids, browser = app
    page = signed_in_activity(base, browser)
    activity_row(page, "cancel-me").get_by_role("button", name="Cancel", exact=True).click()
    toast = page.get_by_test_id("stToast")
    expect(toast).to_be_visible(timeout=WAIT_MS)  # the click reran only the live fragment: it draws the toast
    expect(toast).to_contain_text("Cancelled “cancel-me”")
    assert tracking.client(uri).get_run(ids["cancel-me"]).info.status == "KILLED"
    page.context.close()


def test_a_run_that_ends_elsewhere_moves_to_recently_ended_without_a_reload(app):
    from playwright.sync_api import expect

    base, uri, ids, browser = app
    page = signed_in_activity(base, browser)
    queue.stop(ids["ends-elsewhere"], uri=uri, stopped_by="someone-else")  # another tab, the CLI, a teammate
    ended = page.get_by_test_id("stMarkdownContainer").filter(has_text="ends-elsewhere · mlp · killed")
    expect(ended).to_contain_text("cancelled by someone-else", timeout=WAIT_MS)  # the fragment redraws it
    page.context.close()


def test_open_run_keeps_the_tab_and_the_sign_in(app):
    from playwright.sync_api import expect

    base, _, ids, browser = app
    page = signed_in_activity(base, browser)
    activity_row(page, "open-me").get_by_role("link", name=re.compile(r"^open", re.I)).click()
    wait_for_rerun(page)
    expect(page.get_by_role("heading", name="open-me")).to_be_visible(timeout=WAIT_MS)
    assert page.url.endswith(f"/run?run={ids['open-me']}")
    assert page.context.pages == [page]  # no second tab (that one would ask to sign in again)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.context.close()


def test_a_long_log_scrolls_in_its_box_showing_the_newest_line(app):
    from playwright.sync_api import expect

    base, _, _, browser = app
    page = signed_in_activity(base, browser)
    activity_row(page, "chatty").get_by_text("Log", exact=True).click()
    expect(page.get_by_text("epoch 500/500 · step 5000")).to_be_attached(timeout=WAIT_MS)
    expect(page.get_by_text("epoch 301/500 · step 3010")).to_be_attached()  # 200 lines
    # the nearest scrolling ancestor of the log: taller inside than out, and scrolled to the bottom
    page.wait_for_function(SCROLLED_TO_NEWEST, timeout=WAIT_MS)
    page.context.close()


SCROLLED_TO_NEWEST = """() => {
    const code = [...document.querySelectorAll('code')].find(c => c.textContent.includes('epoch 500/500'));
    for (let el = code; el; el = el.parentElement) {
        const style = getComputedStyle(el);
        if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 100) {
            return el.scrollTop + el.clientHeight >= el.scrollHeight - 40;
        }
    }
    return false;
}"""
