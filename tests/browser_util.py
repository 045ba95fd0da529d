"""Real-browser helpers: the app under test on a free local port, Debian's Chromium, and the
wait-for-rerun recipe from Streamlit's own end-to-end suite (shared TESTING.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium floods a closed network with refused connections.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000  # a cold first render takes 3–8 s here
COLD_WAIT_MS = 180_000  # a fresh server imports torch and Lightning: >30 s on a busy shared machine
ROW_PX = 35  # st.dataframe's default row (and header) height


def require_chromium() -> None:
    """Skip without a browser on a developer's machine; CI must have one."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is required in CI (scripts/setup.sh --browser installs it)")
    pytest.skip(f"no {CHROMIUM}: install Debian's chromium (scripts/setup.sh --browser) to run this")


@contextmanager
def chromium():
    """Debian's Chromium under Playwright, headless, closed on the way out."""
    from playwright.sync_api import sync_playwright  # only the browser tests need Playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_view(browser, url: str, height: int = 1400):
    """(context, page): a fresh browser context (no session) at ``url``, once the page is drawn."""
    context = browser.new_context(viewport={"width": 1280, "height": height})
    page = context.new_page()
    page.goto(url, timeout=WAIT_MS)
    wait_for_rerun(page)
    return context, page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(env: dict[str, str], log_path: Path, port: int | None = None):
    """Start ``dashboard/app.py`` on 127.0.0.1 and ``port`` (default: a free one); yield its base URL."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(log_path, "wb") as log:  # a file, not a PIPE: an unread pipe can block the server
        proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log_path)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # only the group started here
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_healthy(base: str, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"streamlit not healthy after {timeout} s:\n{log_path.read_text()[-3000:]}")


def wait_for_rerun(page, timeout_ms: int = WAIT_MS) -> None:
    """Until the script run that the last action started has finished and drawn."""
    from playwright.sync_api import expect

    page.wait_for_timeout(210)  # right after an action the app can still read the last "notRunning"
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)


def click_to_url(page, target, url, tries: int = 3) -> None:
    """Click ``target`` until the page's URL matches ``url`` (a pattern). A click that lands while
    a live page redraws (a fragment's rerun, the full rerun when a run ends) is lost; only a lost
    click is repeated, and the page is then drawn at its new URL."""
    from playwright.sync_api import expect

    target.wait_for(timeout=WAIT_MS)
    for _ in range(tries):
        if target.is_visible():  # gone: the page is already on its way to the new URL
            target.click(timeout=WAIT_MS)
        try:
            expect(page).to_have_url(url, timeout=15_000)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"clicking {target} did not open {url.pattern} (still at {page.url})")
    wait_for_rerun(page)


def plotly_traces(page, index: int = 0) -> list[dict]:
    """The traces Plotly drew in the ``index``-th chart: meta, type and y values (numeric arrays
    arrive base64-packed as ``{dtype, bdata}``; Plotly keeps the decoded array in ``_inputArray``)."""
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=WAIT_MS)
    return page.evaluate(
        """(i) => {
            const plots = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
            return plots[i].data.map(t => ({meta: t.meta || null, type: t.type,
                                            y: Array.from((t.y && t.y._inputArray) || t.y || [],
                                                          v => (v === null ? null : Number(v)))}));
        }""",
        index,
    )


def select_row(page, grid: dict, row: int) -> None:
    """Tick one more row. A click that lands while the grid redraws is lost; the button label
    ("Compare selected (n)") tells whether it counted, so only a lost click is repeated."""
    from playwright.sync_api import expect

    before = page.get_by_role("button", name=f"Compare selected ({row})")
    after = page.get_by_role("button", name=f"Compare selected ({row + 1})")
    for _ in range(3):
        page.mouse.click(grid["x"] + 16, grid["y"] + ROW_PX * (row + 1) + ROW_PX / 2)
        wait_for_rerun(page)
        try:
            expect(after).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            expect(before).to_be_visible(timeout=WAIT_MS)  # not counted: click again
    raise AssertionError(f"row {row} could not be selected")
