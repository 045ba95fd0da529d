"""Page parts too big for the page files: the runs table (columns, the frame drawn, the table
widget whose ``table_ui`` returns the selected run ids, its CSV export), the compare page's
best-run table and param explorer, and the step-range zoom the curve pages share."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
import streamlit as st

from dashboard import summaries, ui
from dashboard.runs_columns import LABELS, column_label, column_options, default_columns, ordered  # noqa: F401
from dashboard.charts import parallel_figure, scatter_figure
from dashboard.numbers import short_params
from dashboard.viewstate import MAX_STEP
from trainers.metrics import higher_is_better

MAX_PARALLEL = 12  # parallel-coordinates axes picked automatically; more are unreadable
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


def build(frame: pd.DataFrame, cols: list[str], how, curves: pd.DataFrame | None,
          sort: str) -> pd.DataFrame:
    """The table to draw: name and status (and health when a run in view is flagged), then ``cols``
    led by metrics and params, then times. Metric columns per ``how``; a time column no run in view has is left out."""
    out = pd.DataFrame({"run_name": frame["run_name"], "status": frame["status"]}, index=frame.index)
    if "health" in frame and frame["health"].fillna("").ne("").any():  # issue 17's flags, as badges
        out["health"] = frame["health"]  # (see ``table_ui``); no column when every run in view is healthy
    for col in ordered([c for c in cols if c.startswith(("metrics.", "params."))]):
        if col.startswith("metrics."):
            out[col] = summaries.metric_column(frame, curves, col, how).to_numpy()
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


def _keep_known(key: str, options: list, default, what: str) -> None:
    """Before a widget is drawn: a stored choice (from a link, or one these runs no longer offer)
    that is not among ``options`` is named in a notice and dropped; a missing one gets ``default``."""
    value = st.session_state.get(key)
    if value is None:
        st.session_state[key] = default
        return
    bad = [v for v in (value if isinstance(value, list) else [value]) if v not in options]
    if bad:
        names = ", ".join(column_label(v) for v in bad[:3]) + (" …" if len(bad) > 3 else "")
        ui.notice(f"{what}: {names} not among these runs; dropped.")
        st.session_state[key] = [v for v in value if v in options] if isinstance(value, list) else default


def explore_ui(sel: pd.DataFrame, keys: list[str], draw: bool = True) -> dict:
    """Parallel coordinates and param-vs-metric scatter over the selected runs; the charts only
    when ``draw`` (their expander is open): a hidden parcoords still costs the browser a WebGL
    context and a pixel read-back, seconds per page view in a GPU-less Chromium.

    Returns the choices for the URL as ViewState fields (``pmetric``, ``pparams``, ``sparam``;
    bare param names, None / () where the automatic choice is shown); {} when nothing is drawn.
    """
    params = [c for c in sorted(sel.columns) if c.startswith("params.") and sel[c].notna().any()]
    varying = [c for c in params if sel[c].nunique() > 1] or params
    metrics = [m for m in keys if m != "epoch" and f"metrics.{m}" in sel.columns]
    if len(sel) < 2 or not varying or not metrics:
        st.caption("Needs at least two runs with params and a logged metric.")
        return {}
    auto_metric = metrics_default(metrics)[0]
    _keep_known("cmp_pmetric", metrics, auto_metric, "Explorer metric")
    metric = st.selectbox("Metric", metrics, key="cmp_pmetric")
    tab1, tab2 = st.tabs(["Parallel coordinates", "Param vs metric"])
    with tab1:
        _keep_known("cmp_pparams", params, [], "Parallel coordinates")
        axes = st.multiselect("Axes", params, key="cmp_pparams", format_func=column_label,
                              placeholder=f"Automatic: the params that differ (up to {MAX_PARALLEL})")
        if draw:
            st.plotly_chart(parallel_figure(sel, axes or varying[:MAX_PARALLEL], metric),
                            width="stretch", key="cmp_parallel")
    with tab2:
        _keep_known("cmp_sparam", params, varying[0], "Scatter param")
        param = st.selectbox("Param", params, key="cmp_sparam", format_func=column_label)
        if draw:
            st.plotly_chart(scatter_figure(sel, param, metric, labels=ui.run_labels(sel)),
                            width="stretch", key="cmp_scatter")
    return {"pmetric": None if metric == auto_metric else metric,
            "pparams": tuple(c.removeprefix("params.") for c in axes),
            "sparam": None if param == varying[0] else param.removeprefix("params.")}


def explore_seed(state) -> dict:
    """Session-state values of the explorer's widgets for a link's ViewState."""
    return {"cmp_pmetric": state.pmetric,
            "cmp_pparams": [f"params.{p}" for p in state.pparams],
            "cmp_sparam": None if state.sparam is None else f"params.{state.sparam}"}


# ---- step-range zoom (compare and run pages) ----

def _unzoom(*keys: str) -> None:
    for key in keys:
        st.session_state[key] = None


def zoom_ui(prefix: str) -> tuple[int | None, int | None] | None:
    """"From step" / "to step" (either may stay empty) and a reset; the step range to re-read at
    full detail, or None for every step. Plotly's own zoom only magnifies the points already
    drawn, and Streamlit does not report it back, so a closer look is asked for here."""
    lo_key, hi_key = f"{prefix}_lo", f"{prefix}_hi"
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    box = dict(min_value=-MAX_STEP, max_value=MAX_STEP, step=1, value=None,
               help="Re-reads this step range from the store at full detail (up to 1,000 points "
                    "per curve); empty means from the first / to the last step.")
    lo = c1.number_input("Zoom: from step", key=lo_key, placeholder="first", **box)
    hi = c2.number_input("To step", key=hi_key, placeholder="last", **box)
    c3.button("All steps", key=f"{prefix}_unzoom", on_click=_unzoom, args=(lo_key, hi_key),
              disabled=lo is None and hi is None)
    if lo is not None and hi is not None and lo > hi:
        ui.notice(f"Zoom: from step {lo} is after to step {hi}; showing every step.")
        return None
    return None if lo is None and hi is None else (lo, hi)


def points_note(shown: int, total: int, steps) -> str | None:
    """The "showing N of M points" caption under a chart; None for a whole curve at full detail."""
    where = ""
    if steps:
        lo, hi = steps
        where = f" in steps {'first' if lo is None else f'{lo:,}'}–{'last' if hi is None else f'{hi:,}'}"
    if total > shown:
        return (f"Showing {shown:,} of {total:,} points{where}: each bucket keeps its first, last, "
                "min and max, drawn as a band.")
    return f"Showing {shown:,} of {total:,} points{where}: every point, at full detail." if steps else None
