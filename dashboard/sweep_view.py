"""Run page section for a sweep's parent run: its trials as a table (swept fields, status, the
objective), the objective against the trial number with the best so far, and parallel coordinates
of the trials — in place of the parent's own curves (a single ``best/<metric>`` point at the end).
Reads go through ``dashboard.reads`` (cached ``dashboard.data``), never MLflow directly."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.charts._style import plain
from dashboard.charts.sweep import (
    PRUNED_AT,
    SCORED,
    TRIAL,
    best_trial,
    objective_column,
    objective_figure,
    pruning_savings,
    sweep_parallel_figure,
    trials_table,
)
from dashboard.names import run_name
from dashboard.text import md_text, notice
from experiments import sweeps
from experiments.sweeps import Definition
from trainers.run_tags import SWEEP_TRIAL

_WORDS = {"minimize": "lower is better", "maximize": "higher is better"}


def definition(info: dict) -> Definition | None:
    """The sweep this run is the parent of (from its tags), else None."""
    return sweeps.definition(info.get("tags", {}))


def parent_link(info: dict) -> None:
    """A trial's way back to its sweep's results (any nested run's to its parent), in this tab."""
    pid = info.get("parent_run_id")
    parent = reads.run(pid) if pid else None
    if parent is None:  # not nested, or the parent was deleted
        return
    name = run_name(parent.get("run_name"), pid)
    trial = info.get("tags", {}).get(SWEEP_TRIAL)
    label = f"Trial {trial} of sweep {name}" if trial is not None and definition(parent) else f"Parent run {name}"
    st.page_link("app_pages/run.py", label=md_text(label), icon=":material/arrow_upward:", query_params={"run": pid})


def section(rid: str, experiment_id: str, sweep: Definition) -> None:
    """Draw the sweep's results; a sweep with no trials yet says so."""
    trials = trials_table(reads.read_or_stop("the sweep's trials", reads.children, rid), sweep.fields, sweep.metric)
    st.subheader("Sweep")
    st.caption(md_text(f"{sweep.kind.capitalize()} sweep over {', '.join(sweep.fields)} · objective "
                       f"{sweep.metric} ({_WORDS.get(sweep.direction, sweep.direction)}) · "
                       f"{len(trials)} of {sweep.budget} trials queued, {int(trials[SCORED].sum())} scored"))
    if trials.empty:
        st.info("No trials yet: the queue worker creates them as the sweep advances.")
        return
    if sweep.prune or trials[PRUNED_AT].notna().any():
        _savings(trials, sweep.prune)
    best = best_trial(trials, sweep.metric, sweep.direction)
    if best is not None:
        notice(f"Best so far: trial {best[TRIAL]} ({_name(best)}), {sweep.metric} = "
               f"{best[objective_column(sweep.metric)]:.4g}", "success")
    selected = _table_ui(trials, sweep)
    _actions(selected, best, experiment_id, trials)
    c1, c2 = st.columns(2)
    with c1:
        fig = objective_figure(trials, sweep.metric, sweep.direction)
        fig.update_layout(title=dict(text=f"{plain(sweep.metric)} by trial", y=0.97, yanchor="top"))
        st.plotly_chart(fig, width="stretch", key="run_sweep_objective", config={"displaylogo": False})
    with c2:
        fig = sweep_parallel_figure(trials, sweep.fields, sweep.metric, sweep.direction)
        fig.update_layout(title=dict(text="Swept fields", y=0.97, yanchor="top"))
        st.plotly_chart(fig, width="stretch", key="run_sweep_parallel", config={"displaylogo": False})


def _savings(trials: pd.DataFrame, rule: str | None) -> None:
    """How much compute early stopping saved: steps and epochs run against a full run per trial."""
    saved = pruning_savings(trials)
    label = f"Early stopping ({rule})" if rule else "Early stopping"
    if saved is None:
        st.caption(f"{label}: no trial has ended yet.")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric(label, f"{saved['pruned']} of {saved['ended']} pruned", help="Trials stopped early, of those that ended.")
    c2.metric("Steps run", f"{saved['steps']:,} of {saved['max_steps']:,}",
              help="Training steps the ended trials ran, against each running to the end.")
    c3.metric(
        "Compute saved", f"{saved['saved']:.0%}", help=f"Epochs run: {saved['epochs']:,} of {saved['max_epochs']:,}."
    )


def _name(row: pd.Series) -> str:
    return run_name(row["run_name"], row["run_id"])


def _table_ui(trials: pd.DataFrame, sweep: Definition) -> str | None:
    """The trials table with single-row selection; returns the selected trial's run id."""
    objective = objective_column(sweep.metric)
    fields = [f"params.{f}" for f in sweep.fields]
    pruned = [PRUNED_AT] if trials[PRUNED_AT].notna().any() else []
    config = {
        TRIAL: st.column_config.NumberColumn("Trial", format="%d"),
        "run_name": st.column_config.TextColumn("Run"),
        "status": st.column_config.TextColumn("Status"),
        objective: st.column_config.NumberColumn(sweep.metric, format="%.4g"),
        "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.0f"),
        PRUNED_AT: st.column_config.NumberColumn("Pruned at epoch", format="%d"),
        **{c: _field_column(trials[c], c.removeprefix("params.")) for c in fields},
    }
    event = st.dataframe(trials, key="run_sweep_trials", on_select="rerun", selection_mode="single-row",
                         hide_index=True, column_config=config, width="stretch",
                         column_order=[TRIAL, "run_name", "status", *fields, objective, *pruned, "duration_s"])
    rows = [i for i in event.selection.rows if 0 <= i < len(trials)]
    return trials["run_id"].iloc[rows[0]] if rows else None


def _field_column(values: pd.Series, label: str):
    """Whole numbers as such, other numbers to 4 significant digits (a log-uniform learning rate
    has 17), text as recorded."""
    if not pd.api.types.is_numeric_dtype(values):
        return st.column_config.TextColumn(label)
    whole = values.dropna().eq(values.dropna().round()).all()
    return st.column_config.NumberColumn(label, format="%d" if whole else "%.4g")


def _actions(selected: str | None, best: pd.Series | None, experiment_id: str, trials: pd.DataFrame) -> None:
    """Open a trial's own page or compare the trials' curves, in this tab."""
    c1, c2, c3 = st.columns(3)
    if c1.button("Open trial", disabled=selected is None, key="run_sweep_open",
                 help="Select one row of the table to open that trial's run page."):
        st.switch_page("app_pages/run.py", query_params={"run": selected})
    if c2.button("Open best trial", disabled=best is None, key="run_sweep_best"):
        st.switch_page("app_pages/run.py", query_params={"run": best["run_id"]})
    if c3.button("Compare trials", key="run_sweep_compare", help="Every trial's curves on the Compare page."):
        st.switch_page("app_pages/compare.py", query_params={"exp": experiment_id, "runs": ",".join(trials["run_id"])})
