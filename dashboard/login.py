"""The sign-in screen (accounts form or identity-provider button) and the sidebar's "signed in
as". Drawn by ``dashboard/app.py`` around the pages; who may do what is ``dashboard.auth``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import streamlit as st

from dashboard import accounts, share
from dashboard.auth import SESSION_KEY, AuthConfig, User, secrets_section
from dashboard.text import md_text, notice

MAX_FAILURES = 5  # wrong passwords for one name before it is locked for LOCK_S
LOCK_S = 60
MAX_NAMES = 10_000
_failures: dict[str, list[float]] = {}  # username → times of recent failures, across sessions
_lock = threading.Lock()


def _locked(name: str, now: float) -> bool:
    with _lock:
        recent = [t for t in _failures.get(name, []) if now - t < LOCK_S]
        _failures[name] = recent
        return len(recent) >= MAX_FAILURES


def _record(name: str, ok: bool, now: float) -> None:
    with _lock:
        if ok:
            _failures.pop(name, None)
        else:
            _failures.setdefault(name, []).append(now)
        if len(_failures) > MAX_NAMES:  # made-up names must not grow this without bound
            for key in [k for k, times in _failures.items() if not times or now - times[-1] >= LOCK_S]:
                del _failures[key]


def _sign_in(cfg: AuthConfig) -> None:
    """The form's callback: check the password, then keep only the username in the session."""
    ss, now = st.session_state, time.time()
    name, password = ss.get("auth_name", "").strip(), ss.get("auth_password", "")
    ss["auth_password"] = ""  # the password never stays in session state
    if _locked(name, now):
        ss["auth_error"] = f"Too many failed sign-ins for this name: try again in {LOCK_S} s."
        return
    account = accounts.verify(accounts.load(cfg.accounts_path), name, password)
    _record(name, account is not None, now)
    if account is None:
        ss["auth_error"] = "Wrong username or password."
        return
    ss[SESSION_KEY] = account.name


def _accounts_form(cfg: AuthConfig) -> None:
    if not accounts.load(cfg.accounts_path):
        st.error("No accounts yet. An admin creates one on the server:")
        st.code("python -m dashboard.accounts add NAME --role launcher", language="bash")
        return
    if error := st.session_state.pop("auth_error", None):
        st.error(error)
    with st.form("auth_form"):
        st.text_input("Username", key="auth_name", autocomplete="username")
        st.text_input("Password", type="password", key="auth_password", autocomplete="current-password")
        st.form_submit_button("Sign in", type="primary", on_click=_sign_in, args=(cfg,))


def _oidc_button() -> None:
    if not secrets_section("auth"):
        st.error("RUNBOARD_AUTH=oidc needs an [auth] section in .streamlit/secrets.toml (see README).")
        return
    if st.user.get("is_logged_in", False):  # the provider knows them; Runboard's lists do not
        notice(f"{st.user.get('email') or 'This account'} may not use this dashboard: ask an admin "
               "to add it to [runboard] in .streamlit/secrets.toml.", "error")
        st.button("Sign out", on_click=st.logout, key="auth_logout")
        return
    share.remember_view_ui()
    if st.button("Sign in", type="primary", key="auth_oidc"):
        st.login()


def login_ui(cfg: AuthConfig) -> None:
    """All an anonymous visitor sees, on every page; the URL (the linked view) is left as it is,
    so signing in shows the view the link named."""
    st.title("Runboard")
    st.caption("Sign in to see this view.")
    if cfg.mode == "accounts":
        _accounts_form(cfg)
    else:
        _oidc_button()


def _sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)


def account_ui(user: User, cfg: AuthConfig) -> None:
    if cfg.mode == "off":
        return
    st.sidebar.caption(f"Signed in as {md_text(user.name)} · {user.role}")
    if cfg.mode == "accounts":
        st.sidebar.button("Sign out", key="auth_signout", on_click=_sign_out)
    else:
        st.sidebar.button("Sign out", key="auth_signout", on_click=st.logout)


def return_to_view(pages: Iterable[st.Page]) -> None:
    """After an identity provider's login (which lands on the home page), switch once to the
    view the visitor had opened, then drop the reminder cookie; a no-op in every later run."""
    step = st.session_state.get("auth_return")
    if step == "done":
        return
    st.session_state["auth_return"] = "done"
    if step == "switched":
        share.forget_view_ui()
        return
    by_path = {p.url_path: p for p in pages}
    target = share.parse_next(st.context.cookies.get(share.NEXT_COOKIE), by_path)
    if target is not None:
        st.session_state["auth_return"] = "switched"
        st.switch_page(by_path[target[0]], query_params=target[1])
