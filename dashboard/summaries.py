"""Table helpers over the runs frame: best runs, param differences, default grouping, metric columns.

Pure functions (DataFrame in, plain values out). Metric names may be given with or without the
``metrics.`` prefix; results name them without it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from dashboard.names import run_labels
from dashboard.numbers import short_number
from trainers.metrics import higher_is_better

SEED = "params.seed"
NO_VALUE = "(none)"


def _bare(metric: str) -> str:
    return metric.removeprefix("metrics.")


def _best_index(values: pd.Series, metric: str):
    """Index label of the best finite value (first one on ties), or None when there is none."""
    numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
    finite = numbers[np.isfinite(numbers)]
    if finite.empty:
        return None
    return finite.idxmax() if higher_is_better(metric) else finite.idxmin()


def best_runs(runs: pd.DataFrame, metrics: list[str]) -> dict[str, str]:
    """Per metric, the run_id with the best latest value (direction from ``higher_is_better``)."""
    out = {}
    for metric in metrics:
        name = _bare(metric)
        col = f"metrics.{name}"
        if col not in runs.columns:
            continue
        best = _best_index(runs.set_index("run_id")[col], name)
        if best is not None:
            out[name] = best
    return out


def _selected(runs: pd.DataFrame, run_ids: Iterable[str]) -> pd.DataFrame:
    """Rows for ``run_ids`` in that order; ids not in the frame are skipped."""
    by_id = runs.set_index("run_id", drop=False)
    return by_id.loc[[r for r in run_ids if r in by_id.index]]


def _param_cols(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("params."))


def _labels(df: pd.DataFrame) -> list[str]:
    """Run names as column labels; ids disambiguate missing or repeated names."""
    labels = run_labels(df)
    return [labels[r] for r in df["run_id"]]


def _as_text(values: pd.Series) -> pd.Series:
    """Values as comparable text with missing as its own value (NaN != NaN would hide it)."""
    return values.astype(object).where(values.notna(), NO_VALUE).astype(str)


def param_diff(runs: pd.DataFrame, run_ids, only_differences: bool = True) -> pd.DataFrame:
    """Params of the selected runs: rows = param name (no prefix), columns = run labels."""
    df = _selected(runs, run_ids)
    cols = _param_cols(df)
    table = df[cols].T
    table.columns = _labels(df)
    table.index = [c.removeprefix("params.") for c in cols]
    if only_differences and not table.empty:
        text = table.apply(_as_text)
        table = table[text.nunique(axis=1) > 1]
    table.index.name = "param"
    return table


def _seed_keys(df: pd.DataFrame) -> pd.Series:
    """Per run, a key of every param except the seed (runs with equal keys are re-runs)."""
    others = [c for c in _param_cols(df) if c != SEED]
    if not others:
        return pd.Series("", index=df.index)
    text = df[others].apply(_as_text)
    return text.apply(lambda row: "\x1f".join(row), axis=1)


def default_group_param(runs: pd.DataFrame, run_ids) -> str | None:
    """``"seed"`` when ≥ 2 selected runs share every param but the seed, else None."""
    df = _selected(runs, run_ids)
    if SEED not in df.columns or len(df) < 2 or df[SEED].notna().sum() < 2:
        return None
    return "seed" if _seed_keys(df).duplicated().any() else None


def _resolve(runs: pd.DataFrame, by: str) -> str:
    for col in (by, f"params.{by}", f"tags.{by}"):
        if col in runs.columns:
            return col
    raise ValueError(f"cannot group by {by!r}: no such param or tag")


def group_labels(runs: pd.DataFrame, run_ids, by: str) -> dict[str, str]:
    """run_id → group label, grouping by a param/tag column, or by "all params but the seed".

    With ``by="seed"`` the label is the params that tell the groups apart (``lr=0.01 model=cnn``),
    or ``"all runs"`` when only the seed differs. Numbers read in 3 significant digits
    (``lr=0.00316``) while that still tells every group apart. Raises ValueError for an unknown column.
    """
    whole = _group_text(runs, run_ids, by, str)
    short = _group_text(runs, run_ids, by, short_number)
    return short if len(set(short.values())) == len(set(whole.values())) else whole


def _group_text(runs: pd.DataFrame, run_ids, by: str, fmt) -> dict[str, str]:
    df = _selected(runs, run_ids)
    if by != "seed":
        col = _resolve(runs, by)
        return dict(zip(df["run_id"], _as_text(df[col]).map(fmt)))
    others = [c for c in _param_cols(df) if c != SEED]
    text = df[others].apply(_as_text) if others else pd.DataFrame(index=df.index)
    differing = [c for c in others if text[c].nunique() > 1]
    labels = {}
    for rid, (_, row) in zip(df["run_id"], text.iterrows()):
        parts = [f"{c.removeprefix('params.')}={fmt(row[c])}" for c in differing]
        labels[rid] = " ".join(parts) or "all runs"
    return labels


def metric_column(runs: pd.DataFrame, at_best: pd.DataFrame | None, metric: str, how) -> pd.Series:
    """Value shown in a runs-table metric column, indexed by run_id.

    ``how``: ``"last" | "min" | "max"`` read the runs frame; ``("at_best", other)`` is ``metric``
    at the step where ``other`` is best (earliest such step; the nearest step of ``metric`` when it
    was not logged there), read from ``at_best``: ``dashboard.data.at_best``'s rows for ``other``.
    """
    name = _bare(metric)
    index = pd.Index(runs["run_id"], name="run_id")
    if how in ("last", "min", "max"):
        col = f"metrics.{name}" + ("" if how == "last" else f".{how}")
        if col not in runs.columns:
            return pd.Series(np.nan, index=index, name=col)
        return pd.Series(runs[col].to_numpy(dtype=np.float64), index=index, name=col)
    if not (isinstance(how, tuple) and len(how) == 2 and how[0] == "at_best"):
        raise ValueError(f"how must be 'last', 'min', 'max' or ('at_best', metric), not {how!r}")
    other = _bare(how[1])
    found = {} if at_best is None else {
        r: v for r, m, v in zip(at_best["run_id"], at_best["metric"], at_best["value"]) if m == name}
    values = [found.get(rid, np.nan) for rid in runs["run_id"]]
    return pd.Series(values, index=index, dtype=np.float64, name=f"{name} @ best {other}")
