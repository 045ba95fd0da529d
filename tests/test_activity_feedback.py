"""Issue 21, item 5, under AppTest on a real store: Activity confirms a Stop / Cancel naming the
run, explains a stop by who asked for it (not by the signal's exception), and shows a long tail of
the run's log in a box that scrolls. The worker is off: runs stay where the test puts them.
What only a browser shows (the toast after a fragment-only rerun, "Recently ended" refreshing
without a reload) is tests/test_activity_browser.py."""

from __future__ import annotations

import pytest
import streamlit as st
from app_util import open_page
from launch_util import runtime_in_tmp  # noqa: F401 - autouse fixture: logs in the test's folder

from experiments import activity, queue
from experiments.executors.local import LocalExecutor
from trainers import run_status, run_tags, tracking
from trainers.spec import build_spec


@pytest.fixture(autouse=True)
def _fresh_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def recently_ended(at) -> list[str]:
    return [m.value for m in at.markdown if " · " in m.value]


def test_cancel_confirms_with_the_name_of_the_run(sqlite_store):
    run_id = queue.submit(build_spec("mlp", {}, run_name="nightly"))
    at = open_page("activity")
    at.button(key=f"activity_cancel_{run_id}").click().run()
    assert not at.exception
    assert [t.value for t in at.toast] == ["Cancelled “nightly”: it is off the queue."]
    assert any("Cancelled “nightly”" in s.value for s in at.success)


def test_a_cancelled_run_says_who_cancelled_it(sqlite_store):
    run_id = queue.submit(build_spec("mlp", {}, run_name="nightly"))
    queue.stop(run_id, stopped_by="lena")
    at = open_page("activity")
    [row] = [m for m in recently_ended(at) if "nightly" in m]
    assert row.endswith("killed — cancelled by lena"), row


def test_a_stopped_run_says_who_stopped_it_not_the_signal_exception(sqlite_store):
    """The trainer of a stopped run ends it with Lightning's SIGTERMException as its error."""
    run_id = queue.submit(build_spec("mlp", {}, run_name="overnight"))
    assert run_status.claim(run_id)  # RUNNING, as the worker leaves it; no process, so no signal is sent
    queue.stop(run_id, grace_s=0.01, stopped_by="lena")
    run_status.end_if_active(run_id, "KILLED", "SIGTERMException")
    at = open_page("activity")
    [row] = [m for m in recently_ended(at) if "overnight" in m]
    assert row.endswith("killed — stopped by lena") and "SIGTERM" not in row, row


def test_a_failed_run_still_shows_its_error(sqlite_store):
    run_id = queue.submit(build_spec("mlp", {}, run_name="broken"))
    assert run_status.claim(run_id)
    run_status.end_if_active(run_id, "FAILED", "RuntimeError: deliberate failure\nTraceback …")
    assert activity.recent()[0]["reason"] == "RuntimeError: deliberate failure"


def test_the_log_panel_shows_the_last_200_lines_of_the_log(sqlite_store):
    run_id = queue.submit(build_spec("mlp", {}, run_name="chatty"))
    assert run_status.claim(run_id)
    tracking.client().set_tag(run_id, run_tags.EXECUTOR, "local")
    LocalExecutor().log_path(run_id).write_text("".join(f"epoch {i}/500 · step {10 * i}\n" for i in range(1, 501)))
    at = open_page("activity")
    [log] = at.main.code  # (the sidebar holds the share link)
    lines = log.value.splitlines()
    assert len(lines) == 200 and lines[0] == "epoch 301/500 · step 3010" and lines[-1] == "epoch 500/500 · step 5000"
