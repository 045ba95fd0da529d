"""RUNBOARD_AUTH=oidc end to end: Streamlit's real ``st.login`` code flow (Authlib) against a
local test identity provider (``fake_oidc``), in Chromium. A share link opened anonymously shows
only "Sign in"; after the provider's round trip — which always returns to the home page — the
visitor lands on the linked comparison with the role ``[runboard]`` gives their e-mail; an
address on no list is refused."""

from __future__ import annotations

import re
import secrets
import shutil

import pytest
from browser_util import (
    COLD_WAIT_MS,
    WAIT_MS,
    chromium,
    free_port,
    plotly_traces,
    require_chromium,
    streamlit_app,
    wait_for_rerun,
)
from plain_store import finished_runs

pytestmark = pytest.mark.browser
pytest.importorskip("authlib", reason="OIDC login needs Authlib (requirements.txt)")


def secrets_toml(port: int, provider) -> str:
    from fake_oidc import CLIENT_ID, CLIENT_SECRET

    return f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{provider.metadata_url}"

[runboard]
launchers = ["lena@example.com"]
viewers = ["@example.com"]
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory, sqlite_template):
    """(base URL, run ids, identity provider, browser) with RUNBOARD_AUTH=oidc."""
    require_chromium()
    from fake_oidc import Provider

    root = tmp_path_factory.mktemp("oidc-browser")
    shutil.copyfile(sqlite_template, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOARD_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        ids = finished_runs(uri, "oidc", points=20)
    port = free_port()
    with Provider() as provider:
        (root / "secrets.toml").write_text(secrets_toml(port, provider))
        env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
               "RUNBOARD_RUNTIME_DIR": str(root / "runtime"), "RUNBOARD_WORKER": "off", "RUNBOARD_AUTH": "oidc",
               "STREAMLIT_SECRETS_FILES": str(root / "secrets.toml")}
        with streamlit_app(env, root / "streamlit.log", port=port) as base, chromium() as browser:
            yield base, ids, provider, browser


def sign_in_from_link(browser, url: str, provider, email: str):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    page.goto(url, timeout=WAIT_MS)
    wait_for_rerun(page, COLD_WAIT_MS)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    provider.email = email
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/"), timeout=WAIT_MS)  # back from the provider
    wait_for_rerun(page, COLD_WAIT_MS)
    return page


def test_a_viewer_signs_in_at_the_provider_and_lands_on_the_linked_comparison(app):
    from playwright.sync_api import expect

    base, ids, provider, browser = app
    page = sign_in_from_link(browser, f"{base}/compare?runs={','.join(ids)}&metrics=train/loss", provider,
                             "vic@example.com")
    page.wait_for_url(re.compile(r"/compare\?"), timeout=WAIT_MS)
    wait_for_rerun(page, COLD_WAIT_MS)
    lines = [t for t in plotly_traces(page) if (t["meta"] or {}).get("role") == "line"]
    assert sorted(t["meta"]["run_id"] for t in lines) == sorted(ids)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Signed in as vic@example.com · viewer")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Launch").click()
    wait_for_rerun(page, COLD_WAIT_MS)
    expect(page.get_by_role("button", name="Launch", exact=True)).to_be_disabled(timeout=WAIT_MS)
    page.context.close()


def test_an_address_on_no_list_is_refused(app):
    from playwright.sync_api import expect

    base, ids, provider, browser = app
    page = sign_in_from_link(browser, f"{base}/compare?runs={ids[0]}", provider, "eve@elsewhere.org")
    expect(page.get_by_text("may not use this dashboard")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    page.context.close()
