"""Colours and small figure helpers shared by the chart builders."""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.colors import qualitative

# Plotly's default ten first; past ten lines a 48-colour cycle keeps neighbours apart.
_FEW = qualitative.Plotly
_MANY = qualitative.Dark24 + qualitative.Light24


def palette(n: int) -> list[str]:
    """``n`` hex colours, cycling when there are more lines than colours."""
    base = _FEW if n <= len(_FEW) else _MANY
    return [base[i % len(base)] for i in range(n)]


def rgba(hex_colour: str, alpha: float) -> str:
    """``#rrggbb`` → ``rgba(r,g,b,alpha)`` (fills need their own alpha; opacity fades the edge too)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank, so a page never shows an empty frame silently."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def plain(text: object) -> str:
    """Text for a legend, hover or axis: Plotly renders a subset of HTML (``<b>``, ``<a>``) in
    names, so user-written run names and tags are escaped to show as typed."""
    return html.escape(str(text), quote=False)
