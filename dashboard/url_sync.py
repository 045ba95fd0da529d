"""The URL is the source of truth for a view; this keeps it and the page's widgets in step.

A page calls :func:`url_state` before drawing its widgets (which seeds the widgets' session-state
keys from the URL when the URL changed under the page: a fresh link, a page switch, the back
button) and :func:`write_url` after them (which mirrors the widgets' values back into
``st.query_params``). :func:`keep_valid` makes a stored widget value fit options that shrank.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import streamlit as st

from dashboard import viewstate
from dashboard.text import notice
from dashboard.viewstate import ViewState


def url_state(prefix: str, seed: Callable[[ViewState, dict[str, str]], None],
              widget_keys: Iterable[str]) -> tuple[ViewState, dict[str, str], bool]:
    """The view in the URL, the raw params (for page-own keys) and whether widgets were seeded.

    Seeds the widgets (``seed(state, params)``) when the URL is not the one this page wrote last
    or the page's widgets lost their state (Streamlit drops it while another page is shown), and
    then shows the URL's notices as text. A bare page URL (the sidebar link) restores the page's
    last view of this session.
    """
    current = {k: st.query_params[k] for k in st.query_params}
    last = st.session_state.get(f"{prefix}_url")
    if not current and last:
        current = dict(last)
    state, notices = viewstate.from_params(current)
    # A rerun can carry a URL this page wrote a moment ago but the browser had not shown yet
    # (fast slider key presses): that is our own stale URL, not a new link — re-seeding from it
    # would undo the user's latest change.
    ours = st.session_state.get(f"{prefix}_urls", [])
    fresh = (current != last and current not in ours) or any(k not in st.session_state for k in widget_keys)
    if fresh:
        seed(state, current)
        for text in notices:
            notice(f"Link: {text}")
    return state, current, fresh


def write_url(prefix: str, state: ViewState, extra: Mapping[str, str] | None = None) -> None:
    """Mirror ``state`` (+ page-own keys) into the URL; only touches it when something changed."""
    params = viewstate.to_params(state)
    params.update({k: v for k, v in (extra or {}).items() if v not in (None, "")})
    if {k: st.query_params[k] for k in st.query_params} != params:
        st.query_params.from_dict(params)
    st.session_state[f"{prefix}_url"] = params
    recent = [p for p in st.session_state.get(f"{prefix}_urls", []) if p != params][-9:]
    st.session_state[f"{prefix}_urls"] = [*recent, params]


def keep_valid(key: str, options: Iterable, default=None) -> None:
    """Make a stored widget value fit ``options`` again (they can shrink between reruns)."""
    opts = list(options)
    if key not in st.session_state:
        if isinstance(default, list):
            st.session_state[key] = [v for v in default if v in opts]
        else:
            st.session_state[key] = default if default in opts else (opts[0] if opts else None)
        return
    value = st.session_state[key]
    if isinstance(value, list):
        st.session_state[key] = [v for v in value if v in opts]
    elif value not in opts:
        st.session_state[key] = default if default in opts else (opts[0] if opts else None)
