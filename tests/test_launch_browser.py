"""Issue 5, acceptance 2, in a real browser (Playwright + Chromium) over a real app with its queue
worker on: fill the generated form and launch a 2-epoch "tiny" run, watch its progress bar advance
on Activity and its curve grow live on the Run page, see it end FINISHED; clone it with another
learning rate and launch; Compare draws both. Then Stop a long run from Activity: it ends KILLED
with its points kept. Every wait is for a state (page text, store status), never a fixed sleep.
Both run once per executor: local processes, and Ray jobs on the session's local Ray head (issue 7)."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from browser_util import (
    REPO,
    WAIT_MS,
    chromium,
    click_to_url,
    plotly_traces,
    require_chromium,
    select_row,
    streamlit_app,
    wait_for_rerun,
)
from launch_util import kill_trainers

from trainers import tracking

pytestmark = pytest.mark.browser
RUN_TIMEOUT_S = 120  # a trainer's cold start (torch, Lightning) plus its training, generous
STEP_SLEEP = 0.5  # s per step: 64 steps over 2 epochs, ~30 s to watch the bar and the curve move
STOP_GRACE_S = 30  # the Activity page's Stop: SIGKILL after this if the trainer has not stopped
RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")


@pytest.fixture(scope="module", params=["local", "ray"])
def app(request, tmp_path_factory, sqlite_template):
    """(base URL, store URI, browser, executor): one server with the queue worker on, over a fresh
    store, launching to local processes or to the session's Ray head."""
    require_chromium()
    executor = request.param

    root = tmp_path_factory.mktemp("launch-browser")
    shutil.copyfile(sqlite_template, root / "mlflow.db")  # migrated once, before any writer starts
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri(),
           "RUNBOARD_RUNTIME_DIR": str(root / "runtime"), "RUNBOARD_WORKER": "thread",
           "RUNBOARD_FAMILIES": "tiny_family", "PYTHONPATH": f"{REPO}:{REPO / 'tests'}", "RUNBOARD_EXECUTOR": executor}
    if executor == "ray":
        env["RAY_ADDRESS"] = request.getfixturevalue("ray_head")  # skips (fails in CI) without ray
    try:
        with streamlit_app(env, root / "streamlit.log") as base, chromium() as browser:
            yield base, uri, browser, executor
    finally:
        kill_trainers(uri)  # trainers run in their own process groups: they outlive the server


def new_page(browser, url: str, live: bool = False):
    """A page at ``url`` once drawn. ``live``: a page whose fragment reruns every few seconds (Activity,
    a running run's page) may never be idle on a loaded machine: wait for it to be drawn, not idle."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    page.goto(url, timeout=WAIT_MS)
    if not live:
        wait_for_rerun(page)
        return page
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=WAIT_MS)
    expect(page.get_by_role("heading").first).to_be_visible(timeout=WAIT_MS)
    return page


def status(uri: str, run_id: str) -> str:
    return tracking.client(uri).get_run(run_id).info.status


def wait_for(predicate, timeout: float, message: str, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(every)
    return value


def set_field(page, label: str, value: str) -> None:
    """Text inputs (numbers are text on the Launch form) commit on blur: fill, Tab, wait."""
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")
    wait_for_rerun(page)


def launch(page) -> str:
    """Click Launch; the run id from the confirmation ("Queued `<id>` …")."""
    page.get_by_role("button", name="Launch", exact=True).click()
    wait_for_rerun(page)
    success = page.get_by_test_id("stAlertContentSuccess")
    success.wait_for(timeout=WAIT_MS)
    return RUN_ID.search(success.inner_text()).group(0)


def activity_row(page, name: str, holding: str):
    """The innermost block of the run's Activity row that holds both its name and ``holding``
    (a test id): blocks nest, and ancestors come first in document order."""
    return (page.get_by_test_id("stVerticalBlock").filter(has_text=name)
            .filter(has=page.get_by_test_id(holding)).last)


def progress_steps(page, name: str) -> int | None:
    """The step on the run's Activity progress bar, or None while it has none (queued, starting)."""
    bar = activity_row(page, name, "stProgress").get_by_test_id("stProgress")
    try:
        text = bar.inner_text(timeout=500) if bar.count() else ""
    except Exception:  # noqa: BLE001 - the fragment redrew the row between count() and reading it
        return None
    m = re.search(r"step (\d+)/(\d+)", text)
    return int(m.group(1)) if m else None


def chart_points(page, title: str) -> int | None:
    """Points in the Run page's chart titled ``title`` (None until Plotly drew it)."""
    return page.evaluate(
        """(title) => {
            for (const p of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
                const t = p.layout && p.layout.title;
                const text = String((t && t.text) || t || '').replace(/<[^>]*>/g, '');  // titles are bold
                if (text === title)  // y arrives base64-packed ({dtype, bdata}); Plotly keeps the decoded array
                    return p.data.filter(d => (d.meta || {}).role === 'line')
                                 .reduce((n, d) => n + (d.y ? (d.y._inputArray || d.y).length || 0 : 0), 0);
            }
            return null;
        }""",
        title,
    )


def test_launch_watch_it_finish_clone_it_and_compare(app):
    from playwright.sync_api import expect

    base, uri, browser, executor = app
    client = tracking.client(uri)

    # 1. the generated form of a user-registered family; launch a 2-epoch run
    form = new_page(browser, base + "/launch?family=tiny")
    set_field(form, "max_epochs", "2")
    set_field(form, "step_sleep", str(STEP_SLEEP))
    set_field(form, "name", "browser-first")
    first = launch(form)
    # the Run page opened at once, before the run has a point: it must follow the run as it trains
    run_page = new_page(browser, f"{base}/run?run={first}", live=True)
    run = client.get_run(first)
    assert run.data.params["max_epochs"] == "2" and run.data.params["lr"] == "0.05"

    # 2. Activity: the row appears and its progress bar advances while the run trains
    activity = new_page(browser, base + "/activity", live=True)
    expect(activity.get_by_text(re.compile(r"browser-first · tiny · (scheduled|running)"))).to_be_visible(
        timeout=WAIT_MS)
    seen: list[int] = []

    def observe_progress() -> None:
        step = progress_steps(activity, "browser-first")
        if step is not None and (not seen or step != seen[-1]):
            seen.append(step)

    def training() -> bool:  # a first step on the bar, and the first points in the store
        observe_progress()
        return bool(seen) and bool(client.get_metric_history(first, "train/loss"))

    wait_for(training, RUN_TIMEOUT_S, "the first run to train and log", every=0.5)
    assert status(uri, first) == "RUNNING", "the run ended before the test could watch it: raise STEP_SLEEP"
    live_points: list[int] = []

    def watch() -> bool:
        observe_progress()
        if status(uri, first) == "RUNNING":
            n = chart_points(run_page, "train/loss")
            if n and (not live_points or n != live_points[-1]):
                live_points.append(n)
        return status(uri, first) in ("FINISHED", "FAILED", "KILLED")

    wait_for(watch, RUN_TIMEOUT_S, "the first run to end", every=0.5)
    assert status(uri, first) == "FINISHED", client.get_run(first).data.tags.get("runboard.error")
    assert client.get_run(first).data.tags["runboard.executor"] == executor
    assert len(seen) >= 2 and seen == sorted(seen), f"progress bar did not advance: {seen}"
    assert len(live_points) >= 2 and live_points == sorted(live_points), \
        f"Run page curve did not grow live: {live_points}"
    activity.reload()  # the expectation below waits for the row (a live page need not be idle)
    expect(activity.get_by_text(re.compile(r"browser-first.*finished"))).to_be_visible(timeout=WAIT_MS)
    expect(run_page.get_by_test_id("stMetric").filter(has_text="Status")).to_contain_text(
        "Finished", timeout=WAIT_MS)  # the live page redrew itself once the run ended

    # 3. clone it with another learning rate (the Run page's Clone link opens the pre-filled form)
    click_to_url(run_page, run_page.get_by_role("link", name=re.compile("Clone")),
                 re.compile(rf"/launch\?clone={first}$"))
    clone_form = run_page
    expect(clone_form.get_by_label("lr", exact=True)).to_have_value("0.05")
    expect(clone_form.get_by_label("max_epochs", exact=True)).to_have_value("2")
    set_field(clone_form, "lr", "0.01")
    set_field(clone_form, "step_sleep", "0.05")  # nothing to watch on the clone: let it run fast
    set_field(clone_form, "name", "browser-clone")
    second = launch(clone_form)
    assert second != first
    wait_for(lambda: status(uri, second) in ("FINISHED", "FAILED", "KILLED"), RUN_TIMEOUT_S, "the clone to end")
    clone = client.get_run(second)
    assert clone.info.status == "FINISHED", clone.data.tags.get("runboard.error")
    assert clone.data.params["lr"] == "0.01" and clone.data.params["max_epochs"] == "2"
    assert clone.data.params["step_sleep"] == "0.05"
    assert clone.data.tags["runboard.cloned_from"] == first

    # 4. Compare shows both
    compare = new_page(browser, f"{base}/compare?runs={first},{second}&metrics=train/loss")
    lines = [t for t in plotly_traces(compare) if (t["meta"] or {}).get("role") == "line"]
    assert sorted(t["meta"]["run_id"] for t in lines) == sorted([first, second])
    assert all(len(t["y"]) > 0 for t in lines)

    # 5. the Runs table's "Clone selected" opens the same pre-filled form for the ticked row
    runs = new_page(browser, base + "/")
    expect(runs.get_by_role("button", name="Clone selected")).to_be_disabled()
    grid = runs.get_by_test_id("stDataFrame").first.bounding_box()
    select_row(runs, grid, 0)  # the grid is a canvas: the first row's tick box, by position
    click_to_url(runs, runs.get_by_role("button", name="Clone selected"),
                 re.compile(rf"/launch\?clone=({first}|{second})$"))
    picked = runs.url.rsplit("=", 1)[1]
    expect(runs.get_by_label("lr", exact=True)).to_have_value(client.get_run(picked).data.params["lr"])


def test_stop_a_long_run_from_activity_keeps_its_points(app):
    from playwright.sync_api import expect

    base, uri, browser, executor = app
    client = tracking.client(uri)
    form = new_page(browser, base + "/launch?family=tiny")
    set_field(form, "max_epochs", "1000")
    set_field(form, "step_sleep", "0.05")
    set_field(form, "name", "browser-long")
    long_id = launch(form)

    activity = new_page(browser, base + "/activity", live=True)
    wait_for(lambda: (progress_steps(activity, "browser-long") or 0) > 0, RUN_TIMEOUT_S,
             "the long run to train a few steps")
    wait_for(lambda: len(client.get_metric_history(long_id, "train/loss")) > 0, 30, "its first points")
    activity_row(activity, "browser-long", "stButton").get_by_role("button", name="Stop").click()
    clicked = time.monotonic()
    # no wait for the rerun to settle: the page's auto-refresh fragment may keep the script running
    wait_for(lambda: activity_row(activity, "browser-long", "stProgress").get_by_text("stopping").count()
             or status(uri, long_id) != "RUNNING", WAIT_MS / 1000, "the row to say stopping")
    wait_for(lambda: status(uri, long_id) in ("FINISHED", "FAILED", "KILLED"), RUN_TIMEOUT_S, "the stop")
    took = time.monotonic() - clicked
    assert status(uri, long_id) == "KILLED", client.get_run(long_id).data.tags.get("runboard.error")
    assert client.get_run(long_id).data.tags["runboard.executor"] == executor
    assert took < STOP_GRACE_S, f"stopped after {took:.1f} s: forced, not between steps"
    steps = sorted(p.step for p in client.get_metric_history(long_id, "train/loss"))
    assert steps and steps == list(range(len(steps)))  # every logged point kept, none missing
    activity.reload()  # the expectation below waits for the row (a live page need not be idle)
    expect(activity.get_by_text(re.compile(r"browser-long.*killed"))).to_be_visible(timeout=WAIT_MS)
