"""Compare: overlay the selected runs' curves, group them over seeds, diff their params."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import answers, chart_controls, completeness, reads, share, summaries, url_sync
from dashboard.compare_explorer import best_table, explore_seed, explore_ui, metrics_default
from dashboard.names import run_labels
from dashboard.numbers import short_params
from dashboard.text import notice
from dashboard.viewstate import ViewState

PREFIX = "cmp"
EXPORT_TITLE = "Runboard: compare runs"
KEYS = ("cmp_runs", *chart_controls.keys(PREFIX), "cmp_diff", "cmp_sig", "cmp_imetric", "cmp_explore")


def _seed(state: ViewState, params: dict[str, str]) -> None:
    ss = st.session_state
    ss.cmp_runs = list(state.runs)
    chart_controls.seed(PREFIX, state)
    ss.cmp_diff = state.diff
    ss.cmp_sig, ss.cmp_imetric, ss.cmp_sig_by = state.sig, state.imetric, state.sigby
    for key, value in explore_seed(state).items():  # widgets drawn (and checked) further down
        ss[key] = value
    ss.cmp_explore = bool(state.pmetric or state.pparams or state.sparam)  # a link's explorer opens


def _known_runs(every: pd.DataFrame, fresh: bool) -> list[str]:
    """Selected ids that exist; ids from a stale or hostile link are dropped with a notice."""
    wanted = st.session_state.get("cmp_runs", [])
    known = set(every["run_id"])
    kept = [r for r in wanted if r in known]
    if fresh and len(kept) < len(wanted):
        n = len(wanted) - len(kept)
        notice(f"Link: {n} run id(s) are not in this store (deleted, or never existed) and "
               f"were dropped; showing the other {len(kept)}.")
    st.session_state.cmp_runs = kept
    return kept


def _runs_ui(every: pd.DataFrame, chosen: list[str], exp: str | None) -> list[str]:
    """Run picker: runs of the chosen runs' experiments (or the link's experiment), newest first."""
    exps = set(every.loc[every["run_id"].isin(chosen), "experiment_id"]) or ({exp} if exp else set())
    pool = every[every["experiment_id"].isin(exps)] if exps else every
    pool = pd.concat([every[every["run_id"].isin(chosen)], pool.head(500)]).drop_duplicates("run_id")
    labels = run_labels(pool)
    return st.multiselect("Runs", list(pool["run_id"]), key="cmp_runs", format_func=labels.get,
                          placeholder="Pick runs to compare")


def _answers_ui(sel: pd.DataFrame, view: dict, keys: list[str]) -> tuple[dict, dict]:
    """Group tests (when grouped) and param importance: (their choices for the URL, what the HTML
    export adds)."""
    tables = []
    with st.expander("Answers: better beyond noise? which params matter?", expanded=bool(view["groups"])):
        metrics = [m for m in view["metrics"] if m != "epoch"]
        sig = answers.summary_ui("cmp_sig", keys)
        if view["groups"] and metrics:
            tables = answers.significance_ui(sel, view["groups"], metrics, sig)
        else:
            st.caption("Group the runs (e.g. re-runs over seeds) to test whether one group beats another.")
        imetric, fig = answers.importance_ui(sel, metrics or keys, sig, "cmp_imetric")
    default = next(iter(answers.importance_metrics(sel, metrics or keys)), None)
    urls = {**answers.url_choice(sig), "imetric": None if imetric == default else imetric}
    return urls, {"tables": tables, "answer_figures": [fig] if fig is not None else []}


def main() -> None:
    st.title("Compare runs")
    state, _, fresh = url_sync.url_state(PREFIX, _seed, KEYS)
    every = reads.read_or_stop("runs", reads.runs, None)
    if every.empty:
        reads.empty_store_ui("No runs in the store yet.")
        return
    chosen = _known_runs(every, fresh)
    ids = _runs_ui(every, chosen, state.exp)
    if not ids:
        st.info("Select runs here, or tick rows on the Runs page and press “Compare selected”.")
        url_sync.write_url(PREFIX, replace(state, runs=()))
        return
    sel = every.set_index("run_id", drop=False).loc[ids].reset_index(drop=True)
    completeness.compare_notice_ui(sel)
    keys = reads.metric_keys(tuple(ids))
    if not keys:
        st.info("None of these runs logged a metric yet.")
    view = chart_controls.controls_ui(PREFIX, sel, ids, keys, metrics_default(keys))
    view["groups"] = chart_controls.groups(sel, ids, view["group"])
    best = summaries.best_runs(sel, view["metrics"])
    drawn = slot = None
    if view["metrics"]:
        # Drawn once (no run is RUNNING): the download comes under the charts, with the answers.
        drawn = chart_controls.charts_or_live_ui(PREFIX, ids, sel, view, best, EXPORT_TITLE, export=False)
        slot = st.container()
    elif keys:
        st.info("Pick one or more metrics to chart.")
    with st.expander("Best run per metric and parameters", expanded=True):
        best_table(sel, view["metrics"] or keys)
        url_sync.keep_valid("cmp_diff", [True, False], True)
        only = st.toggle("Differences only", key="cmp_diff", disabled=len(ids) < 2)
        diff = summaries.param_diff(sel, ids, only_differences=only and len(ids) > 1)
        st.dataframe(short_params(diff, diff.columns), width="stretch")
    # Its charts are drawn only while it is open (on_change="rerun" tells the script).
    explorer = st.expander("Parameters vs metrics", key="cmp_explore", on_change="rerun")
    with explorer:
        explored = explore_ui(sel, keys, draw=bool(explorer.open))
    answered, exported = _answers_ui(sel, view, keys)
    if drawn:
        with slot:
            share.export_ui(drawn, EXPORT_TITLE, "cmp_export", note=chart_controls.runs_note(sel, ids), **exported)
    # Written last, once every widget has been drawn (and its value checked).
    url_sync.write_url(PREFIX, replace(state, runs=tuple(ids), **chart_controls.view_fields(PREFIX, view),
                                       diff=bool(only), **answered, **explored))


main()
