"""The Run page's "Resume" button: a FAILED / KILLED run with a checkpoint goes back on the queue
and continues from its last checkpoint (``experiments.resume``; the page never touches MLflow)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth

KEY = "run_resume"


def _resume(run_id: str) -> None:
    from experiments import resume

    if (user := auth.require("resume runs")) is None:
        return  # checked on the server: a viewer's forged click resumes nothing
    st.session_state[f"{KEY}_said"] = f"{run_id[:8]}: {resume.request(run_id, by=user.name)}"


def show(info: dict) -> None:
    from experiments.resume import can_resume

    if said := st.session_state.pop(f"{KEY}_said", None):
        st.info(said)
    if can_resume(info):
        st.button("Resume", key=KEY, on_click=_resume, args=(info["run_id"],), disabled=not auth.can_launch(),
                  icon=":material/play_arrow:", help="Queue this run to continue from its last checkpoint.")
