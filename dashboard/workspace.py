"""The Runs page's workspace: a grid of curve charts of the runs in view (or the selected ones),
with Compare's controls, each run in the colour its name has in the runs table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import chart_controls, summaries
from dashboard.charts._style import palette

PREFIX = "runs_ws"
MAX_RUNS = 20  # lines per chart before a chart stops being readable (and the read slow)


def colours(table: pd.DataFrame) -> dict[str, str]:
    """run_id → colour, by the run's row in the sorted table: the same in table and charts."""
    ids = list(table["run_id"])
    return dict(zip(ids, palette(len(ids))))


def drawn(table: pd.DataFrame, selected: list[str]) -> tuple[list[str], str]:
    """The run ids to chart and a caption saying which: the selected rows, else the first
    ``MAX_RUNS`` rows of the table in its sort order."""
    if selected:
        ids = selected[:MAX_RUNS]
        return ids, f"Charting the {len(ids)} selected run(s)" + (
            f" (the first {MAX_RUNS} of {len(selected)})" if len(selected) > MAX_RUNS else "") + "."
    ids = list(table["run_id"])[:MAX_RUNS]
    if len(table) > MAX_RUNS:
        return ids, (f"Charting the first {MAX_RUNS} of {len(table)} runs in view, in the table's sort "
                     "order: sort, filter or select rows to chart others.")
    return ids, f"Charting the {len(ids)} run(s) in view; select rows to chart only those."


def workspace_ui(table: pd.DataFrame, shown: pd.DataFrame, selected: list[str], metrics: list[str],
                 main: list[str], colour_of: dict[str, str]) -> dict:
    """The controls and the charts; returns the controls' choices (chart_controls.controls_ui)."""
    ids, note = drawn(table, selected)
    sel = shown.set_index("run_id", drop=False).loc[ids].reset_index(drop=True)
    with st.expander("Workspace settings", expanded=False):
        view = chart_controls.controls_ui(PREFIX, sel, ids, metrics, main, follow=True)
    view["groups"] = chart_controls.groups(sel, ids, view["group"])
    st.caption(note)
    if not view["metrics"]:
        st.info("Pick one or more metrics to chart in the workspace settings.")
        return view
    best = summaries.best_runs(sel, view["metrics"])
    chart_controls.charts_or_live_ui(PREFIX, ids, sel, view, best, "Runboard: runs",
                                     colours=None if view["groups"] else colour_of)
    return view
