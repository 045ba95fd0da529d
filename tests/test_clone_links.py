"""Clone entry points under AppTest: the Run page links a Runboard-launched run to the Launch form
pre-filled from it (``/launch?clone=<id>``); a run logged by plain ``mlflow`` has no launch spec and
gets no link. The Runs table's "Clone selected" waits for exactly one selected row."""

from __future__ import annotations

import pytest
from app_util import open_page

from experiments import queue
from trainers import tracking
from trainers.spec import build_spec

pytestmark = pytest.mark.usefixtures("fresh_page_caches")


def test_run_page_links_a_launched_run_to_its_prefilled_form(store, tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOARD_RUNTIME_DIR", str(tmp_path / "runtime"))
    rid = queue.submit(build_spec("mlp", {"lr": 0.02, "hidden": 48}, run_name="original"))
    at = open_page("run", run=rid)
    (link,) = at.get("page_link")
    assert link.proto.label == "Clone"
    assert link.proto.page.endswith("launch") and link.proto.query_string == f"clone={rid}"

    # following the link: the Launch page reads the same query string and pre-fills the form
    form = open_page("launch", clone=rid)
    assert form.text_input(key=f"launch_clone-{rid}_lr").value == "0.02"


def test_run_page_of_a_plain_mlflow_run_has_no_clone_link(store):
    c = tracking.client()
    rid = c.create_run(tracking.experiment_id(), run_name="plain").info.run_id
    c.log_param(rid, "lr", "0.1")
    c.set_terminated(rid)
    at = open_page("run", run=rid)
    assert at.get("page_link") == []


def test_runs_table_clone_waits_for_one_selected_row(store, tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOARD_RUNTIME_DIR", str(tmp_path / "runtime"))
    rid = queue.submit(build_spec("mlp", {"lr": 0.02}, run_name="original"))
    at = open_page("runs")
    clone = at.button(key="runs_clone")
    assert clone.label == "Clone selected" and clone.disabled  # nothing selected yet
    # the table's rows carry the launch spec the button checks before enabling (see runs._clonable)
    from dashboard import data

    frame = data.runs()
    assert frame.set_index("run_id").at[rid, "tags.runboard.spec"]
