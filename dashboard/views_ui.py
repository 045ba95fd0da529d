"""The Runs page's saved views: pick one (this experiment's, or another's), save the view shown,
make one the default, delete one; and which view a link (``view=…``) or a first visit opens.

Opening a view only rewrites the URL before the page reads it (``url_sync.url_state`` then seeds every
widget from it), so a view opens exactly like its share link. Changes need the launcher role,
checked in the callbacks themselves (a forged click from a viewer is refused on the server).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, reads, views
from dashboard.text import notice
from dashboard.views import View

PENDING = "runs_view_open"  # params a callback asked to open, read before the page's widgets
MESSAGE = "runs_view_msg"
ROLE = "launcher"


@st.cache_data(ttl=reads.TTL, show_spinner=False)
def _every() -> list[View]:
    return views.every_view()


def every() -> list[View]:
    return reads.read_or_stop("saved views", _every)


def _vid(view: View) -> str:
    return f"{view.experiment_id}/{view.name}"


def _find(every_view: list[View], name: str, exp: str | None) -> View | None:
    """The view a link names: ``exp``'s own first, else the first experiment's with that name."""
    named = [v for v in every_view if v.name == name]
    return next((v for v in named if v.experiment_id == exp), named[0] if named else None)


def to_open(exps: pd.DataFrame) -> dict[str, str] | None:
    """The URL params to open instead of the current ones, if any: a view a button asked for, the
    view a link names (``view=…``), or the default view of the experiment shown on a first visit or
    when the user picks another experiment."""
    if (asked := st.session_state.pop(PENDING, None)) is not None:
        return asked
    params = {k: st.query_params[k] for k in st.query_params}
    if "view" in params:
        view = _find(every(), params["view"], params.get("exp"))
        if view is None:
            notice(f"Link: no saved view is named {params['view'][:60]}; showing the link's other settings.")
            return {k: v for k, v in params.items() if k != "view"}
        return {**view.params, "exp": params.get("exp") or view.experiment_id}
    picked, last = st.session_state.get("runs_exp"), st.session_state.get("runs_url")
    if params and params == last and picked and picked != params.get("exp"):
        return _default_of(picked)  # the user just picked another experiment: its default view
    if params or last or st.session_state.get("runs_defaulted"):
        return None
    st.session_state.runs_defaulted = True  # once a session: later bare visits keep the last view
    with_runs = exps[exps.get("n_runs", pd.Series(1, index=exps.index)) > 0]
    return _default_of((with_runs if not with_runs.empty else exps)["experiment_id"].iloc[-1])


def _default_of(exp: str) -> dict[str, str] | None:
    view = next((v for v in every() if v.experiment_id == exp and v.default), None)
    return None if view is None else {**view.params, "exp": exp}


def _open(params: dict[str, str], exp: str) -> None:
    st.session_state[PENDING] = {**params, "exp": exp}


def _changed(what: str) -> None:
    _every.clear()
    st.session_state[MESSAGE] = ("success", what)


def _save(exp: str) -> None:
    if auth.require("save views", ROLE) is None:
        return
    name = st.session_state.get("runs_view_name", "")
    params = dict(st.session_state.get("runs_url") or {})
    try:
        name = views.save(exp, name, params, default=bool(st.session_state.get("runs_view_default")))
    except views.ViewError as exc:
        st.session_state[MESSAGE] = ("warning", str(exc))
        return
    _changed(f"Saved view “{name}”.")


def _delete(view: View) -> None:
    if auth.require("delete views", ROLE) is None:
        return
    views.delete(view.experiment_id, view.name)
    _changed(f"Deleted view “{view.name}”.")


def _make_default(view: View) -> None:
    if auth.require("change the default view", ROLE) is None:
        return
    views.set_default(view.experiment_id, None if view.default else view.name)
    _changed(f"“{view.name}” is {'no longer' if view.default else 'now'} this experiment's default view.")


def views_ui(exp: str) -> None:
    """The saved-views bar: open, make default, delete; save the view shown under a name."""
    auth.refusal_ui()
    if message := st.session_state.pop(MESSAGE, None):
        notice(message[1], message[0])
    every_view = every()
    mine = [v for v in every_view if v.experiment_id == exp]
    by_id = {_vid(v): v for v in mine + [v for v in every_view if v.experiment_id != exp]}
    can_change = auth.can_launch()
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    picked = c1.selectbox(
        "Saved views",
        list(by_id),
        key="runs_view",
        index=None,
        format_func=lambda i: _label(by_id[i], exp),
        placeholder="Open a saved view" if by_id else "No saved views yet",
    )
    view = by_id.get(picked)
    c2.button("Open", key="runs_view_go", disabled=view is None, on_click=_open,
              args=(view.params if view else {}, exp))
    own = view is not None and view.experiment_id == exp
    c3.button("Unset default" if own and view.default else "Make default", key="runs_view_default_btn",
              disabled=not (own and can_change), on_click=_make_default, args=(view,))
    c4.button("Delete", key="runs_view_delete", disabled=not (own and can_change), on_click=_delete, args=(view,))
    with st.popover("Save this view", disabled=not can_change,
                    help=None if can_change else "Only a launcher may save views; a viewer may open them."):
        st.text_input("Name", key="runs_view_name", max_chars=60)
        st.checkbox("Open this experiment with it", key="runs_view_default")
        st.button("Save", key="runs_view_save", on_click=_save, args=(exp,), type="primary")


def _label(view: View, exp: str) -> str:
    if view.experiment_id != exp:
        return f"{view.name} — from {view.experiment}"
    return f"{view.name} (default)" if view.default else view.name
