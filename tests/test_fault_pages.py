"""Issue 15 item 5: the pages tell the truth about faults. A run whose points are incomplete (or
being recovered) carries a badge and a notice on the Run and Compare pages; a store that is down
shows one clear message on every page, no traceback, and the pages come back once it is up."""

from __future__ import annotations

import pytest
import streamlit as st
from app_util import app_test, open_page
from mlflow import MlflowClient
from pg_private import private_pg  # noqa: F401 - a fixture

from trainers import run_tags as T
from trainers import tracking

PAGES = ("runs", "compare", "run", "launch", "activity")
pytestmark = pytest.mark.usefixtures("fresh_page_caches")


def _runs(client: MlflowClient) -> dict[str, str]:
    exp = client.create_experiment("faults")
    ids = {}
    for name, tags in {"short": {T.POINTS_NOT_WRITTEN: "264", T.ERROR: "264 points not written: disk full"},
                       "mending": {T.POINTS_NOT_WRITTEN: T.RECOVERING}, "whole": {}}.items():
        run = client.create_run(exp, run_name=name, tags=tags)
        client.log_metric(run.info.run_id, "train/loss", 1.0, step=0)
        client.set_terminated(run.info.run_id, "FAILED" if name == "short" else "FINISHED")
        ids[name] = run.info.run_id
    return ids


def _texts(at) -> str:
    text = " ".join(str(el.value) for kind in ("warning", "markdown", "error") for el in at.get(kind))
    return text.replace("\\", "")  # notices are markdown-escaped


def test_run_and_compare_pages_mark_runs_whose_points_are_incomplete(sqlite_store):
    ids = _runs(MlflowClient(tracking_uri=sqlite_store))
    short = _texts(open_page("run", run=ids["short"]))
    assert "264 points missing" in short and "264 points not written: disk full" in short
    assert f"trainers.recover {ids['short']}" in short
    assert "being recovered" in _texts(open_page("run", run=ids["mending"]))
    whole = open_page("run", run=ids["whole"])
    assert "missing" not in _texts(whole) and not whole.warning
    compare = _texts(open_page("compare", runs=",".join(ids.values())))
    assert "Incomplete runs" in compare and "short (264 points missing)" in compare
    assert "mending (points being recovered)" in compare and "whole (" not in compare


def test_a_store_that_is_down_shows_one_message_on_every_page_and_they_come_back(private_pg, monkeypatch, tmp_path):
    tracking.prepare_store(private_pg.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", private_pg.uri)
    monkeypatch.setenv("RUNBOARD_ARTIFACT_ROOT", (tmp_path / "artifacts").as_uri())
    ids = _runs(MlflowClient(tracking_uri=private_pg.uri))
    params = {"compare": {"runs": ids["short"]}, "run": {"run": ids["short"]}}
    private_pg.stop()
    for page in PAGES:
        at = app_test(page, **params.get(page, {})).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        down = [e.value for e in at.error]
        assert len(down) == 1 and "tracking store is unreachable" in down[0], (page, down)
    private_pg.start()
    st.cache_data.clear()
    for page in PAGES:
        at = app_test(page, **params.get(page, {})).run()
        assert not at.exception and not at.error, (page, [e.value for e in at.error])
