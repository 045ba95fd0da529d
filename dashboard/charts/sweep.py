"""A sweep's results: its trials as one table, the objective against the trial number with the
best so far, and parallel coordinates of the swept fields.

A trial counts towards the best the way the sweep itself picks its best trial
(``experiments.sweeps``): FINISHED with a finite value of the objective metric. ``direction`` is
the sweep's own (``minimize`` | ``maximize``), never guessed from the metric's name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts._style import empty_figure, plain
from dashboard.charts.runs import parallel_figure
from dashboard.names import run_name
from trainers import pruning
from trainers.run_tags import (
    ERROR,
    PROGRESS_EPOCH,
    PROGRESS_MAX_EPOCHS,
    PROGRESS_STEP,
    PROGRESS_TOTAL_STEPS,
    SWEEP_TRIAL,
)

TRIAL = "trial"
SCORED = "scored"  # counts towards the best (see the module docstring)
_TRIAL_COL = f"tags.{SWEEP_TRIAL}"
_INFO = ["run_id", "run_name", "status", "duration_s"]
PRUNED_AT = "pruned_at"  # the epoch early stopping ended the trial at, else NaN
# trial column <- the trainer's progress tag: compute run, and the budget of the trial run to the end
_PROGRESS = {"steps": PROGRESS_STEP, "max_steps": PROGRESS_TOTAL_STEPS, "epochs": PROGRESS_EPOCH,
             "max_epochs": PROGRESS_MAX_EPOCHS}


def objective_column(metric: str) -> str:
    return f"metrics.{metric}"


def trials_table(children: pd.DataFrame, fields: Sequence[str], metric: str) -> pd.DataFrame:
    """``children`` (runs-frame rows of the parent's trials) → one row per trial in trial order:
    ``trial``, run_id, run_name, status, duration_s, ``params.<field>`` per swept field (numbers
    where every recorded value is one), ``metrics.<metric>`` (latest value), ``scored``, the
    compute it ran against its budget (steps, max_steps, epochs, max_epochs) and ``pruned_at``."""
    df = children.reset_index(drop=True)
    numbers = pd.to_numeric(df.get(_TRIAL_COL, pd.Series(np.nan, index=df.index)), errors="coerce")
    if numbers.isna().any():  # runs nested by hand carry no trial number: their creation order is one
        numbers = df["queued_time"].rank(method="first") - 1
    out = pd.DataFrame({TRIAL: numbers})
    for col in _INFO:
        out[col] = df[col] if col in df else None
    for field in fields:
        out[f"params.{field}"] = _numbers_if_all(
            df.get(f"params.{field}", pd.Series(None, index=df.index, dtype=object))
        )
    value = pd.to_numeric(df.get(objective_column(metric), pd.Series(np.nan, index=df.index)), errors="coerce")
    out[objective_column(metric)] = value
    out[SCORED] = (out["status"] == "FINISHED") & np.isfinite(value.to_numpy(np.float64))
    for col, tag in _PROGRESS.items():
        out[col] = pd.to_numeric(df.get(f"tags.{tag}", pd.Series(np.nan, index=df.index)), errors="coerce")
    errors = df.get(f"tags.{ERROR}", pd.Series(None, index=df.index, dtype=object))
    pruned = [pruning.pruned_epoch(e) if isinstance(e, str) else None for e in errors]
    out[PRUNED_AT] = pd.Series([np.nan if e is None else float(e) for e in pruned], index=df.index)
    out.loc[out["status"] != "KILLED", PRUNED_AT] = np.nan  # only a trial that ended by it was pruned
    out[TRIAL] = out[TRIAL].astype("int64")
    return out.sort_values(TRIAL, kind="stable").reset_index(drop=True)


def pruning_savings(trials: pd.DataFrame) -> dict | None:
    """What early stopping saved over the trials that ended: ``{"pruned", "ended", "steps",
    "max_steps", "epochs", "max_epochs", "saved"}`` (``saved``: the steps pruned trials did not run,
    as a fraction of the budget, a full run per trial — a trial that failed early saved nothing);
    None before any ended trial reported its budget."""
    done = trials[trials["status"].isin(["FINISHED", "FAILED", "KILLED"]) & (trials["max_steps"] > 0)]
    if done.empty:
        return None
    pruned = done[done[PRUNED_AT].notna()]
    budget = float(done["max_steps"].sum())
    return {
        "pruned": len(pruned),
        "ended": len(done),
        "steps": int(done["steps"].fillna(0).sum()),
        "max_steps": int(budget),
        "epochs": int(done["epochs"].fillna(0).sum()),
        "max_epochs": int(done["max_epochs"].fillna(0).sum()),
        "saved": float((pruned["max_steps"] - pruned["steps"].fillna(0)).sum()) / budget,
    }


def _numbers_if_all(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    present = values.notna()
    return numbers if present.any() and numbers[present].notna().all() else values


def best_trial(trials: pd.DataFrame, metric: str, direction: str) -> pd.Series | None:
    """The scored trial with the best objective (the earliest on a tie), or None."""
    scored = trials[trials[SCORED]]
    if scored.empty:
        return None
    values = scored[objective_column(metric)]
    return scored.loc[values.idxmax() if direction == "maximize" else values.idxmin()]


def best_so_far(values: np.ndarray, direction: str) -> np.ndarray:
    """Running best of ``values`` in order: the lowest so far when minimising, else the highest."""
    if not len(values):
        return values
    return (np.maximum if direction == "maximize" else np.minimum).accumulate(values)


def objective_figure(trials: pd.DataFrame, metric: str, direction: str) -> go.Figure:
    """Each scored trial's objective (y) against its trial number (x), the best so far as a step
    line and the best trial marked; hover names the trial's run."""
    scored = trials[trials[SCORED]]
    if scored.empty:
        return empty_figure(f"No trial has finished with a value of {plain(metric)} yet")
    x = scored[TRIAL].to_numpy()
    y = scored[objective_column(metric)].to_numpy(np.float64)
    names = [plain(run_name(n, r)) for n, r in zip(scored["run_name"], scored["run_id"])]
    best = best_trial(trials, metric, direction)
    word = "lowest" if direction == "minimize" else "highest"
    fig = go.Figure([
        go.Scatter(x=x, y=y, mode="markers", name="trial", text=names, customdata=scored["run_id"].to_numpy(object),
                   hovertemplate="trial %{x}: %{text}<br>%{y:.4g}<extra></extra>", marker=dict(size=9),
                   meta={"role": "trial"}),
        go.Scatter(x=x, y=best_so_far(y, direction), mode="lines", line=dict(shape="hv", width=2),
                   name=f"best so far ({word})", hovertemplate="best so far %{y:.4g}<extra></extra>",
                   meta={"role": "best_so_far"}),
        go.Scatter(x=[best[TRIAL]], y=[best[objective_column(metric)]], mode="markers", name="best trial",
                   marker=dict(symbol="star", size=16, line=dict(width=1, color="black")),
                   hovertemplate="best: trial %{x}<br>%{y:.4g}<extra></extra>",
                   meta={"role": "best", "run_id": best["run_id"]}),
    ])
    fig.update_layout(xaxis_title="Trial", yaxis_title=plain(metric), height=400,
                      legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),  # between the title and the plot
                      margin=dict(l=10, r=10, t=90, b=10))
    fig.update_xaxes(tickformat="d")
    return fig


def sweep_parallel_figure(trials: pd.DataFrame, fields: Sequence[str], metric: str, direction: str) -> go.Figure:
    """Parallel coordinates of the scored trials: one axis per swept field, the objective last,
    coloured so that the sweep's better end has the same colour whatever its direction."""
    scored = trials[trials[SCORED]]
    if scored.empty:
        return empty_figure(f"No trial has finished with a value of {plain(metric)} yet")
    fig = parallel_figure(scored, [f"params.{f}" for f in fields], objective_column(metric),
                          higher_better=direction == "maximize")
    fig.update_traces(line_showscale=False)  # the objective's own axis, last, already reads the colour
    fig.update_layout(height=400, margin=dict(l=60, r=60, t=90, b=20))  # room for a title above the axis labels
    return fig
