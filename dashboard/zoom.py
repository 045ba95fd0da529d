"""The step-range zoom the curve pages share (Compare, Run) and the caption that says how many
points a chart shows."""

from __future__ import annotations

import streamlit as st

from dashboard.text import notice
from dashboard.viewstate import MAX_STEP


def _unzoom(*keys: str) -> None:
    for key in keys:
        st.session_state[key] = None


def zoom_ui(prefix: str) -> tuple[int | None, int | None] | None:
    """"From step" / "to step" (either may stay empty) and a reset; the step range to re-read at
    full detail, or None for every step. Plotly's own zoom only magnifies the points already
    drawn, and Streamlit does not report it back, so a closer look is asked for here."""
    lo_key, hi_key = f"{prefix}_lo", f"{prefix}_hi"
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    box = dict(min_value=-MAX_STEP, max_value=MAX_STEP, step=1, value=None,
               help="Re-reads this step range from the store at full detail (up to 1,000 points "
                    "per curve); empty means from the first / to the last step.")
    lo = c1.number_input("Zoom: from step", key=lo_key, placeholder="first", **box)
    hi = c2.number_input("To step", key=hi_key, placeholder="last", **box)
    c3.button("All steps", key=f"{prefix}_unzoom", on_click=_unzoom, args=(lo_key, hi_key),
              disabled=lo is None and hi is None)
    if lo is not None and hi is not None and lo > hi:
        notice(f"Zoom: from step {lo} is after to step {hi}; showing every step.")
        return None
    return None if lo is None and hi is None else (lo, hi)


def points_note(shown: int, total: int, steps) -> str | None:
    """The "showing N of M points" caption under a chart; None for a whole curve at full detail."""
    where = ""
    if steps:
        lo, hi = steps
        where = f" in steps {'first' if lo is None else f'{lo:,}'}–{'last' if hi is None else f'{hi:,}'}"
    if total > shown:
        return (f"Showing {shown:,} of {total:,} points{where}: each bucket keeps its first, last, "
                "min and max, drawn as a band.")
    return f"Showing {shown:,} of {total:,} points{where}: every point, at full detail." if steps else None
