"""Page parts too big for the page files: the runs table (columns, the frame drawn, the table
widget whose ``table_ui`` returns the selected run ids, its CSV export) and the compare page's
best-run table and param explorer."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
import streamlit as st

from dashboard import summaries, ui
from dashboard.charts import parallel_figure, scatter_figure
from trainers.metrics import higher_is_better

MAX_DEFAULT_PARAMS = 10
MAX_DEFAULT_METRICS = 8
INFO_COLUMNS = ("user", "end_time", "parent_run_id", "experiment_id", "run_id")
LABELS = {"start_time": "Started", "end_time": "Ended", "run_name": "Run", "status": "Status",
          "duration_s": "Duration (s)", "parent_run_id": "Parent run", "user": "User",
          "experiment_id": "Experiment", "run_id": "Run id", "open": "Page"}
# A cell starting with one of these is a formula to a spreadsheet ("CSV injection").
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def metric_names(frame: pd.DataFrame) -> list[str]:
    """Metric names in the runs frame (``metrics.<k>`` that has ``.min``/``.max`` companions)."""
    cols = set(frame.columns)
    return sorted(c.removeprefix("metrics.") for c in cols
                  if c.startswith("metrics.") and f"{c}.min" in cols and f"{c}.max" in cols)


def column_options(frame: pd.DataFrame, metrics: list[str]) -> list[str]:
    params = sorted(c for c in frame.columns if c.startswith("params."))
    tags = sorted(c for c in frame.columns if c.startswith("tags.") and c != "tags.mlflow.runName")
    info = [c for c in INFO_COLUMNS if c in frame.columns]
    return [f"metrics.{m}" for m in metrics] + params + tags + info


def default_columns(frame: pd.DataFrame, metrics: list[str]) -> list[str]:
    """Params that vary first (they tell runs apart), then the metrics except the epoch counter."""
    params = sorted(c for c in frame.columns if c.startswith("params."))
    varying = [c for c in params if frame[c].nunique(dropna=False) > 1]
    params = (varying + [c for c in params if c not in varying])[:MAX_DEFAULT_PARAMS]
    shown = [f"metrics.{m}" for m in metrics if m != "epoch"][:MAX_DEFAULT_METRICS]
    family = ["tags.runboard.family"] if "tags.runboard.family" in frame.columns else []
    return family + params + shown


def column_label(col: str) -> str:
    if col in LABELS:
        return LABELS[col]
    for prefix in ("params.", "metrics."):
        if col.startswith(prefix):
            return col.removeprefix(prefix)
    return col


def _metric_label(col: str, how) -> str:
    name = col.removeprefix("metrics.")
    if isinstance(how, tuple):
        return f"{name} @ best {how[1]}"
    return name if how == "last" else f"{name} ({how})"


def _sort(table: pd.DataFrame, sort: str) -> pd.DataFrame:
    col, desc = sort.removeprefix("-"), sort.startswith("-")
    if col not in table.columns:
        return table
    values = table[col]
    numbers = pd.to_numeric(values, errors="coerce") if values.dtype == object else None
    if numbers is not None and numbers.notna().sum() == values.notna().sum():
        values = numbers  # params are strings: "0.01" < "0.1" < "1e-05" as text, not as numbers
    order = values.sort_values(ascending=not desc, na_position="last", kind="stable").index
    return table.loc[order]


def build(frame: pd.DataFrame, cols: list[str], how, curves: pd.DataFrame | None,
          sort: str) -> pd.DataFrame:
    """The table to draw: fixed columns, then ``cols``; metric columns per ``how``."""
    out = pd.DataFrame({
        "status": frame["status"], "run_name": frame["run_name"],
        "open": ["run?run=" + rid for rid in frame["run_id"]],
        "start_time": frame["start_time"], "duration_s": frame["duration_s"],
    }, index=frame.index)
    for col in cols:
        if col.startswith("metrics."):
            values = summaries.metric_column(frame, curves, col, how).to_numpy()
            out[col] = values
        elif col in frame.columns:
            out[col] = frame[col]
    out["run_id"] = frame["run_id"]
    out = _sort(out, sort).reset_index(drop=True)
    out.attrs["how"] = how
    return out


def _config(table: pd.DataFrame) -> dict:
    how = table.attrs.get("how", "last")
    config = {
        "status": st.column_config.TextColumn(LABELS["status"], width="small"),
        "run_name": st.column_config.TextColumn(LABELS["run_name"], pinned=True),
        "open": st.column_config.LinkColumn(LABELS["open"], display_text="open", width="small",
                                            help="The run's own page"),
        "start_time": st.column_config.DatetimeColumn(LABELS["start_time"], format="YYYY-MM-DD HH:mm:ss"),
        "duration_s": st.column_config.NumberColumn(LABELS["duration_s"], format="%.1f"),
    }
    for col in table.columns:
        if col in config:
            continue
        if col.startswith("metrics."):
            config[col] = st.column_config.NumberColumn(_metric_label(col, how))
        else:
            config[col] = st.column_config.Column(column_label(col))
    return config


def table_ui(table: pd.DataFrame, key: str) -> list[str]:
    """The runs table with row selection; returns the selected run ids in table order."""
    # The key follows the rows: a selection (row positions) must not outlive a new filter or sort.
    digest = hashlib.blake2s("".join(table["run_id"]).encode(), digest_size=6).hexdigest()
    event = st.dataframe(table, key=f"{key}_{digest}", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, column_config=_config(table), width="stretch")
    rows = sorted(i for i in event.selection.rows if 0 <= i < len(table))
    return [table["run_id"].iloc[i] for i in rows]


def to_csv(table: pd.DataFrame) -> bytes:
    """CSV of the table as shown; text cells that a spreadsheet would run as formulas are quoted."""
    out = table.drop(columns=["open"], errors="ignore").copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_defuse)
    out.columns = [c if not c.startswith("metrics.") else _metric_label(c, table.attrs.get("how", "last"))
                   for c in out.columns]
    return out.to_csv(index=False).encode("utf-8")


def _defuse(value):
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "runs"


# ---- compare page parts ----

PREFERRED_METRICS = ("train/loss", "val/loss", "val/acc", "val/mse")


def metrics_default(options: list[str]) -> list[str]:
    """The metrics a comparison starts with when the link names none."""
    picked = [m for m in PREFERRED_METRICS if m in options]
    return picked or [m for m in options if m != "epoch"][:2]


def best_table(sel: pd.DataFrame, metrics: list[str]) -> None:
    """Per metric, the best run by its latest value, direction aware (loss ↓, accuracy ↑)."""
    best = summaries.best_runs(sel, [m for m in metrics if m != "epoch"])
    if not best:
        st.caption("No finite metric values to rank yet.")
        return
    labels, by_id = ui.run_labels(sel), sel.set_index("run_id")
    rows = [{"metric": m, "best run": labels.get(rid, rid[:8]), "value": by_id.at[rid, f"metrics.{m}"],
             "better": "higher ↑" if higher_is_better(m) else "lower ↓", "run_id": rid}
            for m, rid in best.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def explore_ui(sel: pd.DataFrame, keys: list[str]) -> None:
    """Parallel coordinates and param-vs-metric scatter over the selected runs."""
    params = [c for c in sorted(sel.columns) if c.startswith("params.") and sel[c].notna().any()]
    varying = [c for c in params if sel[c].nunique() > 1] or params
    metrics = [m for m in keys if m != "epoch" and f"metrics.{m}" in sel.columns]
    if len(sel) < 2 or not varying or not metrics:
        st.caption("Needs at least two runs with params and a logged metric.")
        return
    ui.keep_valid("cmp_pmetric", metrics, metrics_default(metrics)[0])
    metric = st.selectbox("Metric", metrics, key="cmp_pmetric")
    tab1, tab2 = st.tabs(["Parallel coordinates", "Param vs metric"])
    with tab1:
        st.plotly_chart(parallel_figure(sel, varying[:12], metric), width="stretch", key="cmp_parallel")
    with tab2:
        ui.keep_valid("cmp_sparam", varying)
        param = st.selectbox("Param", varying, key="cmp_sparam", format_func=column_label)
        st.plotly_chart(scatter_figure(sel, param, metric, labels=ui.run_labels(sel)),
                        width="stretch", key="cmp_scatter")
