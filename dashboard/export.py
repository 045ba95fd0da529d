"""A static, self-contained HTML copy of a view's Plotly figures: one file with plotly.js inside
once, no server and no network needed to open it (attach it to a report or a ticket).

plotly.js is 4.8 MB as text, more than any view's data; it goes in gzip-compressed and
base64-encoded (2 MB), as does each figure's JSON, and the browser unpacks them with its built-in
``DecompressionStream`` before drawing. The charts are laid out like the Compare page: two per
row, at the page's height.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
DEFAULT_HEIGHT = 380  # px, as the Compare page draws a chart

STYLE = """body{font-family:sans-serif;margin:1.5rem;}
h1{font-size:1.4rem;}
.charts{display:grid;gap:1rem;grid-template-columns:repeat(var(--columns),minmax(0,1fr));}
.chart{min-width:0;}
table.answers{border-collapse:collapse;margin-bottom:1rem;}
table.answers th,table.answers td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;}"""

# Unpack plotly.js and run it, then unpack and draw each figure.
DRAW = """(async () => {
  const unpack = async (block) => {
    const bytes = Uint8Array.from(atob(block.textContent.trim()), c => c.charCodeAt(0));
    return await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
  };
  const lib = document.createElement("script");
  lib.textContent = await unpack(document.getElementById("runboard-plotly"));
  document.head.appendChild(lib);
  const config = %s;
  for (const block of document.querySelectorAll("script.runboard-figure")) {
    const fig = JSON.parse(await unpack(block));
    await Plotly.newPlot(block.dataset.target, fig.data, fig.layout, config);
  }
})();"""


def pack(text: str) -> str:
    """gzip (the same bytes every time: mtime 0), then base64: safe inside a ``<script>`` block."""
    return base64.b64encode(gzip.compress(text.encode(), compresslevel=9, mtime=0)).decode("ascii")


@lru_cache(maxsize=1)
def packed_plotlyjs() -> str:
    return pack(get_plotlyjs())


def _packed_figure(fig: go.Figure) -> str:
    """The figure's JSON, packed; on white with light grid lines as the page draws it, tick labels
    may grow the margins (the page's tight margins would clip them), and a figure without a
    height gets the page's."""
    fig = go.Figure(fig)
    fig.update_layout(template="plotly_white")
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    if fig.layout.height is None:
        fig.update_layout(height=DEFAULT_HEIGHT)
    return pack(pio.to_json(fig, validate=False))


def figures_html(figures: Sequence[go.Figure], title: str, link: str | None = None, note: str = "",
                 tables: Sequence[tuple[str, pd.DataFrame]] = (), answer_figures: Sequence[go.Figure] = ()) -> str:
    """A full HTML document showing ``figures`` in order, headed by ``title`` (and the live view's
    ``link`` when given), then an "Answers" section with ``tables`` (heading, frame) and
    ``answer_figures`` (the Compare page's group tests and param importance). Text is escaped;
    plotly.js is embedded once for the whole file."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if note:
        body.append(f"<p>{html.escape(note)}</p>")
    if link:
        body.append(f'<p>Live view: <a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></p>')
    if not figures:
        body.append("<p>No charts in this view.</p>")
    body += _grid(figures, 0)
    if tables or answer_figures:
        body.append("<h2>Answers</h2>")
        for heading, frame in tables:
            body.append(f"<h3>{html.escape(heading)}</h3>")
            body.append(frame.to_html(index=False, escape=True, border=0, classes="answers", na_rep=""))
        body += _grid(answer_figures, len(figures))
    if figures or answer_figures:
        body.append(f'<script type="application/octet-stream" id="runboard-plotly">{packed_plotlyjs()}</script>')
        body.append(f"<script>{DRAW % json.dumps(PLOT_CONFIG)}</script>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{STYLE}</style>",
        "</head>", "<body>", *body, "</body>", "</html>",
    ])


def _grid(figures: Sequence[go.Figure], first: int) -> list[str]:
    """The figures two per row (one alone fills the row), numbered from ``first``."""
    if not figures:
        return []
    out = [f'<div class="charts" style="--columns:{2 if len(figures) > 1 else 1}">']
    for i, fig in enumerate(figures, start=first):
        div = f"runboard-figure-{i}"
        out.append(f'<div class="chart"><div id="{div}"></div>'
                   f'<script type="application/octet-stream" class="runboard-figure" data-target="{div}">'
                   f"{_packed_figure(fig)}</script></div>")
    out.append("</div>")
    return out
