"""Which runs-table columns show by default, in which order, under which labels.

Pure functions over the runs frame (DataFrame in, column names out). The table leads with results:
the main metrics (the families' primary metrics first), then the params that tell the runs in view
apart, then times and tags. A default column is never empty for every run in view.
"""

from __future__ import annotations

import pandas as pd

from trainers.metrics import PRIMARY, is_main
from trainers.run_tags import FAMILY, RUN_NAME

MAX_DEFAULT_PARAMS = 10
MAX_DEFAULT_METRICS = 8
FAMILY_COL = f"tags.{FAMILY}"
INFO_COLUMNS = ("user", "end_time", "parent_run_id", "experiment_id", "run_id")


def _present(frame: pd.DataFrame, col: str) -> bool:
    return col in frame.columns and frame[col].notna().any()


def main_metrics(frame: pd.DataFrame, metrics: list[str]) -> list[str]:
    """Bare names of the metrics the table and the workspace lead with: the primary metrics of the
    families in ``frame`` first (most runs first), then the other results with a value in ``frame``."""
    counts = frame[FAMILY_COL].value_counts() if FAMILY_COL in frame.columns else pd.Series(dtype=int)
    families = sorted(counts.index, key=lambda f: (-counts[f], f))  # most runs first, ties by name
    primary = [PRIMARY[f] for f in families if f in PRIMARY]
    ordered = list(dict.fromkeys([*primary, *metrics]))
    shown = [m for m in ordered if m in metrics and is_main(m) and _present(frame, f"metrics.{m}")]
    return shown[:MAX_DEFAULT_METRICS]


def varying_params(frame: pd.DataFrame, every: bool = False) -> list[str]:
    """``params.*`` columns that differ among the runs in ``frame`` (missing counts as a value);
    with ``every``, all params some run has."""
    params = sorted(c for c in frame.columns if c.startswith("params.") and frame[c].notna().any())
    if every:
        return params
    return [c for c in params if frame[c].nunique(dropna=False) > 1]


def default_columns(frame: pd.DataFrame, metrics: list[str], every_param: bool = False) -> list[str]:
    """Main metrics, the params that vary (all with ``every_param``), then the family tag."""
    params = varying_params(frame, every_param)
    if not every_param:
        params = params[:MAX_DEFAULT_PARAMS]
    family = [FAMILY_COL] if _present(frame, FAMILY_COL) else []
    return [f"metrics.{m}" for m in main_metrics(frame, metrics)] + params + family


def column_options(frame: pd.DataFrame, metrics: list[str]) -> list[str]:
    params = sorted(c for c in frame.columns if c.startswith("params."))
    tags = sorted(c for c in frame.columns if c.startswith("tags.") and c != f"tags.{RUN_NAME}")
    info = [c for c in INFO_COLUMNS if c in frame.columns]
    return [f"metrics.{m}" for m in metrics] + params + tags + info


def ordered(table_cols: list[str]) -> list[str]:
    """Runs-table column order: metrics, params, then everything else, each group as given."""
    def rank(col: str) -> int:
        return 0 if col.startswith("metrics.") else 1 if col.startswith("params.") else 2
    return sorted(table_cols, key=rank)  # stable: keeps the user's order within a group
