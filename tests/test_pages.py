"""The pages under Streamlit's AppTest, on real stores: one written by plain ``mlflow`` calls
(nested, NaN/inf, unordered, no metrics, deleted, HTML names, a 100k-point curve) and one written
by the trainers, each on SQLite and on PostgreSQL. Each test opens a page the way a share link
does (query params first)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_util import curve_figures, figures, line_runs, open_page, texts
from plain_store import HTML, LONG_POINTS

from trainers import tracking

REPO = Path(__file__).resolve().parents[1]
TRAINED_SEEDS = (1, 2)
pytestmark = pytest.mark.usefixtures("fresh_page_caches")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def trained_uri(request, make_store, tmp_path_factory):
    """A store written by the real trainers: two MLP runs differing only in their seed."""
    root = tmp_path_factory.mktemp("trained")
    uri = make_store(request.param)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RUNBOARD_ARTIFACT_ROOT": (root / "artifacts").as_uri()}
    tracking.prepare_store(uri)  # one process migrates before the two trainers start
    procs = [subprocess.Popen([sys.executable, "-m", "trainers.train", "mlp", "--set", "max_epochs=2",
                               "--set", f"seed={seed}"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for seed in TRAINED_SEEDS]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    return uri


@pytest.fixture
def trained(trained_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_uri)
    return trained_uri


def ids_of(plain: dict, *roles: str) -> str:
    return ",".join(plain[r] for r in roles)


# ---- runs page ----

def test_runs_page_lists_plain_runs_with_names_as_text(plain):
    at = open_page("runs", exp=plain["experiment_id"])
    table = at.dataframe[0].value
    assert HTML in set(table["run_name"])  # the raw text, in a data grid cell: never parsed as HTML
    assert plain["deleted"] not in set(table["run_id"])
    assert {plain[r] for r in ("parent", "child_1", "nan_inf", "no_metrics", "long")} <= set(table["run_id"])
    assert at.query_params["exp"] == plain["experiment_id"]


def test_runs_filter_keeps_matching_rows(plain):
    at = open_page("runs", exp=plain["experiment_id"], q="lr >= 0.1")
    names = set(at.dataframe[0].value["run_name"])
    assert names == {"parent", "child-1", "no-metrics"}
    assert at.query_params["q"] == "lr >= 0.1"


def test_bad_filter_says_why_and_shows_every_run(plain):
    at = open_page("runs", exp=plain["experiment_id"], q="lr < ")
    assert "Filter not applied" in texts(at, "warning")
    assert len(at.dataframe[0].value) == 8


def test_metric_columns_follow_the_chosen_value(plain):
    at = open_page("runs", exp=plain["experiment_id"], show="max", cols="metrics.val/loss")
    table = at.dataframe[0].value.set_index("run_id")
    assert table.at[plain["nan_inf"], "metrics.val/loss"] > 1e300  # +inf survives as the max
    at = open_page("runs", exp=plain["experiment_id"], show="min", cols="metrics.val/loss")
    assert at.dataframe[0].value.set_index("run_id").at[plain["nan_inf"], "metrics.val/loss"] < -1e300


def test_value_at_best_epoch_of_another_metric(trained):
    at = open_page("runs", show="best", best="val/loss", cols="metrics.val/acc")
    table = at.dataframe[0].value
    assert table["metrics.val/acc"].between(0, 1).all()
    assert at.query_params["show"] == "best" and at.query_params["best"] == "val/loss"


def test_empty_store_says_how_to_start(store):
    at = open_page("runs")
    assert "python -m trainers.train mlp" in texts(at, "code")


def test_unknown_experiment_in_link_is_a_notice(plain):
    at = open_page("runs", exp="424242")
    assert "does not exist" in texts(at, "warning")
    assert len(at.dataframe) == 1


# ---- compare page ----

def test_compare_link_draws_one_line_per_run(plain):
    runs = ids_of(plain, "parent", "child_1", "child_2")
    at = open_page("compare", runs=runs, metrics="val/loss", x="step")
    (fig,) = curve_figures(at)
    assert sorted(line_runs(fig)) == sorted(runs.split(","))
    assert fig["layout"]["xaxis"]["title"]["text"] == "Step"
    assert at.query_params["runs"] == runs and at.query_params["metrics"] == "val/loss"


def test_hostile_link_shows_notices_and_the_rest(plain):
    unknown = "0" * 32
    runs = f"<script>alert(1)</script>,{plain['parent']},{unknown},{plain['child_1']}"
    at = open_page("compare", runs=runs, metrics="val/loss", smooth="abc")
    warnings = texts(at, "warning")
    assert "smooth" in warnings and "1 run id(s) are not in this store" in warnings
    raw = "\n".join(str(el.value) for el in at.warning)
    assert not re.search(r"(?<!\\)[<>\[\]`*_]", raw)  # markdown/HTML characters all escaped
    (fig,) = curve_figures(at)
    assert sorted(line_runs(fig)) == sorted([plain["parent"], plain["child_1"]])
    assert at.query_params["runs"] == f"{plain['parent']},{plain['child_1']}"  # the link is repaired
    assert "smooth" not in at.query_params


def test_long_curve_is_downsampled_with_a_note(plain):
    at = open_page("compare", runs=plain["long"], metrics="train/loss")
    (fig,) = curve_figures(at)
    line = next(t for t in fig["data"] if t["meta"]["role"] == "line")
    assert "band" in {t["meta"]["role"] for t in fig["data"]}
    assert f"of {LONG_POINTS:,} points" in texts(at, "caption")
    assert line["x"]  # present; Plotly ships it as a typed array
    # At most 1,000 buckets: equal widths over the curve on the raw path, or the summary pyramid's
    # aligned widths (issue 13), which may give fewer.
    shown = int(re.search(r"Showing ([\d,]+) of", texts(at, "caption")).group(1).replace(",", ""))
    assert 0 < shown <= 1000


def test_nan_inf_and_unordered_curves_draw(plain):
    at = open_page("compare", runs=ids_of(plain, "nan_inf", "unordered"), metrics="val/loss,train/loss")
    figs = curve_figures(at)
    assert [line_runs(f) for f in figs] == [[plain["nan_inf"]], [plain["unordered"]]]


def test_smoothing_from_link_sets_slider_and_raw_lines(plain):
    at = open_page("compare", runs=ids_of(plain, "nan_inf"), metrics="val/loss", smooth="0.5", logy="1")
    assert at.slider(key="cmp_smooth").value == 0.5
    assert at.toggle(key="cmp_logy").value is True
    (fig,) = curve_figures(at)
    assert "raw" in {t["meta"]["role"] for t in fig["data"]}
    assert fig["layout"]["yaxis"]["type"] == "log"


def test_changing_a_widget_rewrites_the_link(plain):
    at = open_page("compare", runs=ids_of(plain, "parent", "child_1"), metrics="val/loss")
    at.slider(key="cmp_smooth").set_value(0.3).run()
    at.radio(key="cmp_x").set_value("relative").run()
    assert at.query_params["smooth"] == "0.3" and at.query_params["x"] == "relative"
    (fig,) = curve_figures(at)
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("Relative")


def test_compare_trained_runs_groups_seeds_and_marks_best(trained):
    at = open_page("runs")
    ids = ",".join(at.dataframe[0].value["run_id"])
    at = open_page("compare", runs=ids, metrics="train/loss,val/acc")
    roles = [{(t.get("meta") or {}).get("role") for t in f["data"]} for f in curve_figures(at)]
    assert all("group" in r for r in roles)  # two runs differing only in seed: one mean ± std
    best = at.dataframe[0].value
    assert set(best["metric"]) == {"train/loss", "val/acc"}
    assert set(best["better"]) == {"lower ↓", "higher ↑"}


def test_compare_without_runs_says_where_to_pick(plain):
    at = open_page("compare")
    assert "Runs page" in texts(at, "info")


# ---- run page ----

def test_run_page_of_a_trained_run(trained):
    rid = open_page("runs").dataframe[0].value["run_id"].iloc[0]
    at = open_page("run", run=rid)
    charted = {f["layout"]["title"]["text"] for f in curve_figures(at)}
    assert {"train/loss", "val/loss", "val/acc", "val/f1"} <= charted
    heatmaps = [f for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 1
    assert at.select_slider(key="run_cm_file").value.endswith("epoch_001.json")
    params = at.dataframe[0].value.set_index("key")["value"]
    assert params["max_epochs"] == "2"


def test_run_page_html_name_is_text_and_no_metrics_is_explained(plain):
    at = open_page("run", run=plain["html"])
    assert at.title[0].value != HTML and "script" in at.title[0].value  # escaped markdown
    at = open_page("run", run=plain["no_metrics"])
    assert "no metrics" in texts(at, "info")


@pytest.mark.parametrize("bad", ["<script>alert(1)</script>", "0" * 32])
def test_run_page_hostile_or_unknown_id_is_a_notice(plain, bad):
    at = open_page("run", run=bad)
    assert at.warning and "Runs page" in texts(at, "info")
    assert "run" not in at.query_params


def test_deleted_run_is_unknown(plain):
    at = open_page("run", run=plain["deleted"])
    assert "No run" in texts(at, "warning")


def test_running_run_shows_progress_and_mlflow_link(store, monkeypatch):
    monkeypatch.setenv("RUNBOARD_MLFLOW_UI", "http://mlflow.example:5000")
    c = tracking.client()
    rid = c.create_run(tracking.experiment_id(), run_name="live").info.run_id
    c.log_metric(rid, "train/loss", 1.0, step=0)
    for key, value in {"epoch": 1, "max_epochs": 4, "step": 10, "total_steps": 40}.items():
        c.set_tag(rid, f"runboard.progress.{key}", value)
    c.set_tag(rid, "runboard.heartbeat", f"{time.time():.0f}")
    at = open_page("run", run=rid)
    (bar,) = at.get("progress")
    assert "epoch 1/4 · step 10/40 · ETA" in bar.proto.text
    (link,) = at.get("link_button")
    assert link.proto.url == f"http://mlflow.example:5000/#/experiments/{tracking.experiment_id()}/runs/{rid}"
