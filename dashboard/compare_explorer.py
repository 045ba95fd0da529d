"""The Compare page's best-run table and its param explorer (parallel coordinates, param vs
metric), whose choices go into the link as ViewState fields."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import summaries
from dashboard.charts import parallel_figure, scatter_figure
from dashboard.names import column_label, run_labels
from dashboard.text import notice
from trainers.metrics import higher_is_better

MAX_PARALLEL = 12  # parallel-coordinates axes picked automatically; more are unreadable

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
    labels, by_id = run_labels(sel), sel.set_index("run_id")
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
        notice(f"{what}: {names} not among these runs; dropped.")
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
            st.plotly_chart(scatter_figure(sel, param, metric, labels=run_labels(sel)),
                            width="stretch", key="cmp_scatter")
    return {"pmetric": None if metric == auto_metric else metric,
            "pparams": tuple(c.removeprefix("params.") for c in axes),
            "sparam": None if param == varying[0] else param.removeprefix("params.")}


def explore_seed(state) -> dict:
    """Session-state values of the explorer's widgets for a link's ViewState."""
    return {"cmp_pmetric": state.pmetric,
            "cmp_pparams": [f"params.{p}" for p in state.pparams],
            "cmp_sparam": None if state.sparam is None else f"params.{state.sparam}"}
