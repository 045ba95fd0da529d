"""The data layer on a store written by plain MLflow calls, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from plain_store import HTML, LONG_POINTS, NAN_INF_VALUES, UNORDERED, write_plain_store

from dashboard import data
from dashboard.data.downsample import CURVE_COLUMNS
from trainers import tracking

BASE_COLUMNS = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "parent_run_id",
    "user",
    "queued_time",
    "queue_wait_s",
    "health",
]


@pytest.fixture
def plain(store):
    return write_plain_store(store)


def _row(df, run_id):
    return df.set_index("run_id").loc[run_id]


def test_runs_has_info_param_tag_and_metric_columns(plain):
    df = data.runs([plain["experiment_id"]])
    assert list(df.columns[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    for col in ("params.lr", "tags.mlflow.runName", "metrics.val/loss", "metrics.val/loss.min", "metrics.val/loss.max"):
        assert col in df.columns
    assert str(df["start_time"].dtype) .startswith("datetime64") and str(df["start_time"].dt.tz) == "UTC"
    parent = _row(df, plain["parent"])
    assert (parent["params.lr"], parent["metrics.val/loss"], parent["status"]) == ("0.1", 0.5, "FINISHED")
    assert parent["duration_s"] >= 0


def test_runs_hides_deleted_run(plain):
    df = data.runs([plain["experiment_id"]])
    assert plain["deleted"] not in set(df["run_id"])
    assert len(df) == 8


def test_runs_hides_runs_of_deleted_experiment(plain, store):
    tracking.client(store).delete_experiment(plain["experiment_id"])
    assert data.runs().empty
    assert plain["experiment_id"] not in set(data.experiments()["experiment_id"])


def test_nested_run_has_parent_run_id(plain):
    df = data.runs([plain["experiment_id"]])
    assert _row(df, plain["child_1"])["parent_run_id"] == plain["parent"]
    assert _row(df, plain["parent"])["parent_run_id"] is None


def test_nan_and_inf_are_decoded_in_curves(plain):
    df = data.curves([plain["nan_inf"]], ["val/loss"])
    np.testing.assert_array_equal(df["value"].to_numpy(), np.array(NAN_INF_VALUES))


def test_nan_and_inf_are_decoded_in_run_summaries(plain):
    row = _row(data.runs([plain["experiment_id"]]), plain["nan_inf"])
    assert (row["metrics.val/loss.min"], row["metrics.val/loss.max"]) == (-math.inf, math.inf)


def test_out_of_order_steps_come_back_sorted_with_duplicates_kept(plain):
    df = data.curves([plain["unordered"]], ["train/loss"])
    expected = sorted(UNORDERED)  # step 3: 3.0 was logged before 3.5
    assert df["step"].tolist() == [s for s, _ in expected]
    assert df["value"].tolist() == [v for _, v in expected]


def test_run_without_metrics_is_listed_and_has_no_curves(plain):
    assert plain["no_metrics"] in set(data.runs([plain["experiment_id"]])["run_id"])
    df = data.curves([plain["no_metrics"]], ["val/loss"])
    assert df.empty and list(df.columns) == CURVE_COLUMNS
    assert data.metric_keys([plain["no_metrics"]]) == []


def test_html_text_is_returned_verbatim(plain):
    row = _row(data.runs([plain["experiment_id"]]), plain["html"])
    assert (row["run_name"], row["params.note"], row["tags.note"]) == (HTML, HTML, HTML)


def test_short_curve_is_full_detail(plain):
    df = data.curves([plain["nan_inf"], plain["parent"]], ["val/loss"])
    assert (df["n"] == 1).all() and len(df) == len(NAN_INF_VALUES) + 1
    finite = df.dropna(subset=["value"])
    assert (finite["first"] == finite["value"]).all() and (finite["min"] == finite["max"]).all()
    assert df.attrs["total_points"][(plain["parent"], "val/loss")] == 1


def test_long_curve_is_reduced_to_max_points(plain):
    df = data.curves([plain["long"]], ["train/loss"], max_points=500)
    assert 0 < len(df) <= 500 and df["n"].sum() == LONG_POINTS
    assert df.attrs["total_points"][(plain["long"], "train/loss")] == LONG_POINTS
    assert df["max"].max() == pytest.approx(1.0, abs=1e-6)  # sin's peaks survive


def test_metric_keys_are_sorted_union(plain):
    assert data.metric_keys([plain["unordered"], plain["nan_inf"]]) == ["train/loss", "val/loss"]


def test_run_returns_params_tags_and_metric_summary(plain):
    one = data.run(plain["nan_inf"])
    assert one["run_name"] == "nan-inf" and one["tags"]["mlflow.runName"] == "nan-inf"
    assert one["metrics"]["val/loss"]["value"] == 2.0 and one["metrics"]["val/loss"]["step"] == 4
    assert data.run(plain["parent"])["params"] == {"lr": "0.1"}


def test_run_is_none_for_deleted_or_unknown(plain):
    assert data.run(plain["deleted"]) is None
    assert data.run("0" * 32) is None


def test_empty_store_returns_empty_frames_with_columns(store):
    assert list(data.runs().columns) == BASE_COLUMNS
    assert list(data.curves([], ["val/loss"]).columns) == CURVE_COLUMNS
    assert list(data.curves(["nope"], ["val/loss"]).columns) == CURVE_COLUMNS
    assert data.experiments()["name"].tolist() == ["Default"]
    assert data.metric_keys([]) == []


def test_epoch_column_follows_the_epoch_metric(store):
    c = tracking.client(store)
    run_id = c.create_run(tracking.experiment_id("e", store)).info.run_id
    for step in range(6):
        c.log_metric(run_id, "train/loss", float(step), step=step)
        c.log_metric(run_id, "epoch", float(step // 3), step=step)
    df = data.curves([run_id], ["train/loss"])
    assert df["epoch"].tolist() == [0, 0, 0, 1, 1, 1]


def test_json_artifact_round_trips(store, tmp_path):
    c = tracking.client(store)
    run_id = c.create_run(tracking.experiment_id("a", store)).info.run_id
    (tmp_path / "cm.json").write_text('{"matrix": [[1, 0], [0, 1]]}')
    c.log_artifact(run_id, str(tmp_path / "cm.json"), "eval")
    assert data.artifacts(run_id) == [{"path": "eval", "is_dir": True, "file_size": None}]
    assert data.read_json_artifact(run_id, "eval/cm.json") == {"matrix": [[1, 0], [0, 1]]}
    assert data.read_json_artifact(run_id, "eval/missing.json") is None
