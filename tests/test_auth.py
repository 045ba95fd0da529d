"""Login and roles under AppTest, on a real store and a real account file (issue 6): anonymous
visitors see only the sign-in form, a signed-in viewer reads everything but cannot launch or stop
— not even with a click the page never offered — and a launcher's launches and stops are
recorded under their name."""

from __future__ import annotations

import json

import pytest
import streamlit as st
import tiny_family  # noqa: F401 - registers the "tiny" family in this process (AppTest runs here)
from app_util import LAUNCHER, VIEWER, accounts_mode, app_test
from launch_util import all_runs, runtime_in_tmp  # noqa: F401 - autouse fixture
from plain_store import finished_runs
from streamlit.testing.v1 import AppTest

from dashboard import accounts, login
from dashboard.auth import SESSION_KEY
from experiments import queue
from trainers import tracking
from trainers.spec import build_spec

PAGES = ("runs", "compare", "run", "launch", "activity")


@pytest.fixture
def team(tmp_path, monkeypatch, sqlite_store):
    """Accounts mode over a fresh store: ``vera`` is a viewer, ``lena`` a launcher."""
    path = accounts_mode(tmp_path, monkeypatch)
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def two_runs() -> list[str]:
    return finished_runs(tracking.tracking_uri(), "auth", points=20)


def open_page(page: str, **params: str) -> AppTest:
    """Like ``app_util.open_page`` but without its exception check: sign-in stops pages early."""
    return app_test(page, **params).run()


def sign_in(at: AppTest, who: tuple[str, str]) -> AppTest:
    at.text_input(key="auth_name").input(who[0])
    at.text_input(key="auth_password").input(who[1])
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def shows_only_the_login(at: AppTest) -> bool:
    return ([t.value for t in at.title] == ["Runboard"] and [w.label for w in at.text_input] == ["Username", "Password"]
            and len(at.button) == 1 and not at.get("plotly_chart") and not at.dataframe and not at.multiselect
            and not at.selectbox and not at.sidebar.code)


def line_runs(at: AppTest) -> set[str]:
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return {t["meta"]["run_id"] for f in figs for t in f["data"] if (t.get("meta") or {}).get("role") == "line"}


@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_visitor_sees_only_the_login_form(team, page):
    ids = two_runs()
    at = open_page(page, runs=",".join(ids), run=ids[0], metrics="train/loss", family="mlp")
    assert not at.exception
    assert shows_only_the_login(at), [type(e).__name__ for e in at.main]


def test_a_wrong_password_shows_an_error_and_signs_nobody_in(team):
    at = sign_in(open_page("runs"), (VIEWER[0], "not-the-password"))
    assert any("Wrong username or password" in e.value for e in at.error)
    assert SESSION_KEY not in at.session_state and shows_only_the_login(at)
    assert at.text_input(key="auth_password").value == ""  # the typed password is not kept


def test_an_unknown_name_is_told_the_same_as_a_wrong_password(team):
    at = sign_in(open_page("runs"), ("mallory", VIEWER[1]))
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert SESSION_KEY not in at.session_state


def test_repeated_wrong_passwords_lock_the_name_even_for_the_right_one(team):
    at = open_page("runs")
    for _ in range(login.MAX_FAILURES):
        sign_in(at, (LAUNCHER[0], "guess-guess"))
    sign_in(at, LAUNCHER)
    assert any("Too many failed sign-ins" in e.value for e in at.error)
    assert SESSION_KEY not in at.session_state


def test_a_viewer_signs_in_on_a_share_link_and_sees_that_comparison(team):
    ids = two_runs()
    at = open_page("compare", runs=",".join(ids), metrics="train/loss")
    assert shows_only_the_login(at)
    sign_in(at, VIEWER)
    assert at.session_state[SESSION_KEY] == "vera"
    assert line_runs(at) == set(ids)
    assert at.query_params["runs"] == ",".join(ids) and at.query_params["metrics"] == "train/loss"
    assert any("Signed in as vera · viewer" in c.value for c in at.sidebar.caption)


def test_a_viewer_gets_no_working_launch_controls(team):
    at = sign_in(open_page("launch", family="tiny"), VIEWER)
    assert at.button(key="launch_go").disabled and at.button(key="launch_sweep_go").disabled
    assert any("only a launcher can launch" in i.value for i in at.info)


def test_a_forged_click_on_the_viewers_disabled_launch_button_creates_nothing(team):
    at = sign_in(open_page("launch", family="tiny"), VIEWER)
    at.text_input(key="launch_family-tiny_name").input("forged")
    button = at.button(key="launch_go")
    button.proto.disabled = False  # what a hand-made websocket message would claim
    button.click().run()
    assert not at.exception and all_runs() == []


def test_a_launch_by_someone_demoted_to_viewer_is_refused_on_the_server(team):
    """The page was drawn for a launcher (working button); the role is taken away before the
    click. The click reaches the launch action, which refuses it and queues nothing."""
    at = sign_in(open_page("launch", family="tiny"), LAUNCHER)
    assert not at.button(key="launch_go").disabled
    at.text_input(key="launch_family-tiny_name").input("after-demotion")
    accounts.add(team, LAUNCHER[0], "viewer", LAUNCHER[1])
    at.button(key="launch_go").click().run()
    assert any("Refused: only a launcher may launch runs" in e.value for e in at.error)
    assert all_runs() == [] and not at.success


def test_a_launcher_launch_is_scheduled_under_their_name(team):
    at = sign_in(open_page("launch", family="tiny"), LAUNCHER)
    at.text_input(key="launch_family-tiny_name").input("by-lena")
    at.button(key="launch_go").click().run()
    assert not at.exception and not at.error
    [run] = all_runs()
    assert run.info.status == "SCHEDULED" and run.info.run_name == "by-lena"
    assert run.data.tags[queue.LAUNCHED_BY] == "lena"


def test_a_viewer_cannot_cancel_and_a_demoted_click_is_refused(team):
    run_id = queue.submit(build_spec("tiny", {}, run_name="waiting"))
    at = sign_in(open_page("activity"), VIEWER)
    assert at.button(key=f"activity_cancel_{run_id}").disabled
    at = sign_in(open_page("activity"), LAUNCHER)
    accounts.add(team, LAUNCHER[0], "viewer", LAUNCHER[1])
    at.button(key=f"activity_cancel_{run_id}").click().run()
    run = tracking.client().get_run(run_id)
    assert run.info.status == "SCHEDULED" and queue.STOPPED_BY not in run.data.tags
    assert any("Refused: only a launcher may stop or cancel runs" in e.value for e in at.error)


def test_a_launcher_cancel_records_who_cancelled(team):
    run_id = queue.submit(build_spec("tiny", {}, run_name="waiting"))
    at = sign_in(open_page("activity"), LAUNCHER)
    at.button(key=f"activity_cancel_{run_id}").click().run()
    run = tracking.client().get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags[queue.STOPPED_BY] == "lena"


def test_a_removed_account_is_signed_out_at_its_next_click(team):
    at = sign_in(open_page("runs"), LAUNCHER)
    assert not shows_only_the_login(at)
    accounts.remove(team, LAUNCHER[0])
    at.run()
    assert shows_only_the_login(at)


def test_sign_out_returns_to_the_login(team):
    at = sign_in(open_page("runs"), VIEWER)
    at.sidebar.button(key="auth_signout").click().run()
    assert shows_only_the_login(at) and SESSION_KEY not in at.session_state


def test_no_accounts_yet_says_how_to_create_one(team, monkeypatch, tmp_path):
    monkeypatch.setenv("RUNBOARD_ACCOUNTS", str(tmp_path / "none.toml"))
    at = open_page("runs")
    assert "No accounts yet" in at.error[0].value and not at.text_input
    assert "dashboard.accounts add" in at.code[0].value


def test_a_wrong_auth_setting_stops_every_page(sqlite_store, monkeypatch):
    monkeypatch.setenv("RUNBOARD_AUTH", "yes")  # not "off": never read as "no login" by accident
    at = open_page("runs")
    assert "RUNBOARD_AUTH" in at.error[0].value and not at.title and not at.text_input


def test_auth_off_refuses_to_serve_a_network_address(sqlite_store, monkeypatch):
    from streamlit import config

    monkeypatch.delenv("RUNBOARD_AUTH", raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = open_page("runs")
    finally:
        config.set_option("server.address", before)
    assert "serves the network" in at.error[0].value and not at.title


# ---- OIDC (st.login): identity from st.user, roles from secrets.toml's [runboard] ----

OIDC_SECRETS = {
    "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
             "client_id": "runboard", "client_secret": "s3cret", "server_metadata_url": "http://127.0.0.1:1/.well-known"},
    "runboard": {"launchers": ["lena@example.com"], "viewers": ["@example.com"]},
}


def oidc_page(page: str, user: dict, **params: str) -> AppTest:
    at = app_test(page, **params)
    at.secrets.update(OIDC_SECRETS)
    at.user = user
    return at.run()


@pytest.fixture
def oidc(sqlite_store, monkeypatch):
    monkeypatch.setenv("RUNBOARD_AUTH", "oidc")
    st.cache_data.clear()


def test_oidc_anonymous_gets_only_a_sign_in_button(oidc):
    at = oidc_page("compare", {"is_logged_in": False}, runs="0" * 32)
    assert [b.label for b in at.button] == ["Sign in"] and not at.multiselect and not at.sidebar.code


def test_oidc_launcher_by_email_launches_under_that_email(oidc):
    at = oidc_page("launch", {"is_logged_in": True, "email": "lena@example.com", "email_verified": True}, family="tiny")
    at.button(key="launch_go").click().run()
    [run] = all_runs()
    assert run.info.status == "SCHEDULED" and run.data.tags[queue.LAUNCHED_BY] == "lena@example.com"


def test_oidc_a_rerun_as_a_viewer_cannot_launch(oidc):
    """The same session's identity changes to a viewer's between drawing and clicking."""
    at = oidc_page("launch", {"is_logged_in": True, "email": "lena@example.com"}, family="tiny")
    at.user = {"is_logged_in": True, "email": "vic@example.com"}  # in the domain: a viewer
    at.button(key="launch_go").click().run()
    assert all_runs() == [] and any("Refused" in e.value for e in at.error)


def test_oidc_someone_on_no_list_is_refused_everything(oidc):
    at = oidc_page("runs", {"is_logged_in": True, "email": "eve@elsewhere.org"})
    assert any("may not use this dashboard" in e.value for e in at.error)
    assert not at.dataframe and not at.sidebar.code and [b.label for b in at.button] == ["Sign out"]
