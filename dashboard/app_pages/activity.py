"""Activity: queued and running launches with live progress, Stop / Cancel and the tail of each
run's log; then recently ended launches with Clone. Data comes from ``experiments.activity``."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import ui
from experiments import activity, queue

PREFIX = "activity"
LIVE_EVERY = "2s"




def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def progress_text(row: dict) -> str:
    parts = []
    if row["epoch"] is not None and row["max_epochs"]:
        parts.append(f"epoch {row['epoch']:.0f}/{row['max_epochs']:.0f}")
    if row["step"] is not None and row["total_steps"]:
        parts.append(f"step {row['step']:.0f}/{row['total_steps']:.0f}")
    if row["eta_s"] is not None:
        parts.append(f"ETA {_clock(row['eta_s'])}")
    return " · ".join(parts) or "starting…"


def _stop(run_id: str) -> None:
    st.session_state[f"{PREFIX}_said"] = f"{run_id[:8]}: {queue.stop(run_id)}"  # cancels a queued run or a sweep


def _row_ui(row: dict) -> None:
    rid = row["run_id"]
    with st.container(border=True):
        main, side = st.columns([5, 1])
        sweep = " · sweep trial" if row["parent_run_id"] else ""
        main.markdown(f"**{ui.md_text(row['name'])}** · {ui.md_text(row['family'])} · {row['status'].lower()}{sweep} · "
                      f"[open](/run?run={rid})")
        if row["sweep"]:
            main.caption(f"{row['sweep']} sweep: its trials are queued below as slots free up")
            side.button("Cancel sweep", key=f"{PREFIX}_cancel_{rid}", on_click=_stop, args=(rid,),
                        help="Takes its queued trials off the queue; running trials finish.")
            return
        if row["status"] == "SCHEDULED":
            main.caption(f"Queued #{row['position']} for {_clock(time.time() - row['queued_at'])}")
            side.button("Cancel", key=f"{PREFIX}_cancel_{rid}", on_click=_stop, args=(rid,))
            return
        main.progress(row["fraction"] or 0.0, text=progress_text(row) + (" · stopping" if row["stopping"] else ""))
        side.button("Stop", key=f"{PREFIX}_stop_{rid}", on_click=_stop, args=(rid,), disabled=row["stopping"],
                    help="Stops between steps (KILLED, every point kept); forced after 30 s.")
        with main.expander("Log"):
            st.code(activity.logs(rid) or "(no output yet)", language=None)


@st.fragment(run_every=LIVE_EVERY)
def _live() -> None:
    rows = activity.active()
    if not rows:
        st.info("Nothing is queued or running. Start a run on the [Launch](/launch) page.")
    for row in rows:
        _row_ui(row)


def _recent_ui() -> None:
    rows = activity.recent()
    if not rows:
        return
    st.subheader("Recently ended")
    for row in rows:
        a, b = st.columns([5, 1])
        why = f" — {ui.md_text(row['error'].splitlines()[0][:120])}" if row["error"] else ""
        a.markdown(f"**{ui.md_text(row['name'])}** · {ui.md_text(row['family'])} · {row['status'].lower()}{why}")
        if not row["sweep"]:
            b.markdown(f"[Clone](/launch?clone={row['run_id']})")


def main() -> None:
    st.title("Activity")
    if said := st.session_state.pop(f"{PREFIX}_said", None):
        st.toast(said)
    _live()
    _recent_ui()


main()
