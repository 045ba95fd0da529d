"""What a person reads for a run and for a runs-frame column: the one home of both labels.

Pure functions (no Streamlit), shared by the pages, the tables and the charts.
"""

from __future__ import annotations

import pandas as pd

from trainers.run_tags import NAMESPACE

LABELS = {"start_time": "Started", "end_time": "Ended", "run_name": "Run", "status": "Status",
          "duration_s": "Duration (s)", "queue_wait_s": "Queued (s)", "parent_run_id": "Parent run", "user": "User",
          "experiment_id": "Experiment", "run_id": "Run id"}
PREFIXES = ("params.", "metrics.", "tags.")
_RUNBOARD_TAG = f"tags.{NAMESPACE}"


def run_name(name: object, run_id: str) -> str:
    """The run's name, or the first 8 characters of its id when it has none."""
    return name if isinstance(name, str) and name else run_id[:8]


def run_labels(frame: pd.DataFrame) -> dict[str, str]:
    """run_id → a short display name; repeated or missing names get the id's first 8 characters."""
    names = {}
    for rid, name in zip(frame["run_id"], frame["run_name"]):
        names[rid] = run_name(name, rid)
    counts = pd.Series(list(names.values())).value_counts()
    return {rid: (f"{n} ({rid[:8]})" if counts[n] > 1 else n) for rid, n in names.items()}


def bare(col: str) -> str:
    """``params.lr`` → ``lr``, ``metrics.val/acc`` → ``val/acc``, ``tags.x`` → ``x`` (axis titles)."""
    for prefix in PREFIXES:
        if col.startswith(prefix):
            return col[len(prefix):]
    return col


def column_label(col: str) -> str:
    """What a person reads: ``lr``, ``family``, ``val/acc``; the raw key goes in the tooltip."""
    if col in LABELS:
        return LABELS[col]
    if col.startswith(_RUNBOARD_TAG):
        return col.removeprefix(_RUNBOARD_TAG)
    return bare(col)
