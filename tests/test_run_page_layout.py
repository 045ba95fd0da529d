"""The Run page of a launched run (issue 18): the launcher as its user, params and the confusion
matrix above the curves, and the epoch counter never charted as a metric."""

from __future__ import annotations

import time

import streamlit as st
import tiny_family  # noqa: F401 - registers the "tiny" family in this process (AppTest runs here)
from app_util import figures, open_page
from mlflow.entities import Metric

from experiments import queue
from trainers import tracking
from trainers.metrics import EPOCH, TRAIN_LOSS
from trainers.spec import build_spec


def _kinds_in_order(node, out: list[str]) -> list[str]:
    """Element types of the page in drawing order (tabs' contents included)."""
    children = getattr(node, "children", None)
    if children:
        for key in sorted(children):
            _kinds_in_order(children[key], out)
    else:
        out.append(node.type)
    return out


def test_a_launched_run_names_its_launcher_and_shows_params_before_its_curves(sqlite_store):
    st.cache_data.clear()
    rid = queue.submit(build_spec("tiny", {}, run_name="launched"), launched_by="lena")
    client, t0 = tracking.client(), int(time.time() * 1000)
    client.log_batch(rid, metrics=[Metric(k, float(s), t0 + s, s) for k in (TRAIN_LOSS, EPOCH) for s in range(5)])
    client.set_terminated(rid)
    at = open_page("run", run=rid)
    assert [m.value for m in at.metric if m.label == "User"] == ["lena"]
    kinds = _kinds_in_order(at._tree, [])
    assert kinds.index("dataframe") < kinds.index("plotly_chart")  # params above the curves
    assert at.dataframe[0].value.set_index("key").index.size > 0
    titles = {(f["layout"].get("title") or {}).get("text") for f in figures(at)}
    assert TRAIN_LOSS in titles and EPOCH not in titles
