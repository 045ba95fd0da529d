"""Text a page shows as typed: markdown escaping, notices, status words."""

from __future__ import annotations

import re

import streamlit as st

# CommonMark treats a backslash before any ASCII punctuation as "this character, literally".
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~$:=&\"'])")


def md_text(value: object) -> str:
    """``value`` escaped so Streamlit's markdown (st.warning, st.caption, …) shows it as typed."""
    text = " ".join(str(value).split())  # newlines would start new markdown blocks
    return _MD_SPECIAL.sub(r"\\\1", text)


def notice(message: str, kind: str = "warning") -> None:
    """A warning/info/error box whose text is shown literally, never as markdown or HTML."""
    getattr(st, kind)(md_text(message))


def status_text(status: str) -> str:
    """MLflow's status words, sentence case (no emoji: headless and minimal fonts lack them)."""
    return str(status).capitalize()
