"""Share links for the rest of a view: the step-range zoom (Compare and Run pages), the explorer's
metric / params and the params table's "differences only" — set by the link, written back when a
widget changes, and a bad value in the link is a notice, never a traceback."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from app_util import curve_figures, figures, open_page, texts
from plain_store import LONG_POINTS

from trainers import tracking

pytestmark = pytest.mark.usefixtures("fresh_page_caches")


def _array(value) -> np.ndarray:
    """A trace's x or y: Plotly ships numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def _line(fig: dict) -> dict:
    (line,) = [t for t in fig["data"] if (t.get("meta") or {}).get("role") == "line"]
    return line


def _roles(fig: dict) -> set[str]:
    return {(t.get("meta") or {}).get("role") for t in fig["data"]}


# ---- zoom ----

def test_zoom_link_reads_every_point_of_the_range(plain):
    at = open_page("compare", runs=plain["long"], metrics="train/loss", steps="1000:1499")
    (fig,) = curve_figures(at)
    assert _array(_line(fig)["x"]).tolist() == list(range(1000, 1500))  # all 500, not downsampled
    assert "band" not in _roles(fig)
    assert "Showing 500 of 500 points in steps 1,000–1,499" in texts(at, "caption")
    assert (at.number_input(key="cmp_lo").value, at.number_input(key="cmp_hi").value) == (1000, 1499)
    assert at.query_params["steps"] == "1000:1499"


def test_changing_the_zoom_rewrites_the_link_and_reset_shows_every_step(plain):
    at = open_page("compare", runs=plain["long"], metrics="train/loss")
    assert "steps" not in at.query_params
    at.number_input(key="cmp_lo").set_value(50_000).run()
    at.number_input(key="cmp_hi").set_value(50_099).run()
    assert at.query_params["steps"] == "50000:50099"
    assert _array(_line(curve_figures(at)[0])["x"]).tolist() == list(range(50_000, 50_100))
    at.button(key="cmp_unzoom").click().run()
    assert "steps" not in at.query_params
    assert f"of {LONG_POINTS:,} points" in texts(at, "caption")


def test_open_ended_zoom_is_still_downsampled_when_long(plain):
    at = open_page("compare", runs=plain["long"], metrics="train/loss", steps="60000:")
    assert "of 40,000 points in steps 60,000–last" in texts(at, "caption")
    assert _array(_line(curve_figures(at)[0])["x"]).min() >= 60_000


@pytest.mark.parametrize("bad", ["<script>alert(1)</script>", "1499:1000", "1:99999999999999999999"])
def test_bad_zoom_in_link_is_a_notice_and_the_whole_curve(plain, bad):
    at = open_page("compare", runs=plain["long"], metrics="train/loss", steps=bad)
    assert "showing every step" in texts(at, "warning")
    assert "<script>" not in "\n".join(str(w.value) for w in at.warning)
    (fig,) = curve_figures(at)
    assert "band" in _roles(fig) and f"of {LONG_POINTS:,} points" in texts(at, "caption")
    assert "steps" not in at.query_params and at.number_input(key="cmp_lo").value is None


def test_run_page_zoom_link(plain):
    at = open_page("run", run=plain["long"], steps="0:499")
    (fig,) = curve_figures(at)
    assert _array(_line(fig)["x"]).tolist() == list(range(500))
    assert "Showing 500 of 500 points in steps 0–499" in texts(at, "caption")
    assert at.query_params["steps"] == "0:499" and at.query_params["run"] == plain["long"]


# ---- explorer and params table ----

@pytest.fixture
def three_runs(sqlite_store) -> str:
    """Three runs: lr and layers differ, batch does not; val/loss and val/acc logged."""
    c = tracking.client(sqlite_store)
    eid = tracking.experiment_id("explore", sqlite_store)
    ids = []
    for i, (lr, layers) in enumerate((("0.1", "1"), ("0.01", "2"), ("0.001", "3"))):
        rid = c.create_run(eid, run_name=f"r{i}").info.run_id
        for key, value in (("lr", lr), ("layers", layers), ("batch", "64")):
            c.log_param(rid, key, value)
        c.log_metric(rid, "val/loss", 1.0 / (i + 1), step=0)
        c.log_metric(rid, "val/acc", 0.5 + 0.1 * i, step=0)
        c.set_terminated(rid)
        ids.append(rid)
    return ",".join(ids)


def _explorer(at) -> tuple[dict, dict]:
    """(parallel-coordinates figure, scatter figure)."""
    figs = figures(at)
    parallel = next(f for f in figs if f["data"][0]["type"] == "parcoords")
    scatter = next(f for f in figs if f["data"][0]["type"] == "scatter" and f["data"][0].get("mode") == "markers")
    return parallel, scatter


def test_explorer_link_sets_its_widgets_and_charts(three_runs):
    at = open_page("compare", runs=three_runs, metrics="val/loss", pmetric="val/acc",
                   pparams="layers,batch", sparam="lr", diff="0")
    assert at.selectbox(key="cmp_pmetric").value == "val/acc"
    assert at.multiselect(key="cmp_pparams").value == ["params.layers", "params.batch"]
    assert at.selectbox(key="cmp_sparam").value == "params.lr"
    assert at.toggle(key="cmp_diff").value is False
    assert "batch" in at.dataframe[1].value.index  # the same in every run: shown, not only differences
    parallel, scatter = _explorer(at)
    assert [d["label"] for d in parallel["data"][0]["dimensions"]] == ["layers", "batch", "val/acc"]
    assert (scatter["layout"]["xaxis"]["title"]["text"], scatter["layout"]["yaxis"]["title"]["text"]) == (
        "lr",
        "val/acc",
    )
    assert {k: at.query_params[k] for k in ("pmetric", "pparams", "sparam", "diff")} == {
        "pmetric": "val/acc", "pparams": "layers,batch", "sparam": "lr", "diff": "0"}


def test_explorer_widgets_rewrite_the_link(three_runs):
    at = open_page("compare", runs=three_runs, metrics="val/loss")
    assert not {"pmetric", "pparams", "sparam", "diff"} & set(at.query_params)
    assert "batch" not in at.dataframe[1].value.index  # differences only by default
    at.selectbox(key="cmp_pmetric").set_value("val/acc").run()
    at.multiselect(key="cmp_pparams").set_value(["params.lr"]).run()
    at.selectbox(key="cmp_sparam").set_value("params.batch").run()
    at.toggle(key="cmp_diff").set_value(False).run()
    assert {k: at.query_params[k] for k in ("pmetric", "pparams", "sparam", "diff")} == {
        "pmetric": "val/acc", "pparams": "lr", "sparam": "batch", "diff": "0"}
    assert not [f for f in figures(at) if f["data"][0]["type"] == "parcoords"]  # closed: not drawn
    at.session_state["cmp_explore"] = True  # what a click on the expander does
    parallel, _ = _explorer(at.run())
    assert [d["label"] for d in parallel["data"][0]["dimensions"]] == ["lr", "val/acc"]


def test_unknown_explorer_values_in_link_are_dropped_with_notices(three_runs):
    at = open_page("compare", runs=three_runs, metrics="val/loss", pmetric="nope",
                   pparams="lr,ghost", sparam="ghost2", diff="maybe")
    warnings = texts(at, "warning")
    for word in ("nope", "ghost", "ghost2", "diff=maybe"):
        assert word in warnings
    assert at.selectbox(key="cmp_pmetric").value == "val/loss"
    assert at.multiselect(key="cmp_pparams").value == ["params.lr"]
    assert at.selectbox(key="cmp_sparam").value == "params.layers"
    assert at.toggle(key="cmp_diff").value is True
    assert at.query_params["pparams"] == "lr"
    assert not {"pmetric", "sparam", "diff"} & set(at.query_params)
