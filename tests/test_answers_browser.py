"""Issue 17 in a real browser: a grouped comparison opened from a share link shows the group-test
table and the param-importance chart."""

from __future__ import annotations

import re

import pytest
from mlflow.entities import Metric, Param

from browser_util import (CHROMIUM, CHROMIUM_ARGS, COLD_WAIT_MS, WAIT_MS, require_chromium, streamlit_app,
                          wait_for_rerun)
from trainers import tracking

pytestmark = pytest.mark.browser
# Two configurations × four seeds: lr=0.1 reaches a clearly lower val/loss than lr=0.01.
LOSS = {("0.1", 0): 0.20, ("0.1", 1): 0.22, ("0.1", 2): 0.21, ("0.1", 3): 0.19,
        ("0.01", 0): 0.40, ("0.01", 1): 0.43, ("0.01", 2): 0.41, ("0.01", 3): 0.42}

IMPORTANCE = """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .filter(p => p.data.some(t => (t.meta || {}).role === 'importance') && p.querySelector('.main-svg'))
    .map(p => Array.from(p.data[0].y))"""


def write_seeds(uri: str) -> list[str]:
    c = tracking.client(uri)
    eid = tracking.experiment_id("answers", uri)
    ids = []
    for (lr, seed), loss in LOSS.items():
        rid = c.create_run(eid, run_name=f"lr{lr}-s{seed}").info.run_id
        c.log_batch(rid, metrics=[Metric("val/loss", loss + 0.1, 0, 0), Metric("val/loss", loss, 0, 1)],
                    params=[Param("lr", lr), Param("seed", str(seed))])
        c.set_terminated(rid)
        ids.append(rid)
    return ids


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
