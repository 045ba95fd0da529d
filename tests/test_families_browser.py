"""Issue 14 (families) in a real browser: a ``gan`` run's page shows its sample grid image, and
the Compare page charts a ``gpt`` metric. Both runs are trained from the CLI, small."""

from __future__ import annotations

import pytest
from browser_util import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COLD_WAIT_MS,
    WAIT_MS,
    plotly_traces,
    require_chromium,
    streamlit_app,
    wait_for_rerun,
)
from families_util import trained_runs

from trainers import metrics

pytestmark = pytest.mark.browser


def test_gan_image_on_the_run_page_and_gpt_metric_on_compare(tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri()}
    ids = trained_runs(uri, tmp_path / "artifacts")
    with streamlit_app(env, tmp_path / "streamlit.log") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
            page.goto(f"{base}/run?run={ids['gan']}", timeout=COLD_WAIT_MS)
            wait_for_rerun(page, COLD_WAIT_MS)
            image = page.get_by_test_id("stImage").locator("img")
            expect(image).to_have_count(1, timeout=WAIT_MS)
            expect(page.get_by_text("samples/epoch_001.png").first).to_be_visible(timeout=WAIT_MS)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                   timeout=WAIT_MS)  # the PNG decoded, not a broken image

            page.goto(f"{base}/compare?runs={ids['gpt']}&metrics={metrics.VAL_PERPLEXITY}&x=step", timeout=WAIT_MS)
            wait_for_rerun(page)
            expect(page.get_by_text(metrics.VAL_PERPLEXITY).first).to_be_visible(timeout=WAIT_MS)
            traces = plotly_traces(page)
            assert any(t["y"] and all(v is not None and v > 1 for v in t["y"]) for t in traces), traces
        finally:
            browser.close()
