"""Static export of a Compare view (issue 6, acceptance 3): one self-contained HTML file that
opens in Chromium from a file:// URL, with every network request refused, and draws the same
curves as the live page."""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import streamlit as st
from browser_util import CHROMIUM, CHROMIUM_ARGS, COLD_WAIT_MS, WAIT_MS, require_chromium, streamlit_app, wait_for_rerun
from mlflow.entities import Metric
from streamlit.testing.v1 import AppTest

from dashboard.charts import curves_figure
from dashboard.export import figures_html
from trainers import tracking

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
METRICS = ("train/loss", "val/acc")
STEPS = 40
T0 = 1_700_000_000_000  # ms


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


def plotly_copies(doc: str) -> int:
    """Copies of plotly.js in an exported file: as text, or packed (gzip + base64) in a block."""
    packed = re.findall(r'<script type="application/octet-stream" id="runboard-plotly">([^<]*)</script>', doc)
    unpacked = [gzip.decompress(base64.b64decode(p)).decode() for p in packed]
    return sum(text.count("plotly.js v") for text in [doc, *unpacked])  # the library's banner


def three_charts() -> list[go.Figure]:
    """The Compare page's charts for 3 metrics of 3 downsampled runs (1,000 buckets each)."""
    rows = []
    for metric in ("train/loss", "val/loss", "val/acc"):
        for i, rid in enumerate("abc"):
            values = np.geomspace(0.9, 0.05, 1000) + 0.01 * i
            rows.append(pd.DataFrame({"run_id": rid * 32, "metric": metric, "step": np.arange(1000) * 10,
                                      "value": values, "first": values, "min": values * 0.9, "max": values * 1.1,
                                      "n": 10, "timestamp": T0 + np.arange(1000), "epoch": np.nan}))
    curves = pd.concat(rows, ignore_index=True)
    figs = [
        curves_figure(curves[curves["metric"] == m], m, logy=m == "train/loss")
        for m in ("train/loss", "val/loss", "val/acc")
    ]
    for fig, m in zip(figs, ("train/loss", "val/loss", "val/acc")):
        fig.update_layout(title=dict(text=m), height=380)  # as the Compare page draws them
    return figs


def test_the_html_embeds_plotly_once_and_escapes_its_text():
    figs = [go.Figure(go.Scatter(x=[0, 1], y=[2, 3], name="a")), go.Figure(go.Scatter(x=[0], y=[1]))]
    doc = figures_html(figs, "Compare <script>alert(1)</script>", link="http://dash/compare?runs=a,b",
                       note="Runs: <b>x</b>")
    assert doc.startswith("<!DOCTYPE html>") and doc.count('id="runboard-figure-') == 2
    assert plotly_copies(doc) == 1  # once for the whole file, not per figure
    assert "<script>alert(1)</script>" not in doc and "&lt;b&gt;x&lt;/b&gt;" in doc
    assert 'src="http' not in doc  # nothing fetched from a CDN


def test_an_export_of_three_charts_holds_plotly_once_and_is_well_under_the_5_mb_it_was():
    doc = figures_html(three_charts(), "Compare")
    assert plotly_copies(doc) == 1
    assert len(doc.encode()) < 2.5e6  # plotly.js alone is 4.8 MB as text


def test_the_export_lays_charts_out_two_per_row_at_the_pages_height():
    doc = figures_html(three_charts(), "Compare")
    assert '<div class="charts" style="--columns:2">' in doc
    blocks = re.findall(r'class="runboard-figure" data-target="[^"]+">([^<]*)</script>', doc)
    layouts = [json.loads(gzip.decompress(base64.b64decode(b)))["layout"] for b in blocks]
    assert len(layouts) == 3 and all(lay["height"] == 380 for lay in layouts)
    assert all(lay["xaxis"]["automargin"] and lay["yaxis"]["automargin"] for lay in layouts)  # labels never clipped


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


# Every chart drawn: each has its own SVG (the file draws them one after the other).
DRAWN = """(n) => { const plots = document.querySelectorAll('.js-plotly-plot');
    return plots.length >= n && Array.from(plots).every(p => p.querySelector('.main-svg')); }"""

PLOT_DATA = """(selector) => Array.from(document.querySelectorAll(selector)).map(p => ({
    title: String((p.layout.title && p.layout.title.text) || '').replace(/<[^>]*>/g, ''),  // Streamlit bolds titles
    traces: p.data.map(t => ({name: t.name || null, run: (t.meta || {}).run_id || null,
                              x: Array.from((t.x && t.x._inputArray) || t.x || [], Number),
                              y: Array.from((t.y && t.y._inputArray) || t.y || [],
                                            v => v === null ? null : Number(v))}))}))"""


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
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= 2", timeout=WAIT_MS
        )
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
        context.route(
            lambda url: not url.startswith("file:"), lambda route: (fetched.append(route.request.url), route.abort())
        )
        offline = context.new_page()
        offline.goto(file.as_uri(), timeout=WAIT_MS)
        offline.wait_for_function(DRAWN, arg=len(METRICS), timeout=WAIT_MS)
        exported = offline.evaluate(PLOT_DATA, ".js-plotly-plot")
        browser.close()
    assert fetched == []
    assert [f["title"] for f in exported] == [f["title"] for f in live] and len(live) == len(METRICS)
    assert json.dumps([f["traces"] for f in exported]) == json.dumps([f["traces"] for f in live])
    lines = [t for f in exported for t in f["traces"] if t["run"]]
    assert {t["run"] for t in lines} == set(ids) and all(len(t["y"]) > 0 for t in lines)


TICKS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
    const svg = p.querySelector('.main-svg').getBoundingClientRect(), y = p._fullLayout.yaxis;
    return {log: y.type === 'log', range: y.range, top: svg.top, left: svg.left,
            ylabels: Array.from(p.querySelectorAll('.ytick text')).map(t => t.textContent),
            yboxes: Array.from(p.querySelectorAll('.ytick text'))
                .map(t => { const r = t.getBoundingClientRect(); return [r.top, r.bottom]; }),
            clipped: Array.from(p.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text'))
                .map(t => [t.textContent, t.getBoundingClientRect()])
                .filter(([_, r]) => r.left < svg.left || r.right > svg.right
                                    || r.top < svg.top || r.bottom > svg.bottom)
                .map(([text]) => text)};
})"""


@pytest.mark.browser
def test_the_exported_log_axis_reads_full_numbers_and_no_label_is_clipped(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    file = tmp_path / "exported.html"
    file.write_text(figures_html(three_charts(), "Compare"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        page.goto(file.as_uri(), timeout=WAIT_MS)
        page.wait_for_function(DRAWN, arg=3, timeout=WAIT_MS)
        charts = page.evaluate(TICKS)
        browser.close()
    [log] = [c for c in charts if c["log"]]
    low, high = (10 ** v for v in log["range"])
    assert log["ylabels"] and all(low <= float(t) <= high for t in log["ylabels"]), log  # "0.3", never "3"
    boxes = sorted(log["yboxes"])
    assert all(upper[1] <= lower[0] + 1 for upper, lower in zip(boxes, boxes[1:])), log  # no label over another
    assert all(c["clipped"] == [] for c in charts), charts
    assert (
        charts[0]["top"] == charts[1]["top"] < charts[2]["top"] and charts[0]["left"] < charts[1]["left"]
    )  # two per row
