"""The REST fallback against a real ``mlflow server``: the same frames as the SQL reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plain_store import write_plain_store
from server_util import mlflow_server

from dashboard import data


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(sqlite uri, http uri, plain-store ids): one store, read directly and through a server."""
    tmp = tmp_path_factory.mktemp("rest")
    sqlite_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNBOARD_ARTIFACT_ROOT", (tmp / "artifacts").as_uri())
        ids = write_plain_store(sqlite_uri)
    with mlflow_server(sqlite_uri, tmp) as url:
        yield sqlite_uri, url, ids


@pytest.mark.slow
def test_rest_runs_match_sql_runs(served):
    sql_uri, http_uri, ids = served
    sql = data.runs([ids["experiment_id"]], uri=sql_uri)
    rest = data.runs([ids["experiment_id"]], uri=http_uri)
    assert list(rest.columns) == list(sql.columns)
    minmax = [c for c in sql.columns if c.endswith((".min", ".max"))]  # NaN over REST, by design
    assert rest["health"].isna().all()  # health flags are not computed over REST yet
    skip = [*minmax, "health"]
    pd.testing.assert_frame_equal(rest.drop(columns=skip), sql.drop(columns=skip), check_dtype=False)


@pytest.mark.slow
def test_rest_curves_match_sql_curves(served, monkeypatch):
    sql_uri, http_uri, ids = served
    run_ids = [ids["long"], ids["nan_inf"], ids["unordered"], ids["no_metrics"]]
    args = (run_ids, ["train/loss", "val/loss"])
    rest = data.curves(*args, max_points=300, uri=http_uri)
    summarised = data.curves(*args, max_points=300, uri=sql_uri)
    # REST has no summary pyramid, so its long curve is bucketed over the curve's own steps, as the
    # SQL path does without summaries; with them the SQL buckets are aligned to powers of two
    # (tests/test_curve_summary.py proves those equal the raw GROUP BY for their edges).
    monkeypatch.setenv("RUNBOARD_CURVE_SUMMARIES", "0")
    sql = data.curves(*args, max_points=300, uri=sql_uri)
    pd.testing.assert_frame_equal(rest, sql)
    for frame in (rest, summarised):  # the same extremes either way: no spike lost
        grouped = frame.groupby(["run_id", "metric"])
        assert grouped["min"].min().equals(sql.groupby(["run_id", "metric"])["min"].min())
        assert grouped["max"].max().equals(sql.groupby(["run_id", "metric"])["max"].max())
    assert rest.attrs["total_points"] == sql.attrs["total_points"]
    assert np.isinf(rest["value"]).sum() == 2


@pytest.mark.slow
def test_rest_run_and_metric_keys_match_sql(served):
    sql_uri, http_uri, ids = served
    assert data.run(ids["nan_inf"], uri=http_uri) == data.run(ids["nan_inf"], uri=sql_uri)
    assert data.run(ids["deleted"], uri=http_uri) is None
    both = [ids["unordered"], ids["html"]]
    assert data.metric_keys(both, uri=http_uri) == data.metric_keys(both, uri=sql_uri)


@pytest.mark.slow
def test_rest_reads_histories_as_json_exactly_as_the_client_does(served):
    from mlflow import MlflowClient

    from dashboard.data import rest

    _, http_uri, ids = served
    c = MlflowClient(tracking_uri=http_uri)
    for role, key in [("nan_inf", "val/loss"), ("unordered", "train/loss"), ("long", "train/loss"),
                      ("no_metrics", "train/loss"), ("deleted", "train/loss")]:
        fast = rest._history_json(c, ids[role], key)  # the fast path itself, not its fallback
        points = c.get_metric_history(ids[role], key)
        assert fast[0].tolist() == [p.step for p in points] and fast[1].tolist() == [p.timestamp for p in points]
        np.testing.assert_array_equal(fast[2], rest.ds.decode(np.array([p.value for p in points], dtype=np.float64),
                                                              np.isnan([p.value for p in points])))
    assert rest._history_json(c, "0" * 32, "train/loss")[0].size == 0  # an unknown run: no points


@pytest.mark.slow
def test_rest_children_match_sql_children(served):
    sql_uri, http_uri, ids = served
    sql = data.children(ids["parent"], uri=sql_uri)
    assert set(sql["run_id"]) == {ids["child_1"], ids["child_2"]}
    rest = data.children(ids["parent"], uri=http_uri)
    minmax = [c for c in sql.columns if c.endswith((".min", ".max"))]  # NaN over REST, by design
    pd.testing.assert_frame_equal(rest.drop(columns=minmax), sql.drop(columns=minmax), check_dtype=False)
    assert data.children("x' OR '1'='1", uri=http_uri).empty and data.children("x' OR '1'='1", uri=sql_uri).empty


@pytest.mark.slow
def test_rest_at_best_matches_sql(served):
    sql_uri, http_uri, ids = served
    run_ids = [ids["long"], ids["nan_inf"], ids["unordered"], ids["parent"]]
    for other in ("train/loss", "val/loss"):
        rest = data.at_best(run_ids, ["train/loss", "val/loss"], other, uri=http_uri)
        pd.testing.assert_frame_equal(rest, data.at_best(run_ids, ["train/loss", "val/loss"], other, uri=sql_uri))
