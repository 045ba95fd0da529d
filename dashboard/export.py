"""A static, self-contained HTML copy of a view's Plotly figures: one file with plotly.js inlined
once, no server and no network needed to open it (attach it to a report or a ticket)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def figures_html(figures: Sequence[go.Figure], title: str, link: str | None = None, note: str = "") -> str:
    """A full HTML document showing ``figures`` in order, headed by ``title`` (and the live view's
    ``link`` when given). Text is escaped; plotly.js is embedded in the first figure only."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if note:
        body.append(f"<p>{html.escape(note)}</p>")
    if link:
        body.append(f'<p>Live view: <a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>')
    if not figures:
        body.append("<p>No charts in this view.</p>")
    for i, fig in enumerate(figures):
        body.append(fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"runboard-figure-{i}",
                                config=PLOT_CONFIG))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5rem;} h1{font-size:1.4rem;}</style>",
        "</head>", "<body>", *body, "</body>", "</html>",
    ])
