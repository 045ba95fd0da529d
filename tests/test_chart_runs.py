"""One-point-per-run charts and the confusion matrix (``dashboard.charts.runs``, ``confusion``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from charts_util import A, B, C

from dashboard.charts import confusion_figure, parallel_figure, scatter_figure

# --- confusion, parallel, scatter ----------------------------------------------------------------

def test_confusion_shows_counts_with_row_zero_on_top():
    fig = confusion_figure([[5, 1], [2, 7]], ["cat", "dog"])
    heat = fig.data[0]
    assert heat.text[0][1] == "1" and list(heat.x) == ["cat", "dog"]
    assert fig.layout.xaxis.title.text == "Predicted" and fig.layout.yaxis.title.text == "Actual"
    assert fig.layout.yaxis.autorange == "reversed"


def test_confusion_normalize_divides_by_row_sums():
    heat = confusion_figure([[3, 1], [0, 0]], ["a", "b"], normalize=True, title="t").data[0]
    np.testing.assert_allclose(np.asarray(heat.z), [[0.75, 0.25], [0.0, 0.0]])
    assert "3" in heat.text[0][0]


def runs_frame():
    return pd.DataFrame({
        "run_id": [A, B, C], "run_name": ["first", "second", None],
        "params.lr": ["0.1", "0.01", "0.001"], "params.model": ["cnn", "mlp", None],
        "metrics.val/acc": [0.9, 0.8, np.nan], "metrics.val/loss": [0.2, 0.3, 0.4],
    })


def test_parallel_numeric_and_categorical_axes_coloured_by_metric():
    fig = parallel_figure(runs_frame(), ["lr", "params.model"], "val/loss")
    lr, model, loss = fig.data[0].dimensions
    np.testing.assert_allclose(lr.values, [0.1, 0.01, 0.001])
    assert list(model.ticktext) == ["cnn", "mlp", "—"] and list(model.values) == [0, 1, 2]
    assert loss.label == "val/loss"
    np.testing.assert_allclose(fig.data[0].line.color, [0.2, 0.3, 0.4])


def test_parallel_leaves_out_runs_without_the_metric():
    fig = parallel_figure(runs_frame(), ["lr"], "val/acc")
    assert fig.data[0].meta["run_ids"] == [A, B]


def test_scatter_one_point_per_run_with_names_for_hover():
    fig = scatter_figure(runs_frame(), "lr", "val/loss")
    pts = fig.data[0]
    np.testing.assert_allclose(pts.x, [0.1, 0.01, 0.001])
    assert list(pts.text) == ["first", "second", C[:8]] and list(pts.customdata) == [A, B, C]
    assert fig.layout.xaxis.title.text == "lr" and fig.layout.yaxis.title.text == "val/loss"


def test_scatter_categorical_param_uses_a_category_axis():
    fig = scatter_figure(runs_frame(), "model", "val/acc")
    assert list(fig.data[0].x) == ["cnn", "mlp"] and fig.layout.xaxis.type == "category"
