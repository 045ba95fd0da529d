"""Sharing a view: the "Copy link" box every page gets, the way back to a linked view after an
identity provider's login, and the static HTML download of a view's charts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import plotly.graph_objects as go
import streamlit as st

from dashboard import export

NEXT_COOKIE = "runboard_next"  # OIDC: the view to return to once the provider sends the user back
_SAFE = ",/:@"  # left readable in links: run-id lists, metric names such as val/loss


def share_url(base: str | None, url_path: str, params: Mapping[str, str]) -> str:
    """The link to a view. ``base`` is ``st.context.url`` (scheme, host, page path; no query) or
    None when the browser did not say (then a path-only link)."""
    root = base or f"/{url_path}"
    query = urlencode(dict(params), safe=_SAFE)
    return f"{root}?{query}" if query else root


def current_params() -> dict[str, str]:
    return {k: st.query_params[k] for k in st.query_params}


def link_ui(url_path: str) -> None:
    """The sidebar's copyable link to exactly this view (call it after the page wrote the URL)."""
    url = share_url(st.context.url, url_path, current_params())
    st.sidebar.caption("Copy link to this view")
    st.sidebar.code(url, language=None, wrap_lines=True)


def parse_next(value: str | None, url_paths: Iterable[str]) -> tuple[str, dict[str, str]] | None:
    """A remembered view (``/compare?runs=…``, as the browser's path and query) → (page url path,
    params), if it names one of ``url_paths``; anything else (another site, a made-up page) → None."""
    if not isinstance(value, str) or not value:  # AppTest's cookie jar hands out mocks
        return None
    parts = urlsplit(unquote(value))
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None  # only ever a path on this dashboard: no open redirect
    page = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if page not in set(url_paths):
        return None
    return page, dict(parse_qsl(parts.query, keep_blank_values=False))


def remember_view_ui() -> None:
    """OIDC login returns to the app's home page: note the view in a short-lived cookie first.
    The value is the browser's own location; the server only ever accepts it via parse_next."""
    st.html(
        f"""<script>
        document.cookie = "{NEXT_COOKIE}=" + encodeURIComponent(location.pathname + location.search)
            + "; path=/; max-age=600; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
        </script>""",
        unsafe_allow_javascript=True,
    )


def forget_view_ui() -> None:
    st.html(f'<script>document.cookie = "{NEXT_COOKIE}=; path=/; max-age=0";</script>',
            unsafe_allow_javascript=True)


def export_ui(figures: Sequence[go.Figure], title: str, key: str, note: str = "", tables=(), answer_figures=()) -> None:
    """A download button for the figures (and the answers' tables and figures, see
    ``export.figures_html``) as one self-contained HTML file, built only on click."""
    if not figures:
        return
    link = share_url(st.context.url, "", current_params()) if st.context.url else None
    build = partial(export.figures_html, list(figures), title, link, note, list(tables), list(answer_figures))
    st.download_button("Download charts as HTML", build,
                       file_name="runboard-compare.html", mime="text/html", key=key, on_click="ignore",
                       icon=":material/download:",
                       help="One self-contained file (Plotly included) that opens in any browser with no server.")
