"""Runs-table helpers: best runs, param differences, default grouping, metric columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.data.at_best_sql import from_curves
from dashboard.summaries import (
    best_runs,
    default_group_param,
    group_labels,
    metric_column,
    param_diff,
)

A, B, C, D = "a" * 32, "b" * 32, "c" * 32, "d" * 32


def runs_frame():
    return pd.DataFrame({
        "run_id": [A, B, C, D],
        "run_name": ["r1", "r2", "r3", "r3"],
        "params.lr": ["0.1", "0.1", "0.01", "0.1"],
        "params.model": ["cnn", "cnn", "cnn", "mlp"],
        "params.seed": ["1", "2", "1", "1"],
        "params.dropout": [None, None, "0.5", None],
        "tags.runboard.family": ["digits", "digits", "digits", "text"],
        "metrics.val/acc": [0.9, 0.95, np.nan, 0.5],
        "metrics.val/loss": [0.3, 0.2, 0.1, np.inf],
        "metrics.val/loss.min": [0.25, 0.15, 0.05, 0.4],
        "metrics.val/loss.max": [1.0, 1.1, 0.9, 2.0],
    })


def test_best_runs_is_direction_aware():
    assert best_runs(runs_frame(), ["val/acc", "metrics.val/loss"]) == {"val/acc": B, "val/loss": C}


def test_best_runs_skips_missing_and_all_nan_metrics():
    runs = runs_frame().assign(**{"metrics.val/f1": np.nan})
    assert best_runs(runs, ["val/f1", "val/r2"]) == {}


def test_param_diff_keeps_only_differing_rows_with_run_labels():
    table = param_diff(runs_frame(), [A, B])
    assert list(table.index) == ["seed"]
    assert list(table.columns) == ["r1", "r2"]
    assert list(table.loc["seed"]) == ["1", "2"]


def test_param_diff_counts_missing_as_a_value():
    table = param_diff(runs_frame(), [A, C])
    assert "dropout" in table.index and "lr" in table.index and "model" not in table.index


def test_param_diff_all_rows_and_disambiguated_duplicate_names():
    table = param_diff(runs_frame(), [C, D], only_differences=False)
    assert list(table.index) == ["dropout", "lr", "model", "seed"]
    assert list(table.columns) == [f"r3 ({C[:8]})", f"r3 ({D[:8]})"]


def test_default_group_param_is_seed_for_reruns():
    assert default_group_param(runs_frame(), [A, B, C]) == "seed"


def test_default_group_param_none_without_reruns():
    assert default_group_param(runs_frame(), [A, C, D]) is None


def test_default_group_param_none_without_a_seed_param():
    runs = runs_frame().drop(columns="params.seed")
    assert default_group_param(runs, [A, B]) is None


def test_group_labels_by_param_and_by_tag():
    runs = runs_frame()
    assert group_labels(runs, [A, C], "params.lr") == {A: "0.1", C: "0.01"}
    assert group_labels(runs, [A, D], "tags.runboard.family") == {A: "digits", D: "text"}
    assert group_labels(runs, [C, D], "dropout") == {C: "0.5", D: "(none)"}


def test_group_labels_by_seed_names_the_differing_params():
    labels = group_labels(runs_frame(), [A, B, C], "seed")
    assert labels[A] == labels[B] == "dropout=(none) lr=0.1"
    assert labels[C] == "dropout=0.5 lr=0.01"


def test_group_labels_by_seed_when_only_the_seed_differs():
    assert set(group_labels(runs_frame(), [A, B], "seed").values()) == {"all runs"}


def test_group_labels_read_numbers_short_while_they_still_tell_groups_apart():
    runs = runs_frame()
    runs["params.lr"] = ["0.0031622776601683794", "0.0031622776601683794", "0.01", "0.0031600000000000001"]
    assert group_labels(runs, [A, B, C], "params.lr") == {A: "0.00316", B: "0.00316", C: "0.01"}
    assert group_labels(runs, [A, C], "seed") == {A: "dropout=(none) lr=0.00316", C: "dropout=0.5 lr=0.01"}
    # A and D differ only past 3 digits: shortening would merge two groups, so both read in full
    assert group_labels(runs, [A, D], "params.lr") == {A: "0.0031622776601683794", D: "0.0031600000000000001"}


def test_group_labels_unknown_column_raises():
    with pytest.raises(ValueError, match="nope"):
        group_labels(runs_frame(), [A], "nope")


def test_metric_column_last_min_max_from_the_runs_frame():
    runs = runs_frame()
    assert metric_column(runs, None, "val/loss", "last")[C] == 0.1
    assert metric_column(runs, None, "val/loss", "min")[A] == 0.25
    assert metric_column(runs, None, "metrics.val/loss", "max").index.tolist() == [A, B, C, D]


def test_metric_column_missing_metric_is_nan():
    assert metric_column(runs_frame(), None, "val/r2", "last").isna().all()


def curves_frame():
    rows = []
    for rid, losses, accs in [(A, [0.5, 0.2, 0.4], [0.6, 0.8, 0.7]), (B, [0.3, 0.3], [0.5, 0.9])]:
        for step, (loss, acc) in enumerate(zip(losses, accs)):
            rows += [dict(run_id=rid, metric="val/loss", step=step, value=loss),
                     dict(run_id=rid, metric="val/acc", step=step, value=acc)]
    return pd.DataFrame(rows)


def test_metric_column_at_best_reads_the_other_metrics_best_step():
    rows = from_curves(curves_frame(), [A, B, C, D], ["val/acc"], "val/loss")
    col = metric_column(runs_frame(), rows, "val/acc", ("at_best", "val/loss"))
    assert col[A] == 0.8  # val/loss lowest at step 1
    assert col[B] == 0.5  # tie → earliest step
    assert np.isnan(col[C])


def test_metric_column_rejects_unknown_how():
    with pytest.raises(ValueError):
        metric_column(runs_frame(), None, "val/acc", "median")
