"""Issue 21 item 2: "Started" and "Duration" are training's, not the run's creation (queue wait
is shown apart), in the data layer, the runs table and the Run page."""

from __future__ import annotations

import streamlit as st
from app_util import open_page

from dashboard import data
from trainers import run_tags as T
from trainers import tracking

CREATED_MS = 1_700_000_000_000
QUEUED_S, TRAINED_S = 60, 10


def _queued_run() -> str:
    """A run created, then waiting 60 s in the queue, then training 10 s."""
    client = tracking.client()
    rid = client.create_run(tracking.experiment_id("times"), start_time=CREATED_MS, run_name="queued").info.run_id
    client.set_tag(rid, T.PROGRESS_STARTED, f"{CREATED_MS / 1000 + QUEUED_S:.0f}")
    client.set_terminated(rid, "FINISHED", end_time=CREATED_MS + (QUEUED_S + TRAINED_S) * 1000)
    return rid


def test_duration_counts_training_and_queue_wait_is_apart(store):
    rid = _queued_run()
    row = data.runs().set_index("run_id").loc[rid]
    assert row["duration_s"] == TRAINED_S
    assert row["queue_wait_s"] == QUEUED_S
    assert row["start_time"].timestamp() == CREATED_MS / 1000 + QUEUED_S
    assert row["queued_time"].timestamp() == CREATED_MS / 1000
    one = data.run(rid)
    assert (one["duration_s"], one["queue_wait_s"]) == (TRAINED_S, QUEUED_S)


def test_run_without_training_start_tag_keeps_creation(sqlite_store):
    client = tracking.client()
    rid = client.create_run(tracking.experiment_id("times"), start_time=CREATED_MS).info.run_id
    client.set_terminated(rid, "FINISHED", end_time=CREATED_MS + 5000)
    row = data.runs().set_index("run_id").loc[rid]
    assert (row["duration_s"], row["queue_wait_s"]) == (5, 0)


def test_run_page_shows_queued_started_and_training_duration(sqlite_store):
    rid = _queued_run()
    st.cache_data.clear()
    at = open_page("run", run=rid)
    shown = {m.label: m for m in at.metric}
    assert shown["Duration"].value == "0:10"
    assert "Queued" in shown and shown["Queued"].value != "—"
    assert "1:00" in str(shown["Started"].proto.delta)


def test_run_page_of_a_just_launched_run_follows_it(sqlite_store):
    """Item 4 (partly): a SCHEDULED run's page is live (its status shows) and picks up the first points."""
    from mlflow.entities import Metric, RunStatus

    client = tracking.client()
    rid = client.create_run(tracking.experiment_id("times"), run_name="fresh").info.run_id
    client._tracking_client.store.update_run_info(rid, RunStatus.SCHEDULED, None, None)  # as the queue does
    st.cache_data.clear()
    at = open_page("run", run=rid)
    assert any("no metrics yet" in i.value for i in at.info)
    client.log_batch(rid, metrics=[Metric("train/loss", 1.0, 0, 0)])
    st.cache_data.clear()
    at.run()
    assert not at.exception and not any("no metrics yet" in i.value for i in at.info)
