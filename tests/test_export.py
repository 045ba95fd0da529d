"""Static export of a Compare view (issue 6, acceptance 3): one self-contained HTML file that
opens in Chromium from a file:// URL, with every network request refused, and draws the same
curves as the live page."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import plotly.graph_objects as go
import pytest
import streamlit as st
from mlflow.entities import Metric
from streamlit.testing.v1 import AppTest

from browser_util import CHROMIUM, CHROMIUM_ARGS, COLD_WAIT_MS, WAIT_MS, require_chromium, streamlit_app, wait_for_rerun
from dashboard.export import figures_html
from trainers import tracking

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
METRICS = ("train/loss", "val/acc")
STEPS = 40


def write_runs(uri: str | None = None) -> list[str]:
    """Two finished runs with two curves each, written by plain MlflowClient calls."""
    client, ids, t0 = tracking.client(uri), [], int(time.time() * 1000)
    eid = tracking.experiment_id("export", uri)
    for i in range(2):
        rid = client.create_run(eid, run_name=f"<b>run-{i}</b>").info.run_id
        points = [Metric("train/loss", 1.0 / (s + 1) + 0.1 * i, t0 + s, s) for s in range(STEPS)]
        points += [Metric("val/acc", 0.5 + s / (3 * STEPS) + 0.01 * i, t0 + s, s) for s in range(0, STEPS, 4)]
        client.log_batch(rid, metrics=points)
        client.set_terminated(rid)
        ids.append(rid)
    return ids


def test_the_html_embeds_plotly_once_and_escapes_its_text():
    figs = [go.Figure(go.Scatter(x=[0, 1], y=[2, 3], name="a")), go.Figure(go.Scatter(x=[0], y=[1]))]
    doc = figures_html(figs, "Compare <script>alert(1)</script>", link="http://dash/compare?runs=a,b",
                       note="Runs: <b>x</b>")
    assert doc.startswith("<!DOCTYPE html>") and doc.count('id="runboard-figure-') == 2
    assert doc.count("plotly.js v") == 1  # the library's banner: inlined once, not per figure
    assert "<script>alert(1)</script>" not in doc and "&lt;b&gt;x&lt;/b&gt;" in doc
    assert 'src="http' not in doc  # nothing fetched from a CDN


def test_compare_offers_the_download(sqlite_store):
    ids = write_runs()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"], at.query_params["metrics"] = ",".join(ids), ",".join(METRICS)
    at.run()
    assert not at.exception
    [button] = at.get("download_button")
    assert button.proto.label == "Download charts as HTML"


PLOT_DATA = """(selector) => Array.from(document.querySelectorAll(selector)).map(p => ({
    title: String((p.layout.title && p.layout.title.text) || '').replace(/<[^>]*>/g, ''),  // Streamlit bolds titles
    traces: p.data.map(t => ({name: t.name || null, run: (t.meta || {}).run_id || null,
                              x: Array.from((t.x && t.x._inputArray) || t.x || [], Number),
                              y: Array.from((t.y && t.y._inputArray) || t.y || [], v => v === null ? null : Number(v))}))}))"""


@pytest.mark.browser
def test_the_exported_file_opens_offline_and_draws_the_same_curves(tmp_path, sqlite_template):
    require_chromium()
    from playwright.sync_api import sync_playwright

    shutil.copyfile(sqlite_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ids = write_runs(uri)
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri(),
           "RUNBOARD_RUNTIME_DIR": str(tmp_path / "runtime"), "RUNBOARD_WORKER": "off", "RUNBOARD_AUTH": "off"}
    file = tmp_path / "exported.html"
    with streamlit_app(env, tmp_path / "streamlit.log") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True).new_page()
        page.goto(f"{base}/compare?runs={','.join(ids)}&metrics={','.join(METRICS)}", timeout=WAIT_MS)
        wait_for_rerun(page, COLD_WAIT_MS)
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= 2",
                               timeout=WAIT_MS)
        live = page.evaluate(PLOT_DATA, '[data-testid="stPlotlyChart"] .js-plotly-plot')
        with page.expect_download(timeout=WAIT_MS) as download:
            page.get_by_role("button", name="Download charts as HTML").click()
        download.value.save_as(file)
        browser.close()
    # The server is gone; the file is opened with every non-file request refused.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1400})
        fetched: list[str] = []
        context.route(lambda url: not url.startswith("file:"), lambda route: (fetched.append(route.request.url), route.abort()))
        offline = context.new_page()
        offline.goto(file.as_uri(), timeout=WAIT_MS)
        offline.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=WAIT_MS)
        exported = offline.evaluate(PLOT_DATA, ".js-plotly-plot")
        browser.close()
    assert fetched == []
    assert [f["title"] for f in exported] == [f["title"] for f in live] and len(live) == len(METRICS)
    assert json.dumps([f["traces"] for f in exported]) == json.dumps([f["traces"] for f in live])
    lines = [t for f in exported for t in f["traces"] if t["run"]]
    assert {t["run"] for t in lines} == set(ids) and all(len(t["y"]) > 0 for t in lines)
