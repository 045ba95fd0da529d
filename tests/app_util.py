"""The dashboard's pages under Streamlit's AppTest, opened the way a share link opens them:
``from app_util import open_page, figures``."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
from streamlit.testing.v1 import AppTest

from trainers import tracking

APP = str(tracking.REPO / "dashboard" / "app.py")


def app_test(page: str, timeout: float = 60, **params: str) -> AppTest:
    """``page`` ("runs", "compare", "run", "launch", "activity") with its query params, not yet run."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if page != "runs":
        at.switch_page(f"app_pages/{page}.py")
    for key, value in params.items():
        at.query_params[key] = value
    return at


def open_page(page: str, timeout: float = 60, **params: str) -> AppTest:
    """``page`` run as if its share link had been opened; fails on any exception in the page."""
    at = app_test(page, timeout, **params).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    """The Plotly figures the page drew, as dicts."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def page_links(at: AppTest) -> list[tuple[str, str, str]]:
    """``(label, page url path, query string)`` of each ``st.page_link`` the page drew: links
    that switch page in the same tab, keeping the session (and the sign-in)."""
    return [(el.proto.label, el.proto.page, el.proto.query_string) for el in at.get("page_link")]


def array(value) -> list:
    """A trace's x, y or dimension values as a list: Plotly ships numpy arrays base64-packed as
    ``{dtype, bdata}``, plain lists as themselves."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).tolist()
    return list(value)


def line_runs(fig: dict) -> list[str]:
    return [t["meta"]["run_id"] for t in fig["data"] if (t.get("meta") or {}).get("role") == "line"]


def curve_figures(at: AppTest) -> list[dict]:
    return [f for f in figures(at) if any((t.get("meta") or {}).get("role") == "line" for t in f["data"])]


def texts(at: AppTest, kind: str) -> str:
    """The elements' text with markdown escapes undone (pages escape every user-given string)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(el.value) for el in at.get(kind)))


VIEWER, LAUNCHER = ("vera", "viewer-password-1"), ("lena", "launcher-password-1")


def accounts_mode(tmp_path, monkeypatch):
    """Accounts mode with a fresh accounts file: ``vera`` is a viewer, ``lena`` a launcher. Returns its path."""
    from dashboard import accounts, login

    path = tmp_path / "accounts.toml"
    accounts.add(path, VIEWER[0], "viewer", VIEWER[1])
    accounts.add(path, LAUNCHER[0], "launcher", LAUNCHER[1])
    monkeypatch.setenv("RUNBOARD_AUTH", "accounts")
    monkeypatch.setenv("RUNBOARD_ACCOUNTS", str(path))
    login._failures.clear()
    return path
