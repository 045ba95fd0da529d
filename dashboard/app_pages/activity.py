"""Activity: queued and running launches with live progress, Stop / Cancel and the tail of each
run's log; then recently ended launches with Clone. Data comes from ``experiments.activity``."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import auth, reads
from dashboard.charts import live_figure
from dashboard.text import md_text
from experiments import activity, queue
from trainers.metrics import TRAIN_LOSS, VAL_ACC, VAL_LOSS
from trainers.progress import duration_text

PREFIX = "activity"
LIVE_EVERY = "2s"
LIVE_METRICS = (TRAIN_LOSS, VAL_ACC, VAL_LOSS)  # read for every running run; the chart shows loss + the first val one
LIVE_POINTS = 300  # per curve: a mini chart needs no more (the data layer keeps each bucket's min/max)
LOG_HEIGHT_PX = 320  # a long log's tail scrolls inside this (about 15 lines show at once)


def _stop(run_id: str, name: str) -> None:
    if (user := auth.require("stop or cancel runs")) is None:
        return  # checked here, on the server: a viewer's forged click stops nothing
    said = queue.stop(run_id, stopped_by=user.name)  # cancels a queued run or a sweep
    st.session_state[f"{PREFIX}_said"] = _said(md_text(name), said)  # toasts render markdown


def _said(name: str, outcome: str) -> str:
    """The confirmation a Stop / Cancel click gets, naming the run (its row may vanish at once)."""
    if outcome == "cancelled":
        return f"Cancelled “{name}”: it is off the queue."
    if outcome == "stopping":
        return f"Stopping “{name}”: it ends at its next step, every point kept."
    return f"“{name}” had already ended ({outcome.lower()})."


def _said_ui() -> None:
    # Shown by the fragment: a click inside it reruns only the fragment, never main().
    if said := st.session_state.pop(f"{PREFIX}_said", None):
        st.toast(said, icon=":material/check_circle:")
        st.success(said, icon=":material/check_circle:")


def _row_ui(row: dict, viewer: bool, curves=None) -> None:
    rid = row["run_id"]
    with st.container(border=True):
        main, side = st.columns([5, 1])
        sweep = " · sweep trial" if row["parent_run_id"] else ""
        main.markdown(f"**{md_text(row['name'])}** · {md_text(row['family'])} · {row['status'].lower()}{sweep}")
        _open_link(main, rid)
        if row["sweep"]:
            main.caption(f"{row['sweep']} sweep: its trials are queued below as slots free up")
            side.button(
                "Cancel sweep",
                key=f"{PREFIX}_cancel_{rid}",
                on_click=_stop,
                args=(rid, row["name"]),
                disabled=viewer,
                help="Takes its queued trials off the queue; running trials finish.",
            )
            return
        if row["status"] == "SCHEDULED":
            main.caption(f"Queued #{row['position']} for {duration_text(time.time() - row['queued_at'])}")
            side.button(
                "Cancel", key=f"{PREFIX}_cancel_{rid}", on_click=_stop, args=(rid, row["name"]), disabled=viewer
            )
            return
        main.progress(
            row["fraction"] or 0.0,
            text=(row["progress_text"] or "starting…") + (" · stopping" if row["stopping"] else ""),
        )
        side.button(
            "Stop",
            key=f"{PREFIX}_stop_{rid}",
            on_click=_stop,
            args=(rid, row["name"]),
            disabled=row["stopping"] or viewer,
            help="Stops between steps (KILLED, every point kept); forced after 30 s.",
        )
        _curve_ui(main, rid, curves)
        with main.expander("Log"):
            _log_ui(activity.logs(rid))


def _log_ui(text: str) -> None:
    """The tail of the run's log in a box of fixed height, kept scrolled to its newest line."""
    if text.count("\n") < 12:  # a short log needs no box
        st.code(text or "(no output yet)", language=None)
        return
    with st.container(height=LOG_HEIGHT_PX, autoscroll=True):
        st.code(text, language=None)


def _open_link(where, rid: str) -> None:
    # page_link, not a markdown link: Streamlit opens those in a new tab, which signs the user out.
    where.page_link("app_pages/run.py", label="Open run", icon=":material/insights:", query_params={"run": rid})


def _curve_ui(where, rid: str, curves) -> None:
    """Training loss and the run's main validation metric, redrawn with the fragment."""
    if curves is None or not (curves["run_id"] == rid).any():
        where.caption("Curves appear after the first logged steps.")
        return
    fig = live_figure(curves, rid, TRAIN_LOSS, LIVE_METRICS[1:])
    where.plotly_chart(fig, width="stretch", key=f"{PREFIX}_curve_{rid}", config={"displayModeBar": False})


@st.fragment(run_every=LIVE_EVERY)
def _live() -> None:
    auth.refusal_ui()  # a refused Stop reruns only this fragment, not the frame in app.py
    _said_ui()
    rows = activity.active()
    if not rows:
        st.info("Nothing is queued or running.")
        st.page_link("app_pages/launch.py", label="Start a run on the Launch page", icon=":material/rocket_launch:")
    running = tuple(sorted(r["run_id"] for r in rows if r["status"] == "RUNNING" and not r["sweep"]))
    curves = (
        reads.read_or_stop("live curves", reads.curves, running, LIVE_METRICS, max_points=LIVE_POINTS, live=True)
        if running
        else None
    )
    viewer = not auth.can_launch()  # controls stay visible but disabled; _stop checks again
    for row in rows:
        _row_ui(row, viewer, curves)
    _recent_ui()  # inside the fragment: a run that ends moves here without a reload


def _recent_ui() -> None:
    rows = activity.recent()
    if not rows:
        return
    st.subheader("Recently ended")
    for row in rows:
        a, b = st.columns([5, 1])
        why = f" — {md_text(row['reason'][:120])}" if row["reason"] else ""
        a.markdown(f"**{md_text(row['name'])}** · {md_text(row['family'])} · {row['status'].lower()}{why}")
        if not row["sweep"]:
            b.page_link("app_pages/launch.py", label="Clone", icon=":material/content_copy:",
                        query_params={"clone": row["run_id"]})


def main() -> None:
    st.title("Activity")
    _live()


main()
