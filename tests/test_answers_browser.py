"""Issue 17 in a real browser: a grouped comparison opened from a share link shows the group-test
table and the param-importance chart."""

from __future__ import annotations

import re

import pytest
from browser_util import CHROMIUM, CHROMIUM_ARGS, COLD_WAIT_MS, WAIT_MS, require_chromium, streamlit_app, wait_for_rerun
from seeded_runs import write_seeds

pytestmark = pytest.mark.browser

IMPORTANCE = """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .filter(p => p.data.some(t => (t.meta || {}).role === 'importance') && p.querySelector('.main-svg'))
    .map(p => Array.from(p.data[0].y))"""


def test_a_grouped_comparison_from_a_share_link_shows_the_group_test_and_the_importance_chart(tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri()}
    ids = write_seeds(uri)
    link = f"/compare?runs={','.join(ids)}&metrics=val/loss&group=lr&sig=best"
    with streamlit_app(env, tmp_path / "streamlit.log") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
            page.goto(base + link, timeout=COLD_WAIT_MS)
            wait_for_rerun(page, COLD_WAIT_MS)  # a fresh server's first page: imports, a new store
            answers = page.get_by_test_id("stExpander").filter(has_text="Answers")
            table = answers.get_by_test_id("stDataFrame").first
            table.scroll_into_view_if_needed()
            expect(table).to_be_visible(timeout=WAIT_MS)
            # The grid draws on a canvas; its cells' text is in the accessibility table beside it.
            expect(table.locator("th", has_text="p (Welch)")).to_have_count(1, timeout=WAIT_MS)
            expect(table.locator("td", has_text=re.compile(r"^best$"))).to_have_count(1)
            page.wait_for_function(f"() => ({IMPORTANCE})().length === 1", timeout=WAIT_MS)
            (bars,) = page.evaluate(IMPORTANCE)
            assert bars[-1] == "lr"  # the longest bar, drawn on top
            chart = answers.get_by_test_id("stPlotlyChart").last
            chart.scroll_into_view_if_needed()
            expect(chart).to_be_visible()
        finally:
            browser.close()
