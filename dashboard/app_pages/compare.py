"""Compare: overlay the selected runs' curves, group them over seeds, diff their params."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import answers, completeness, share, summaries, ui
from dashboard.charts import curves_figure
from dashboard.numbers import short_params
from dashboard.widgets import (best_table, explore_seed, explore_ui, metrics_default, points_note,
                               zoom_ui)
from dashboard.viewstate import BAND_CHOICES, MAX_SMOOTH, X_CHOICES, ViewState

PREFIX = "cmp"
KEYS = ("cmp_runs", "cmp_metrics", "cmp_x", "cmp_smooth", "cmp_logy", "cmp_group", "cmp_band",
        "cmp_lo", "cmp_hi", "cmp_diff", "cmp_sig", "cmp_imetric")
AUTO, NONE = "", "none"
X_LABELS = {"step": "Step", "epoch": "Epoch", "relative": "Relative time", "wall": "Wall time"}
BAND_LABELS = {"std": "mean ± std", "ci95": "mean ± 95 % CI"}
LIVE_EVERY = "5s"


def _seed(state: ViewState, params: dict[str, str]) -> None:
    ss = st.session_state
    ss.cmp_runs, ss.cmp_metrics = list(state.runs), list(state.metrics)
    ss.cmp_x, ss.cmp_smooth, ss.cmp_logy = state.x, state.smooth, state.logy
    ss.cmp_group, ss.cmp_band = state.group or AUTO, state.band
    ss.cmp_lo, ss.cmp_hi = state.steps or (None, None)
    ss.cmp_diff = state.diff
    ss.cmp_sig, ss.cmp_imetric = state.sig, state.imetric
    for key, value in explore_seed(state).items():  # widgets drawn (and checked) further down
        ss[key] = value


def _known_runs(every: pd.DataFrame, fresh: bool) -> list[str]:
    """Selected ids that exist; ids from a stale or hostile link are dropped with a notice."""
    wanted = st.session_state.get("cmp_runs", [])
    known = set(every["run_id"])
    kept = [r for r in wanted if r in known]
    if fresh and len(kept) < len(wanted):
        n = len(wanted) - len(kept)
        ui.notice(f"Link: {n} run id(s) are not in this store (deleted, or never existed) and "
                  f"were dropped; showing the other {len(kept)}.")
    st.session_state.cmp_runs = kept
    return kept


def _runs_ui(every: pd.DataFrame, chosen: list[str], exp: str | None) -> list[str]:
    """Run picker: runs of the chosen runs' experiments (or the link's experiment), newest first."""
    exps = set(every.loc[every["run_id"].isin(chosen), "experiment_id"]) or ({exp} if exp else set())
    pool = every[every["experiment_id"].isin(exps)] if exps else every
    pool = pd.concat([every[every["run_id"].isin(chosen)], pool.head(500)]).drop_duplicates("run_id")
    labels = ui.run_labels(pool)
    return st.multiselect("Runs", list(pool["run_id"]), key="cmp_runs", format_func=labels.get,
                          placeholder="Pick runs to compare")


def _group_ui(sel: pd.DataFrame, ids: list[str]) -> str | None:
    """Group choice → the ``by`` for summaries.group_labels, or None for one line per run."""
    params = sorted(c for c in sel.columns if c.startswith("params.") and sel[c].notna().any())
    tags = sorted(c for c in sel.columns if c.startswith("tags.") and not c.startswith("tags.mlflow.")
                  and sel[c].notna().any())
    options = [AUTO, NONE, "seed", *params, *tags]
    auto = summaries.default_group_param(sel, ids)
    names = {AUTO: f"Automatic ({'re-runs over seeds' if auto else 'none'})", NONE: "None",
             "seed": "Re-runs differing only in seed"}
    wanted = st.session_state.get("cmp_group", AUTO)
    if wanted not in options:  # a link may say "lr" for "params.lr"
        match = [o for o in (f"params.{wanted}", f"tags.{wanted}") if o in options]
        if not match:
            ui.notice(f"Group: no param or tag named {wanted} among these runs; grouping automatically.")
        st.session_state.cmp_group = match[0] if match else AUTO
    choice = st.selectbox("Group runs", options, key="cmp_group",
                          format_func=lambda o: names.get(o, o.split(".", 1)[-1]),
                          help="Grouped runs draw one mean line with a band per group.")
    if choice == AUTO:
        return auto
    return None if choice == NONE else choice


def _controls(sel: pd.DataFrame, ids: list[str], metric_options: list[str]) -> dict:
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        if not st.session_state.get("cmp_metrics"):
            st.session_state.cmp_metrics = metrics_default(metric_options)
        ui.keep_valid("cmp_metrics", metric_options)
        metrics = st.multiselect("Metrics", metric_options, key="cmp_metrics")
        group = _group_ui(sel, ids)
    with c2:
        ui.keep_valid("cmp_x", X_CHOICES, "step")
        x = st.radio("X axis", X_CHOICES, key="cmp_x", format_func=X_LABELS.get, horizontal=True)
        smooth = st.slider("Smoothing (EMA)", 0.0, MAX_SMOOTH, step=0.01, key="cmp_smooth",
                           help="TensorBoard-style exponential moving average; the raw line stays faint.")
    with c3:
        logy = st.toggle("Log y", key="cmp_logy")
        ui.keep_valid("cmp_band", BAND_CHOICES, "std")
        band = st.radio("Group band", BAND_CHOICES, key="cmp_band", format_func=BAND_LABELS.get,
                        horizontal=True, disabled=group is None)
    steps = zoom_ui(PREFIX)
    return dict(metrics=metrics, x=x, smooth=smooth, logy=logy, group=group, band=band, steps=steps)


def _groups(sel: pd.DataFrame, ids: list[str], by: str | None) -> dict[str, str] | None:
    """run_id → group label for the chosen grouping, None when not grouped."""
    if not by:
        return None
    try:
        return summaries.group_labels(sel, ids, by)
    except ValueError as exc:
        ui.notice(f"Not grouped: {exc}")
        return None


def _charts(ids: list[str], sel: pd.DataFrame, view: dict, best: dict[str, str], live: bool) -> None:
    metrics = view["metrics"]
    curves = ui.curves(ids, metrics, step_range=view["steps"], live=live)
    totals = curves.attrs.get("total_points", {})
    labels = ui.run_labels(sel)
    starts = dict(zip(sel["run_id"], sel["start_time"]))
    groups = view["groups"]
    cols, figs = (st.columns(2) if len(metrics) > 1 else [st.container()]), []
    for i, metric in enumerate(metrics):
        part = curves[curves["metric"] == metric]
        fig = curves_figure(part, metric, x=view["x"], smooth=view["smooth"], logy=view["logy"],
                            labels=labels, start_times=starts, groups=groups, band=view["band"],
                            highlight=best.get(metric))
        fig.update_layout(title=dict(text=metric), height=380)
        figs.append(fig)
        with cols[i % len(cols)]:
            st.plotly_chart(fig, width="stretch", key=f"cmp_chart_{i}", config={"displaylogo": False})
            total = sum(n for (_, m), n in totals.items() if m == metric)
            note = points_note(len(part), total, view["steps"])
            if note:
                st.caption(note)
            if view["x"] == "epoch" and not part.empty and part["epoch"].isna().all():
                st.caption("These runs logged no `epoch` metric: switch the x axis to step.")
    share.export_ui(figs, "Runboard: compare runs", "cmp_export", note="Runs: " + ", ".join(labels[r] for r in ids))


def _live_charts(ids, sel, view, best) -> None:
    @st.fragment(run_every=LIVE_EVERY)
    def live() -> None:
        statuses = ui.runs(None).set_index("run_id")["status"].reindex(ids)
        if not (statuses == "RUNNING").any():
            st.rerun()  # the last run ended: redraw the page once, without the timer
        st.caption(f"Live: refreshing every {LIVE_EVERY} while a run is RUNNING.")
        _charts(ids, sel, view, best, live=True)

    live()


def _answers_ui(sel: pd.DataFrame, view: dict, keys: list[str]) -> tuple[str, str | None]:
    """Group tests (when grouped) and param importance; their choices for the URL."""
    with st.expander("Answers: better beyond noise? which params matter?", expanded=bool(view["groups"])):
        sig = answers.summary_ui("cmp_sig")
        metrics = [m for m in view["metrics"] if m != "epoch"]
        if view["groups"] and metrics:
            answers.significance_ui(sel, view["groups"], metrics, sig)
        else:
            st.caption("Group the runs (e.g. re-runs over seeds) to test whether one group beats another.")
        imetric = answers.importance_ui(sel, metrics or keys, sig, "cmp_imetric")
    default = next(iter(answers.importance_metrics(sel, metrics or keys)), None)
    return sig, None if imetric == default else imetric


def main() -> None:
    st.title("Compare runs")
    state, _, fresh = ui.url_state(PREFIX, _seed, KEYS)
    every = ui.read_or_stop("runs", ui.runs, None)
    if every.empty:
        ui.empty_store_ui("No runs in the store yet.")
        return
    chosen = _known_runs(every, fresh)
    ids = _runs_ui(every, chosen, state.exp)
    if not ids:
        st.info("Select runs here, or tick rows on the Runs page and press “Compare selected”.")
        ui.write_url(PREFIX, replace(state, runs=()))
        return
    sel = every.set_index("run_id", drop=False).loc[ids].reset_index(drop=True)
    completeness.compare_notice_ui(sel)
    keys = ui.metric_keys(tuple(ids))
    if not keys:
        st.info("None of these runs logged a metric yet.")
    view = _controls(sel, ids, keys)
    view["groups"] = _groups(sel, ids, view["group"])
    best = summaries.best_runs(sel, view["metrics"])
    if view["metrics"]:
        if (sel["status"] == "RUNNING").any():
            _live_charts(ids, sel, view, best)
        else:
            _charts(ids, sel, view, best, live=False)
    elif keys:
        st.info("Pick one or more metrics to chart.")
    with st.expander("Best run per metric and parameters", expanded=True):
        best_table(sel, view["metrics"] or keys)
        ui.keep_valid("cmp_diff", [True, False], True)
        only = st.toggle("Differences only", key="cmp_diff", disabled=len(ids) < 2)
        diff = summaries.param_diff(sel, ids, only_differences=only and len(ids) > 1)
        st.dataframe(short_params(diff, diff.columns), width="stretch")
    with st.expander("Parameters vs metrics"):
        explored = explore_ui(sel, keys)
    sig, imetric = _answers_ui(sel, view, keys)
    # Written last, once every widget has been drawn (and its value checked).
    ui.write_url(PREFIX, replace(state, runs=tuple(ids), metrics=tuple(view["metrics"]), x=view["x"],
                                 smooth=round(float(view["smooth"]), 2), logy=bool(view["logy"]),
                                 group=st.session_state.get("cmp_group") or None, band=view["band"],
                                 steps=view["steps"], diff=bool(only), sig=sig, imetric=imetric, **explored))


main()
