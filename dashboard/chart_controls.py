"""The curve-chart controls and grid that Compare and the Runs page's workspace share: metrics,
grouping, x axis, smoothing, log y, band, zoom, and one chart per metric.

Widget keys carry the caller's prefix (``cmp_metrics``, ``runs_ws_metrics``, …) so each page keeps
its own choices; ``seed`` sets them from a link's ViewState, ``controls_ui`` returns them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from dashboard import reads, share, summaries, url_sync
from dashboard.charts import curves_figure
from dashboard.figure_cache import FigureCache, frozen, points_version
from dashboard.names import run_labels
from dashboard.text import notice
from dashboard.viewstate import BAND_CHOICES, MAX_SMOOTH, X_CHOICES, ViewState
from dashboard.zoom import points_note, zoom_ui

AUTO, NONE = "", "none"
X_LABELS = {"step": "Step", "epoch": "Epoch", "relative": "Relative time", "wall": "Wall time"}
BAND_LABELS = {"std": "mean ± std", "ci95": "mean ± 95 % CI"}
LIVE_EVERY = "5s"
FIGURES = FigureCache()  # the curve charts of every session: see dashboard.figure_cache
KEYS = ("metrics", "x", "smooth", "logy", "group", "band", "lo", "hi")


def keys(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{k}" for k in KEYS)


def seed(prefix: str, state: ViewState) -> None:
    ss = st.session_state
    ss[f"{prefix}_metrics"] = list(state.metrics)
    ss[f"{prefix}_metrics_auto"] = not state.metrics  # see controls_ui's ``follow``
    ss[f"{prefix}_x"], ss[f"{prefix}_smooth"], ss[f"{prefix}_logy"] = state.x, state.smooth, state.logy
    ss[f"{prefix}_group"], ss[f"{prefix}_band"] = state.group or AUTO, state.band
    ss[f"{prefix}_lo"], ss[f"{prefix}_hi"] = state.steps or (None, None)


def _group_ui(prefix: str, sel: pd.DataFrame, ids: list[str]) -> str | None:
    """Group choice → the ``by`` for summaries.group_labels, or None for one line per run."""
    key = f"{prefix}_group"
    params = sorted(c for c in sel.columns if c.startswith("params.") and sel[c].notna().any())
    tags = sorted(c for c in sel.columns if c.startswith("tags.") and not c.startswith("tags.mlflow.")
                  and sel[c].notna().any())
    options = [AUTO, NONE, "seed", *params, *tags]
    auto = summaries.default_group_param(sel, ids)
    names = {AUTO: f"Automatic ({'re-runs over seeds' if auto else 'none'})", NONE: "None",
             "seed": "Re-runs differing only in seed"}
    wanted = st.session_state.get(key, AUTO)
    if wanted not in options:  # a link may say "lr" for "params.lr"
        match = [o for o in (f"params.{wanted}", f"tags.{wanted}") if o in options]
        if not match:
            notice(f"Group: no param or tag named {wanted} among these runs; grouping automatically.")
        st.session_state[key] = match[0] if match else AUTO
    choice = st.selectbox("Group runs", options, key=key,
                          format_func=lambda o: names.get(o, o.split(".", 1)[-1]),
                          help="Grouped runs draw one mean line with a band per group.")
    if choice == AUTO:
        return auto
    return None if choice == NONE else choice


def _set(key: str, value) -> None:
    st.session_state[key] = value


def controls_ui(prefix: str, sel: pd.DataFrame, ids: list[str], metric_options: list[str],
                default_metrics: list[str], follow: bool = False) -> dict:
    """The controls; returns metrics, x, smooth, logy, group (the ``by``), band, steps.

    ``follow``: the metrics stay ``default_metrics`` (which change with the runs) until the user
    picks some; else the defaults fill an empty choice only."""
    c1, c2, c3 = st.columns([3, 2, 2])
    key, auto = f"{prefix}_metrics", f"{prefix}_metrics_auto"
    with c1:
        if not st.session_state.get(key) or (follow and st.session_state.get(auto, True)):
            st.session_state[key] = default_metrics
        url_sync.keep_valid(key, metric_options)
        metrics = st.multiselect("Metrics", metric_options, key=key, on_change=_set, args=(auto, False))
        group = _group_ui(prefix, sel, ids)
    with c2:
        url_sync.keep_valid(f"{prefix}_x", X_CHOICES, "step")
        x = st.radio("X axis", X_CHOICES, key=f"{prefix}_x", format_func=X_LABELS.get, horizontal=True)
        smooth = st.slider("Smoothing (EMA)", 0.0, MAX_SMOOTH, step=0.01, key=f"{prefix}_smooth",
                           help="TensorBoard-style exponential moving average; the raw line stays faint.")
    with c3:
        logy = st.toggle("Log y", key=f"{prefix}_logy")
        url_sync.keep_valid(f"{prefix}_band", BAND_CHOICES, "std")
        band = st.radio("Group band", BAND_CHOICES, key=f"{prefix}_band", format_func=BAND_LABELS.get,
                        horizontal=True, disabled=group is None)
    steps = zoom_ui(prefix)
    return dict(metrics=metrics, x=x, smooth=smooth, logy=logy, group=group, band=band, steps=steps)


def view_fields(prefix: str, view: dict) -> dict:
    """The controls' choices as ViewState fields, for the page's URL."""
    return dict(metrics=tuple(view["metrics"]), x=view["x"], smooth=round(float(view["smooth"]), 2),
                logy=bool(view["logy"]), group=st.session_state.get(f"{prefix}_group") or None,
                band=view["band"], steps=view["steps"])


def groups(sel: pd.DataFrame, ids: list[str], by: str | None) -> dict[str, str] | None:
    """run_id → group label for the chosen grouping, None when not grouped."""
    if not by:
        return None
    try:
        return summaries.group_labels(sel, ids, by)
    except ValueError as exc:
        notice(f"Not grouped: {exc}")
        return None


def charts_ui(prefix: str, ids: list[str], sel: pd.DataFrame, view: dict, best: dict[str, str],
              live: bool, title: str, colours: Mapping[str, str] | None = None, export: bool = True) -> list:
    """One chart per metric, two per row, and (``export``) the HTML download of them all; returns
    the figures (a caller that exports them itself adds to the file, e.g. Compare's answers)."""
    metrics = view["metrics"]
    curves = reads.curves(ids, metrics, step_range=view["steps"], live=live)
    totals = curves.attrs.get("total_points", {})
    labels = run_labels(sel)
    starts = dict(zip(sel["run_id"], sel["start_time"]))
    cols, figs = (st.columns(2) if len(metrics) > 1 else [st.container()]), []
    for i, metric in enumerate(metrics):
        part = curves[curves["metric"] == metric]
        fig = _figure(part, metric, view, labels, starts, best.get(metric), colours)
        figs.append(fig)
        with cols[i % len(cols)]:
            st.plotly_chart(fig, width="stretch", key=f"{prefix}_chart_{i}", config={"displaylogo": False})
            total = sum(n for (_, m), n in totals.items() if m == metric)
            note = points_note(len(part), total, view["steps"])
            if note:
                st.caption(note)
            if view["x"] == "epoch" and not part.empty and part["epoch"].isna().all():
                st.caption("These runs logged no `epoch` metric: switch the x axis to step.")
    if export:
        share.export_ui(figs, title, f"{prefix}_export", note=runs_note(sel, ids))
    return figs


def _figure(part: pd.DataFrame, metric: str, view: dict, labels: Mapping[str, str],
            starts: Mapping, highlight: str | None, colours: Mapping[str, str] | None):
    """One metric's chart, reused from FIGURES while its points and options are unchanged."""
    options = (metric, view["x"], float(view["smooth"]), bool(view["logy"]), view["band"], highlight,
               frozen(view["groups"]), frozen(labels), frozen(starts), frozen(colours))

    def build():
        fig = curves_figure(part, metric, x=view["x"], smooth=view["smooth"], logy=view["logy"],
                            labels=labels, start_times=starts, groups=view["groups"], band=view["band"],
                            highlight=highlight, colours=colours)
        return fig.update_layout(title=dict(text=metric), height=380)

    return FIGURES.get((points_version(part), options), build)


def runs_note(sel: pd.DataFrame, ids: list[str]) -> str:
    """The HTML download's line naming the runs."""
    labels = run_labels(sel)
    return "Runs: " + ", ".join(labels[r] for r in ids)


def charts_or_live_ui(prefix: str, ids: list[str], sel: pd.DataFrame, view: dict, best: dict[str, str],
                      title: str, colours: Mapping[str, str] | None = None, export: bool = True) -> list | None:
    """``charts_ui``; while one of the runs is RUNNING, in a fragment redrawn every LIVE_EVERY (which
    always exports its charts itself). Returns the figures when drawn once, None when live."""
    if not (sel["status"] == "RUNNING").any():
        return charts_ui(prefix, ids, sel, view, best, False, title, colours, export)

    @st.fragment(run_every=LIVE_EVERY)
    def live() -> None:
        statuses = reads.runs(None).set_index("run_id")["status"].reindex(ids)
        if not (statuses == "RUNNING").any():
            st.rerun()  # the last run ended: redraw the page once, without the timer
        st.caption(f"Live: refreshing every {LIVE_EVERY} while a run is RUNNING.")
        charts_ui(prefix, ids, sel, view, best, True, title, colours)

    live()
