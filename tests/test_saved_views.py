"""Named views of the Runs page, kept in the store (issue 18, acceptance 2): save, reload in a fresh
session, default view, delete, a link naming a view, a view of one experiment opened in another,
and a viewer who may open views but not change them, whatever the browser sends."""

from __future__ import annotations

import pytest
from app_util import LAUNCHER, VIEWER, accounts_mode, app_test, open_page
from streamlit.testing.v1 import AppTest
from three_families import write_three_families

from dashboard import accounts, views
from trainers import tracking

MLP = "family = mlp"
pytestmark = pytest.mark.usefixtures("fresh_page_caches")


@pytest.fixture
def two_exps(sqlite_store):
    """{"other": ids by family, "three": ids by family}; "three" is written last, so a bare visit
    opens it."""
    other = write_three_families(sqlite_store, "other")
    three = write_three_families(sqlite_store, "three")
    return {"other": other, "three": three,
            "ids": {n: tracking.experiment_id(n, sqlite_store) for n in ("other", "three")}}


def save_view(at: AppTest, name: str, default: bool = False) -> AppTest:
    at.text_input(key="runs_view_name").input(name)
    if default:
        at.checkbox(key="runs_view_default").check()
    at.button(key="runs_view_save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def shown_ids(at: AppTest) -> set[str]:
    return set(at.dataframe[0].value["run_id"])


def test_a_saved_view_is_in_the_store_and_a_fresh_session_opens_with_the_default(two_exps):
    at = open_page("runs", exp=two_exps["ids"]["three"], q=MLP, smooth="0.5")
    save_view(at, "mlp only", default=True)
    assert any("Saved view" in s.value for s in at.success)
    saved = [v for v in views.every_view() if v.name == "mlp only"]
    assert len(saved) == 1 and saved[0].default and saved[0].params["q"] == MLP
    fresh = open_page("runs")  # a new session, a bare URL: the experiment's default view
    assert shown_ids(fresh) == set(two_exps["three"]["mlp"])
    assert fresh.text_input(key="runs_q").value == MLP
    assert fresh.slider(key="runs_ws_smooth").value == 0.5
    assert fresh.query_params["q"] == MLP


def test_a_link_naming_a_view_opens_it_and_a_view_opens_in_another_experiment(two_exps):
    views.save(two_exps["ids"]["three"], "mlp only", {"q": MLP, "sort": "-metrics.val/acc"})
    at = open_page("runs", view="mlp only")
    assert shown_ids(at) == set(two_exps["three"]["mlp"])
    at = open_page("runs", exp=two_exps["ids"]["other"], view="mlp only")  # saved in "three"
    assert shown_ids(at) == set(two_exps["other"]["mlp"])
    assert at.query_params["exp"] == two_exps["ids"]["other"]
    assert list(at.dataframe[0].value["metrics.val/acc"]) == [0.9, 0.8, 0.7]  # the view's sort


def test_picking_another_experiment_opens_its_default_view(two_exps):
    views.save(two_exps["ids"]["three"], "mlp only", {"q": MLP}, default=True)
    at = open_page("runs", exp=two_exps["ids"]["other"])
    assert at.text_input(key="runs_q").value == ""  # "other" has no default view
    at.selectbox(key="runs_exp").select(two_exps["ids"]["three"]).run()
    assert not at.exception and at.text_input(key="runs_q").value == MLP
    assert shown_ids(at) == set(two_exps["three"]["mlp"])


def test_open_from_the_picker_then_make_default_and_delete(two_exps):
    three = two_exps["ids"]["three"]
    views.save(three, "linreg", {"q": "family = linreg"})
    at = open_page("runs", exp=three)
    at.selectbox(key="runs_view").select(f"{three}/linreg").run()
    at.button(key="runs_view_go").click().run()
    assert shown_ids(at) == set(two_exps["three"]["linreg"])
    at.button(key="runs_view_default_btn").click().run()
    assert [v.default for v in views.every_view()] == [True]
    at.button(key="runs_view_delete").click().run()
    assert not at.exception and views.every_view() == []


def test_a_bad_view_name_is_refused_with_the_reason(two_exps):
    at = save_view(open_page("runs", exp=two_exps["ids"]["three"]), "<b>x</b>")
    assert any("name" in w.value for w in at.warning) and views.every_view() == []


@pytest.fixture
def team(tmp_path, monkeypatch, two_exps):
    return {**two_exps, "accounts": accounts_mode(tmp_path, monkeypatch)}


def signed_in(who, **params) -> AppTest:
    at = app_test("runs", **params).run()
    at.text_input(key="auth_name").input(who[0])
    at.text_input(key="auth_password").input(who[1])
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_viewer_opens_views_but_a_forged_save_or_delete_changes_nothing(team):
    three = team["ids"]["three"]
    views.save(three, "mlp only", {"q": MLP})
    at = signed_in(VIEWER, exp=three, view="mlp only")
    assert shown_ids(at) == set(team["three"]["mlp"])  # a viewer may use the view
    at.selectbox(key="runs_view").select(f"{three}/mlp only").run()
    assert at.button(key="runs_view_delete").disabled and at.button(key="runs_view_default_btn").disabled
    at.text_input(key="runs_view_name").input("forged")
    at.button(key="runs_view_save").click().run()  # in a popover the viewer cannot open
    assert any("Refused" in e.value for e in at.error)
    for key in ("runs_view_delete", "runs_view_default_btn"):
        button = at.button(key=key)
        button.proto.disabled = False  # what a hand-made websocket message would claim
        button.click().run()
    assert not at.exception
    assert [(v.name, v.default) for v in views.every_view()] == [("mlp only", False)]


def test_a_launcher_demoted_to_viewer_after_the_page_was_drawn_is_refused(team):
    three = team["ids"]["three"]
    views.save(three, "mlp only", {"q": MLP})
    at = signed_in(LAUNCHER, exp=three)
    at.selectbox(key="runs_view").select(f"{three}/mlp only").run()
    assert not at.button(key="runs_view_delete").disabled
    accounts.add(team["accounts"], LAUNCHER[0], "viewer", LAUNCHER[1])
    at.button(key="runs_view_delete").click().run()
    assert any("Refused" in e.value for e in at.error)
    assert [v.name for v in views.every_view()] == ["mlp only"]


def test_a_launcher_may_save(team):
    at = signed_in(LAUNCHER, exp=team["ids"]["three"], q=MLP)
    save_view(at, "lena view")
    assert [(v.name, v.params) for v in views.every_view()] == [("lena view", {"q": MLP})]


def test_views_round_trip_on_every_backend(store):
    """Experiment tags on SQLite and PostgreSQL alike: save, default, delete, a teammate's read."""
    eid = tracking.experiment_id("views", store)
    views.save(eid, "a view", {"q": MLP, "exp": "ignored", "cols": "metrics.val/acc"}, default=True)
    (view,) = views.every_view(store)
    assert (view.name, view.default, view.params) == ("a view", True, {"q": MLP, "cols": "metrics.val/acc"})
    views.delete(eid, "a view")
    assert views.every_view(store) == []
    views.delete(eid, "a view")  # a teammate deleted it first: still no error
