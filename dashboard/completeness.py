"""Runs whose points the store did not all take (``runboard.points_not_written``): the badge and
the notice on the Run and Compare pages, so nobody reads a curve that stops early as complete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.text import notice
from trainers.run_tags import ERROR, POINTS_NOT_WRITTEN, RECOVERING

COLUMN = f"tags.{POINTS_NOT_WRITTEN}"


def badge_text(value) -> str | None:
    """The badge for the tag's value; None for a complete run (no tag)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return None
    if value == RECOVERING:
        return "Points being recovered"
    return "Points incomplete" if value == "unknown" else f"{value} points missing"


def run_notice_ui(run_id: str, tags: dict[str, str]) -> None:
    """Run page: the badge, and what happened and what to do, under the title."""
    text = badge_text(tags.get(POINTS_NOT_WRITTEN))
    if text is None:
        return
    st.badge(text, icon=":material/warning:", color="orange")
    if tags.get(POINTS_NOT_WRITTEN) == RECOVERING:
        notice("This run's missing points are being written now; its curves are incomplete until then.")
    else:
        notice(f"This run's curves are incomplete: {tags.get(ERROR) or text}. Points kept in the journal are "
               f"written by python -m trainers.recover {run_id} on the host that trained it.")


def compare_notice_ui(sel: pd.DataFrame) -> None:
    """Compare page: one notice naming the selected runs whose curves are incomplete."""
    if COLUMN not in sel.columns:
        return
    marked = [(row.get("run_name") or row["run_id"][:8], badge_text(row[COLUMN])) for _, row in sel.iterrows()]
    marked = [(name, text) for name, text in marked if text]
    if marked:
        st.badge("Incomplete runs", icon=":material/warning:", color="orange")
        notice("Some curves here are incomplete: " + "; ".join(f"{n} ({t.lower()})" for n, t in marked)
               + ". Compare them with care.")
