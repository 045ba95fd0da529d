"""Acceptance 2 in a real browser: a share link reproduces a comparison, a widget change
rewrites the link, and the new link reproduces the changed view in a fresh browser context."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from browser_util import (
    WAIT_MS,
    chromium,
    open_view,
    plotly_traces,
    require_chromium,
    select_row,
    streamlit_app,
    wait_for_rerun,
)

from trainers import tracking

pytestmark = pytest.mark.browser
STEPS = 50


def write_three_runs(uri: str) -> list[str]:
    """Three finished runs, plain MlflowClient calls: ``train/loss`` over 50 steps, ``epoch``."""
    from mlflow.entities import Metric

    client = tracking.client(uri)
    eid = tracking.experiment_id("browser", uri)
    ids, t0 = [], int(time.time() * 1000)
    for i in range(3):
        rid = client.create_run(eid, run_name=f"run-{i}").info.run_id
        client.log_param(rid, "lr", str(0.1 / (i + 1)))
        points = [Metric("train/loss", 1.0 / (s + 1) + 0.1 * i + 0.05 * (s % 3), t0 + s, s) for s in range(STEPS)]
        points += [Metric("epoch", float(s // 10), t0 + s, s) for s in range(STEPS)]
        client.log_batch(rid, metrics=points)
        client.set_terminated(rid)
        ids.append(rid)
    return ids


def smoothing_slider(page):
    return (page.get_by_test_id("stSlider").filter(has_text="Smoothing")
            .get_by_role("slider"))


def line_traces(page) -> list[dict]:
    return [t for t in plotly_traces(page) if (t["meta"] or {}).get("role") == "line"]



@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(base URL, run ids, browser): one server over a 3-run store for this module's tests."""
    require_chromium()

    root = tmp_path_factory.mktemp("browser")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri()}
    ids = write_three_runs(uri)
    with streamlit_app(env, root / "streamlit.log") as base, chromium() as browser:
        yield base, ids, browser


def test_share_link_reproduces_a_comparison_and_follows_changes(app):
    from playwright.sync_api import expect

    base, ids, browser = app
    link = f"/compare?runs={','.join(ids)}&metrics=train/loss&x=step&smooth=0.5"
    first, page = open_view(browser, base + link)
    lines = line_traces(page)
    assert sorted(t["meta"]["run_id"] for t in lines) == sorted(ids)  # one line per run
    assert {t["meta"]["role"] for t in plotly_traces(page)} == {"line", "raw"}  # smoothed
    expect(smoothing_slider(page)).to_have_value("0.5")

    slider = smoothing_slider(page)
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    expect(slider).not_to_have_value("0.5", timeout=WAIT_MS)
    wait_for_rerun(page)
    page.wait_for_timeout(500)  # the slider commits its last key press after a short debounce
    wait_for_rerun(page)
    value = slider.input_value()
    assert float(value) > 0.5
    expect(page).to_have_url(re.compile(rf"smooth={re.escape(value)}(&|$)"), timeout=WAIT_MS)
    changed = page.url
    smoothed = [t["y"] for t in line_traces(page)]
    first.close()

    second, fresh = open_view(browser, changed)
    expect(smoothing_slider(fresh)).to_have_value(value)
    again = line_traces(fresh)
    assert sorted(t["meta"]["run_id"] for t in again) == sorted(ids)
    assert [t["y"] for t in again] == smoothed  # the same curves, smoothed the same way
    assert fresh.url == changed  # the page did not rewrite the link it was opened with
    second.close()


def test_selected_rows_open_their_comparison(app):
    base, ids, browser = app
    context, page = open_view(browser, base + "/")
    grid = page.get_by_test_id("stDataFrame").first.bounding_box()
    for row in (0, 1):  # the grid is a canvas: click the row-selection checkboxes by position
        select_row(page, grid, row)
    page.get_by_role("button", name="Compare selected (2)").click()
    wait_for_rerun(page)
    page.wait_for_url(re.compile(r"/compare\?"), timeout=WAIT_MS)
    picked = parse_qs(urlparse(page.url).query)["runs"][0].split(",")
    assert len(picked) == 2 and set(picked) <= set(ids)
    assert sorted(t["meta"]["run_id"] for t in line_traces(page)) == sorted(picked)
    context.close()
