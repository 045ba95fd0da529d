"""The Runs page's table: the frame drawn (columns per ``runs_columns``, metric cells per
``summaries``), the table widget whose ``table_ui`` returns the selected run ids, its CSV export."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
import streamlit as st

from dashboard import summaries
from dashboard.names import LABELS, column_label
from dashboard.numbers import short_params
from dashboard.runs_columns import ordered
from trainers.metrics import higher_is_better

# A cell starting with one of these is a formula to a spreadsheet ("CSV injection").
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def metric_names(frame: pd.DataFrame) -> list[str]:
    """Metric names in the runs frame (``metrics.<k>`` that has ``.min``/``.max`` companions)."""
    cols = set(frame.columns)
    return sorted(c.removeprefix("metrics.") for c in cols
                  if c.startswith("metrics.") and f"{c}.min" in cols and f"{c}.max" in cols)


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


def build(frame: pd.DataFrame, cols: list[str], how, at_best: pd.DataFrame | None,
          sort: str) -> pd.DataFrame:
    """The table to draw: name and status (and health when a run in view is flagged), then ``cols``
    led by metrics and params, then times. Metric columns per ``how``; a time column no run in view has is left out."""
    out = pd.DataFrame({"run_name": frame["run_name"], "status": frame["status"]}, index=frame.index)
    if "health" in frame and frame["health"].fillna("").ne("").any():  # issue 17's flags, as badges
        out["health"] = frame["health"]  # (see ``table_ui``); no column when every run in view is healthy
    for col in ordered([c for c in cols if c.startswith(("metrics.", "params."))]):
        if col.startswith("metrics."):
            out[col] = summaries.metric_column(frame, at_best, col, how).to_numpy()
        elif col in frame.columns:
            out[col] = frame[col]
    for col in ("start_time", "duration_s", "queue_wait_s"):
        if col in frame and (frame[col].notna().any() or col == "start_time"):
            out[col] = frame[col]
    for col in cols:
        if col not in out.columns and col in frame.columns:
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
        "start_time": st.column_config.DatetimeColumn(LABELS["start_time"], format="YYYY-MM-DD HH:mm:ss"),
        "duration_s": st.column_config.NumberColumn(LABELS["duration_s"], format="%.1f"),
        "queue_wait_s": st.column_config.NumberColumn(LABELS["queue_wait_s"], format="%.1f",
                                                      help="Time between launch and the start of training"),
        "health": st.column_config.ListColumn("Health", width="small",
                                              help="nan, spike, stalled, diverging, overfitting; filter "
                                                   'with health = "spike"'),
    }
    for col in table.columns:
        if col in config:
            continue
        if col.startswith("metrics."):
            better = "higher" if higher_is_better(col.removeprefix("metrics.")) else "lower"
            config[col] = st.column_config.NumberColumn(
                _metric_label(col, how), help=f"`{col}` ({better} is better; the best run's cell is bold)")
        else:
            config[col] = st.column_config.Column(column_label(col), help=f"`{col}`")
    return config


def _blank_missing(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells with no value read blank, not "None" (most params belong to one family only)."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), "")
    return out


def _number(value) -> str:
    """A metric cell: 4 significant digits (a Styler would print 6 decimals), blank when missing."""
    return "" if pd.isna(value) else f"{value:.4g}"


def _styled(table: pd.DataFrame, colours: dict[str, str] | None):
    """Per metric column the best cell bold (direction aware); run names in their chart colour."""
    best = {col: _best_row(table[col], col.removeprefix("metrics."))
            for col in table.columns if col.startswith("metrics.")}
    ids = list(table["run_id"])

    def style(col: pd.Series) -> list[str]:
        if col.name == "run_name" and colours:
            return [f"color: {colours[r]}" if r in colours else "" for r in ids]
        return ["font-weight: bold" if i == best.get(col.name) else "" for i in range(len(col))]

    metrics = [c for c in table.columns if c.startswith("metrics.")]
    return _blank_missing(short_params(table)).style.apply(style).format(_number, subset=metrics)


def _best_row(values: pd.Series, metric: str) -> int | None:
    numbers = pd.to_numeric(values, errors="coerce").reset_index(drop=True)
    finite = numbers[numbers.abs() != float("inf")].dropna()
    if finite.nunique() < 2:
        return None  # one value (or none): nothing to tell apart
    return int(finite.idxmax() if higher_is_better(metric) else finite.idxmin())


def table_ui(table: pd.DataFrame, key: str, colours: dict[str, str] | None = None) -> list[str]:
    """The runs table with row selection; returns the selected run ids in table order.
    ``colours``: run_id → the colour its line has in the workspace charts."""
    # The key follows the rows: a selection (row positions) must not outlive a new filter or sort.
    digest = hashlib.blake2s("".join(table["run_id"]).encode(), digest_size=6).hexdigest()
    event = st.dataframe(_styled(_badges(table), colours), key=f"{key}_{digest}", on_select="rerun",
                         selection_mode="multi-row", hide_index=True, column_config=_config(table),
                         width="stretch")
    rows = sorted(i for i in event.selection.rows if 0 <= i < len(table))
    return [table["run_id"].iloc[i] for i in rows]


def _badges(table: pd.DataFrame) -> pd.DataFrame:
    """The health cell ("nan, spike") as a list, which Streamlit draws as one badge per flag."""
    if "health" not in table:
        return table
    out = table.copy()
    out["health"] = [cell.split(", ") if isinstance(cell, str) and cell else [] for cell in out["health"]]
    return out


def to_csv(table: pd.DataFrame) -> bytes:
    """CSV of the table as shown; text cells that a spreadsheet would run as formulas are quoted."""
    out = table.copy()
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
