"""Runs: pick an experiment, filter, choose columns and values, select runs to compare, export CSV."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import answers, chart_controls, query, reads, runs_table, url_sync, views_ui, workspace
from dashboard.names import column_label
from dashboard.runs_columns import column_options, default_columns, main_metrics
from dashboard.text import notice
from dashboard.viewstate import ViewState
from trainers.run_tags import SPEC

PREFIX = "runs"
SHOW = {"last": "Last", "min": "Min", "max": "Max", "best": "At best epoch of…"}
KEYS = ("runs_exp", "runs_q", "runs_cols", "runs_allp", "runs_show", "runs_best", "runs_sort", "runs_desc",
        *chart_controls.keys(workspace.PREFIX))
DEFAULT_SORT = "start_time"
SPEC_COL = f"tags.{SPEC}"  # set on runs launched by Runboard


def _seed(state: ViewState, params: dict[str, str]) -> None:
    st.session_state.runs_exp = state.exp
    st.session_state.runs_q = state.q
    st.session_state.runs_cols = list(state.cols)
    st.session_state.runs_cols_auto = not state.cols  # () = the default columns for the runs in view
    st.session_state.runs_allp = params.get("allp") == "1"
    chart_controls.seed(workspace.PREFIX, state)
    show = params.get("show", "last")
    if show not in SHOW:
        notice(f"Link: show={show[:40]} is not one of {', '.join(SHOW)}; using last")
        show = "last"
    st.session_state.runs_show = show
    st.session_state.runs_best = params.get("best")
    sort = state.sort or f"-{DEFAULT_SORT}"
    st.session_state.runs_sort = sort.removeprefix("-")
    st.session_state.runs_desc = sort.startswith("-")
    st.session_state.runs_sig, st.session_state.runs_imetric = state.sig, state.imetric
    st.session_state.runs_sig_by = state.sigby


def _pick_experiment(exps: pd.DataFrame, wanted: str | None) -> None:
    """Before the picker is drawn: an unknown id in the link gets a notice and a sensible default."""
    ids = list(exps["experiment_id"])
    current = st.session_state.get("runs_exp")
    if current in ids:
        return
    if current is not None and current == wanted:
        notice(f"Link: experiment {current} does not exist (or was deleted); showing another one.")
    with_runs = exps[exps.get("n_runs", pd.Series(1, index=exps.index)) > 0]
    st.session_state.runs_exp = (with_runs if not with_runs.empty else exps)["experiment_id"].iloc[-1]


def _filter(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows the filter keeps; a bad filter says why and keeps every row."""
    if not text.strip():
        return frame
    try:
        return query.apply(frame, text)
    except query.QueryError as exc:
        notice(f"Filter not applied: {exc}")
        return frame


def _value_choice(metrics: list[str]):
    """(how, label) for metric columns: "last" | "min" | "max" | ("at_best", other)."""
    c1, c2 = st.columns([1, 1])
    with c1:
        url_sync.keep_valid("runs_show", list(SHOW), "last")
        show = st.radio("Metric columns show", list(SHOW), format_func=SHOW.get, key="runs_show",
                        horizontal=True)
    if show != "best":
        return show, None
    if not metrics:
        return "last", None
    plain = [m for m in metrics if m != "epoch"] or metrics
    default = "val/loss" if "val/loss" in metrics else plain[0]
    url_sync.keep_valid("runs_best", metrics, default)
    with c2:
        other = st.selectbox("Best epoch of", metrics, key="runs_best",
                             help="Each metric column shows its value at the step where this "
                                  "metric was best (lowest loss, highest accuracy).")
    return ("at_best", other), other


def _auto_columns(on: bool) -> None:
    st.session_state.runs_cols_auto = on


def _columns_ui(frame: pd.DataFrame, shown: pd.DataFrame, metrics: list[str]) -> list[str]:
    """The columns: the defaults for the runs in view (they follow the filter) until the user
    picks columns; the toggle goes back to the defaults, with every param or only those that vary."""
    every = st.toggle("Show every param", key="runs_allp", on_change=_auto_columns, args=(True,),
                      help="Off: only the params that differ among the runs in view.")
    options = column_options(frame, metrics)
    if st.session_state.get("runs_cols_auto", True):
        st.session_state.runs_cols = default_columns(shown if len(shown) else frame, metrics, every)
    url_sync.keep_valid("runs_cols", options)
    return st.multiselect("Columns", options, key="runs_cols", format_func=column_label,
                          on_change=_auto_columns, args=(False,),
                          placeholder="Choose params, metrics and tags to show")


def _sort_ui(columns: list[str]) -> str:
    options = [DEFAULT_SORT, "run_name", "status", "duration_s", *columns]
    options = list(dict.fromkeys(options))
    c1, c2 = st.columns([3, 1])
    with c1:
        url_sync.keep_valid("runs_sort", options, DEFAULT_SORT)
        col = st.selectbox("Sort by", options, key="runs_sort", format_func=column_label)
    with c2:
        desc = st.toggle("Descending", key="runs_desc")
    return ("-" if desc else "") + col


def _clonable(frame: pd.DataFrame, run_id: str) -> bool:
    """Launched by Runboard: the run carries the launch spec the form is pre-filled from."""
    if SPEC_COL not in frame.columns:
        return False
    spec = frame.loc[frame["run_id"] == run_id, SPEC_COL]
    return bool(spec.notna().any() and (spec.astype(str) != "").any())


def _actions(selected: list[str], exp: str, table: pd.DataFrame, exp_name: str, frame: pd.DataFrame) -> None:
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
    n = len(selected)
    if c1.button(f"Compare selected ({n})", type="primary", disabled=n == 0, key="runs_compare"):
        st.switch_page("app_pages/compare.py", query_params={"exp": exp, "runs": ",".join(selected)})
    if c2.button("Open run", disabled=n != 1, key="runs_open",
                 help="Select exactly one row to open its run page."):
        st.switch_page("app_pages/run.py", query_params={"run": selected[0]})
    if c3.button("Clone selected", disabled=n != 1 or not _clonable(frame, selected[0]), key="runs_clone",
                 help="Select exactly one run launched by Runboard to open the Launch form pre-filled "
                      "with its params."):
        st.switch_page("app_pages/launch.py", query_params={"clone": selected[0]})
    c4.download_button("Download CSV", runs_table.to_csv(table), key="runs_csv",
                       file_name=f"runs-{runs_table.safe_filename(exp_name)}.csv", mime="text/csv")


def _importance(shown: pd.DataFrame, metrics: list[str]) -> dict:
    """Which params matter for the filtered runs (issue 17); its choices for the URL."""
    with st.expander(f"Which params matter? ({len(shown)} filtered runs)"):
        sig = answers.summary_ui("runs_sig", metrics)
        imetric, _ = answers.importance_ui(shown, metrics, sig, "runs_imetric")
    default = next(iter(answers.importance_metrics(shown, metrics)), None)
    return {**answers.url_choice(sig), "imetric": None if imetric == default else imetric}


def experiment_ui(exps: pd.DataFrame, key: str) -> str:
    """Experiment picker over ``experiment_id`` values, labelled with names and run counts."""
    names = dict(zip(exps["experiment_id"], exps["name"]))
    counts = dict(zip(exps["experiment_id"], exps.get("n_runs", pd.Series(dtype=int))))

    def label(eid: str) -> str:
        n = counts.get(eid)
        return f"{names[eid]} ({n} runs)" if n is not None and n == n else names[eid]

    return st.selectbox("Experiment", list(names), format_func=label, key=key)


def main() -> None:
    st.title("Runs")
    exps = reads.read_or_stop("experiments", reads.experiments)
    if exps.empty:
        reads.empty_store_ui("No experiments yet.")
        return
    if (opened := views_ui.to_open(exps)) is not None:  # a saved view: as if its link was opened
        st.query_params.from_dict(opened)
    state, _, _ = url_sync.url_state(PREFIX, _seed, KEYS)
    _pick_experiment(exps, state.exp)
    c1, c2 = st.columns([1, 2])
    with c1:
        exp = experiment_ui(exps, "runs_exp")
    with c2:
        q = st.text_input("Filter", key="runs_q",
                          placeholder='val/acc > 0.9 and (lr < 0.01 or model = "cnn")',
                          help="and / or / not, = != < <= > >=, ~ (contains), in (…); names are "
                               "metrics, params or tags, e.g. family = mlp, status = running.")
    views_ui.views_ui(exp)
    frame = reads.read_or_stop("runs", reads.runs, (exp,))
    exp_name = str(exps.set_index("experiment_id").at[exp, "name"])
    if frame.empty:
        reads.empty_store_ui(f"Experiment “{exp_name}” has no runs yet.")
        url_sync.write_url(PREFIX, replace(state, exp=exp, q=q))
        return
    metrics = runs_table.metric_names(frame)
    shown = _filter(frame, q)
    with st.expander("Columns and sorting", expanded=False):
        how, best = _value_choice(metrics)
        cols = _columns_ui(frame, shown, metrics)
        sort = _sort_ui(cols)
    at_best = None
    if isinstance(how, tuple) and not shown.empty:
        wanted = tuple(sorted(c.removeprefix("metrics.") for c in cols if c.startswith("metrics.")))
        at_best = reads.at_best(tuple(shown["run_id"]), wanted, best)
    table = runs_table.build(shown, cols, how, at_best, sort)
    colour_of = workspace.colours(table)
    st.caption(f"{len(shown)} of {len(frame)} runs · select rows to compare them")
    selected = runs_table.table_ui(table, key="runs_table", colours=colour_of)
    _actions(selected, exp, table, exp_name, frame)
    charts = _workspace(table, shown, selected, metrics, colour_of)
    answered = _importance(shown, metrics)
    view = replace(state, exp=exp, q=q, cols=() if st.session_state.get("runs_cols_auto", True) else tuple(cols),
                   sort=None if sort == f"-{DEFAULT_SORT}" else sort, **charts, **answered)
    show = "best" if isinstance(how, tuple) else how
    url_sync.write_url(PREFIX, view, {"show": "" if show == "last" else show,
                                      "best": best if show == "best" else "",
                                      "allp": "1" if st.session_state.get("runs_allp") else ""})


def _workspace(table: pd.DataFrame, shown: pd.DataFrame, selected: list[str], metrics: list[str],
               colour_of: dict[str, str]) -> dict:
    """The charts under the table; their choices as ViewState fields ({} when nothing is in view)."""
    if table.empty:
        return {}
    st.subheader("Workspace")
    main = main_metrics(shown, metrics)
    view = workspace.workspace_ui(table, shown, selected, metrics, main, colour_of)
    fields = chart_controls.view_fields(workspace.PREFIX, view)
    if st.session_state.get(f"{workspace.PREFIX}_metrics_auto", True):
        fields["metrics"] = ()  # the default: the main metrics of whatever runs are in view
    return fields


main()
