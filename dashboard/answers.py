"""Answers over the runs in view (Compare page): is a group better than the best one beyond seed
noise, and which params matter for a metric. Widgets here, numbers from ``dashboard.analysis``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import reads, summaries, url_sync
from dashboard.analysis import importance, significance
from dashboard.charts import importance_figure
from dashboard.viewstate import SIG_CHOICES
from trainers.metrics import higher_is_better

SIG_LABELS = {"last": "Final value", "best": "Best value", "at_best": "At best epoch of…"}


def run_values(sel: pd.DataFrame, metric: str, summary, at_best: pd.DataFrame | None = None) -> pd.Series:
    """Each run's value of ``metric`` (index run_id): its last value, its best (min/max by direction),
    or for ``("at_best", other)`` its value at the step where ``other`` was best (from ``at_best``,
    ``dashboard.data.at_best``'s rows)."""
    if isinstance(summary, tuple):
        values = summaries.metric_column(sel, at_best, metric, summary)
        return pd.Series(values.to_numpy(np.float64), index=sel["run_id"])
    col = f"metrics.{metric}"
    if summary == "best":
        col += ".max" if higher_is_better(metric) else ".min"
    values = sel[col] if col in sel.columns else pd.Series(np.nan, index=sel.index)
    return pd.Series(pd.to_numeric(values, errors="coerce").to_numpy(np.float64), index=sel["run_id"])


def _fmt(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.4g}"


def significance_table(sel: pd.DataFrame, groups: dict[str, str], metric: str, summary,
                       at_best: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per group: n, mean [95 % CI], and against the best group Δ, its bootstrap CI, p, g."""
    values = run_values(sel, metric, summary, at_best)
    by_group: dict[str, list[float]] = {}
    for run_id, label in groups.items():
        by_group.setdefault(label, []).append(values.get(run_id, np.nan))
    stats, versus = significance.versus_best(by_group, higher_is_better(metric))
    vs = {v.label: v for v in versus}
    rows = []
    for g in stats:
        v = vs.get(g.label)
        rows.append({
            "group": g.label, "n": g.n, "mean [95 % CI]": f"{_fmt(g.mean)} [{_fmt(g.ci[0])}, {_fmt(g.ci[1])}]",
            "Δ vs best": "best" if v is None else _fmt(v.diff),
            "Δ 95 % CI (bootstrap)": "" if v is None or v.note else f"[{_fmt(v.ci[0])}, {_fmt(v.ci[1])}]",
            "p (Welch)": "" if v is None else (v.note or f"{v.p_value:.3g}"),
            "effect (Hedges g)": "" if v is None or v.note else _fmt(v.effect),
        })
    return pd.DataFrame(rows)


def summary_ui(key: str, metrics: list[str]):
    """Each run's value for the tests and importance, as the runs table offers them:
    ``"last" | "best" | ("at_best", other)``. The other metric's picker is ``<key>_by``."""
    if st.session_state.get(key) not in SIG_CHOICES:
        st.session_state[key] = "last"
    c1, c2 = st.columns([2, 1])
    with c1:
        how = st.radio("Value per run", SIG_CHOICES, key=key, format_func=SIG_LABELS.get, horizontal=True,
                       help="Final: the last logged value. Best: the lowest loss / highest accuracy over "
                            "training. At best epoch of: the value where another metric was best.")
    plain = [m for m in metrics if m != "epoch"]
    if how != "at_best" or not plain:
        return "last" if how == "at_best" else how
    url_sync.keep_valid(f"{key}_by", plain, "val/loss" if "val/loss" in plain else plain[0])
    with c2:
        other = st.selectbox("Best epoch of", plain, key=f"{key}_by")
    return ("at_best", other)


def url_choice(summary) -> dict[str, str | None]:
    """The summary as the link keeps it: ``sig`` and, for "at best epoch of", ``sigby``."""
    if isinstance(summary, tuple):
        return {"sig": "at_best", "sigby": summary[1]}
    return {"sig": summary, "sigby": None}


def _at_best(sel: pd.DataFrame, metrics: list[str], summary) -> pd.DataFrame | None:
    """Each run's values of ``metrics`` at the reference metric's best step, only for "at best epoch of"."""
    if not isinstance(summary, tuple):
        return None
    return reads.at_best(tuple(sel["run_id"]), tuple(sorted(set(metrics))), summary[1])


def significance_ui(
    sel: pd.DataFrame, groups: dict[str, str], metrics: list[str], summary
) -> list[tuple[str, pd.DataFrame]]:
    """One group-test table per metric; returns them (heading, table) for the HTML export."""
    direction = {m: "higher is better" if higher_is_better(m) else "lower is better" for m in metrics}
    at_best = _at_best(sel, metrics, summary)
    tables = []
    for metric in metrics:
        st.markdown(f"**{metric}** ({direction[metric]})")
        table = significance_table(sel, groups, metric, summary, at_best)
        st.dataframe(table, hide_index=True, width="stretch")
        tables.append((f"{metric} ({direction[metric]})", table))
    st.caption("p: Welch's t-test of each group against the best group; a small p (< 0.05) says the gap is "
               "unlikely to be seed noise alone. Groups of fewer than 2 runs: n too small.")
    return tables


@st.cache_data(show_spinner="Ranking params…", max_entries=32)
def _ranked(params: pd.DataFrame, target: np.ndarray) -> list:
    return importance.param_importance(params, target)


def importance_metrics(sel: pd.DataFrame, metrics: list[str]) -> list[str]:
    """The metrics importance can explain, in offer order (the first is the default)."""
    return [m for m in metrics if m != "epoch" and f"metrics.{m}" in sel.columns]


def importance_ui(sel: pd.DataFrame, metrics: list[str], summary, key: str) -> tuple[str | None, go.Figure | None]:
    """A metric picker and the bar chart of param importance for it; returns the chosen metric and
    the chart (for the HTML export)."""
    metrics = importance_metrics(sel, metrics)
    params = [c for c in sorted(sel.columns) if c.startswith("params.")]
    if not metrics or not params:
        st.caption("Needs runs with params and a logged metric.")
        return None, None
    if st.session_state.get(key) not in metrics:
        st.session_state[key] = metrics[0]
    metric = st.selectbox("Metric to explain", metrics, key=key)
    target = run_values(sel, metric, summary, _at_best(sel, [metric], summary)).to_numpy()
    n = int(np.isfinite(target).sum())
    frame = sel[params].rename(columns=lambda c: c.removeprefix("params.")).astype(str).reset_index(drop=True)
    fig = importance_figure(_ranked(frame, target), metric)
    st.plotly_chart(fig, width="stretch", key=f"{key}_chart")
    note = f"From {n} runs with a value."
    if n < importance.MIN_RUNS:
        note += f" Below {importance.MIN_RUNS} runs the ranking is mostly noise: treat it as a hint."
    st.caption(note + " Bars: how much worse a random forest predicts the metric when that param is shuffled; "
               "blue/red: the metric rises/falls with the param (Spearman).")
    return metric, fig
