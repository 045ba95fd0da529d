"""Run: one run's status and live progress, every metric's curve, confusion matrices, params,
tags and artifacts."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import resume_button, ui
from dashboard.charts import confusion_figure, curves_figure
from dashboard.viewstate import ViewState
from dashboard.widgets import points_note, zoom_ui

PREFIX = "run"
SPEC_TAG = "runboard.spec"  # trainers.run_record.SPEC_TAG: the launch a run came from
PROGRESS = "runboard.progress."
HEARTBEAT = "runboard.heartbeat"
STALE_AFTER_S = 120  # a RUNNING run whose heartbeat is older than this probably died
LIVE_EVERY = "5s"
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.json$")


def _number(tags: dict, key: str) -> float | None:
    try:
        return float(tags[key])
    except (KeyError, TypeError, ValueError):
        return None


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


def progress(tags: dict, start: pd.Timestamp | None, now: float) -> tuple[float | None, str, float | None]:
    """(fraction done, "epoch x/y · step s/t · ETA m:ss", heartbeat age in s) from progress tags."""
    epoch, max_epochs = _number(tags, PROGRESS + "epoch"), _number(tags, PROGRESS + "max_epochs")
    step, total = _number(tags, PROGRESS + "step"), _number(tags, PROGRESS + "total_steps")
    beat = _number(tags, HEARTBEAT)
    parts, frac = [], None
    if epoch is not None and max_epochs:
        parts.append(f"epoch {epoch:.0f}/{max_epochs:.0f}")
        frac = epoch / max_epochs
    if step is not None and total:
        parts.append(f"step {step:.0f}/{total:.0f}")
        frac = step / total
        started = start.timestamp() if start is not None and not pd.isna(start) else None
        if started is not None and step > 0:
            elapsed = (beat or now) - started
            parts.append(f"ETA {_duration(elapsed * (total - step) / step)}")
    if frac is not None:
        frac = min(max(frac, 0.0), 1.0)
    return frac, " · ".join(parts), (now - beat if beat else None)


def _status(rid: str) -> None:
    info = ui.run(rid) or {}
    status = info.get("status", "?")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", ui.status_text(status))
    start = info.get("start_time")
    c2.metric("Started", start.strftime("%b %d, %H:%M") if start is not None and not pd.isna(start) else "—")
    duration = info.get("duration_s")
    if status == "RUNNING" and start is not None and not pd.isna(start):
        duration = time.time() - start.timestamp()
    c3.metric("Duration", _duration(duration) if duration is not None and duration == duration else "—")
    c4.metric("User", ui.md_text(info.get("user") or "—"))
    if status != "RUNNING":
        return
    frac, text, age = progress(info.get("tags", {}), start, time.time())
    if frac is not None:
        st.progress(frac, text=text)
    if age is not None and age > STALE_AFTER_S:
        ui.notice(f"No heartbeat for {_duration(age)}: the trainer may have died; it will be "
                  "marked FAILED by reconciliation.")


def _seed(state: ViewState, _params: dict[str, str]) -> None:
    st.session_state.run_lo, st.session_state.run_hi = state.steps or (None, None)


def _curves(rid: str, metrics: list[str], live: bool, steps=None) -> None:
    if not metrics:
        st.info("This run has logged no metrics yet. Trainers log train/loss every step and "
                "validation metrics every epoch.")
        return
    curves = ui.curves([rid], metrics, step_range=steps, live=live)
    totals = curves.attrs.get("total_points", {})
    cols = st.columns(2)
    for i, metric in enumerate(metrics):
        part = curves[curves["metric"] == metric]
        fig = curves_figure(part, metric, x="step", labels={rid: metric})
        fig.update_layout(title=dict(text=metric), height=300, showlegend=False)
        with cols[i % 2]:
            st.plotly_chart(fig, width="stretch", key=f"run_chart_{i}", config={"displaylogo": False})
            note = points_note(len(part), totals.get((rid, metric), len(part)), steps)
            if note:
                st.caption(note)


def _live(rid: str, metrics: list[str], steps) -> None:
    @st.fragment(run_every=LIVE_EVERY)
    def live() -> None:
        _status(rid)
        _curves(rid, metrics, live=True, steps=steps)
        if (ui.run(rid) or {}).get("status") != "RUNNING":
            st.rerun()  # finished: one full redraw without the timer

    live()


def _confusion(rid: str) -> None:
    files = [a["path"] for a in ui.artifacts(rid, "confusion") if not a["is_dir"]]
    files = sorted(f for f in files if _EPOCH_FILE.search(f))
    if not files:
        st.caption("No confusion matrices logged (classifiers write confusion/epoch_NNN.json).")
        return
    label = {f: f"epoch {int(_EPOCH_FILE.search(f).group(1))}" for f in files}
    ui.keep_valid("run_cm_file", files, files[-1])
    c1, c2 = st.columns([4, 1])
    with c1:
        if len(files) > 1:
            path = st.select_slider("Epoch", files, key="run_cm_file", format_func=label.get)
        else:
            path = files[0]
            st.caption(label[path])
    with c2:
        normalize = st.toggle("Row shares", key="run_cm_norm", help="Colour by share of each actual class")
    doc = ui.json_artifact(rid, path)
    try:
        fig = confusion_figure(doc["matrix"], doc["labels"], normalize=normalize)
    except (KeyError, TypeError, ValueError) as exc:
        ui.notice(f"{path} is not a confusion matrix ({type(exc).__name__}: {exc}).")
        return
    st.plotly_chart(fig, width="stretch", key="run_confusion", config={"displaylogo": False})


def _artifacts(rid: str) -> None:
    rows = []
    for item in ui.artifacts(rid, ""):
        rows.append(item)
        if item["is_dir"]:
            rows += ui.artifacts(rid, item["path"])  # one level down is what people look for
    if not rows:
        st.caption("No artifacts.")
        return
    table = pd.DataFrame(rows, columns=["path", "is_dir", "file_size"])
    table["is_dir"] = table["is_dir"].map({True: "folder", False: "file"})
    st.dataframe(table.rename(columns={"is_dir": "kind", "file_size": "bytes"}),
                 hide_index=True, width="stretch")


def _key_values(values: dict, what: str) -> None:
    if not values:
        st.caption(f"No {what}.")
        return
    table = pd.DataFrame(sorted(values.items()), columns=["key", "value"])
    st.dataframe(table, hide_index=True, width="stretch")


def _pick_run(state: ViewState) -> None:
    """No usable run id: say where runs are picked, and take one typed or pasted."""
    st.info("Open a run from the Runs page (tick one row, then “Open run”), or paste a run id.")
    typed = st.text_input("Run id", key="run_typed", max_chars=64).strip().lower()
    if typed:
        ui.write_url(PREFIX, replace(state, run=typed))
        st.rerun()
    ui.write_url(PREFIX, state)


def main() -> None:
    state, _, fresh = ui.url_state(PREFIX, _seed, ("run_lo", "run_hi"))
    if not state.run:
        st.title("Run")
        _pick_run(state)
        return
    info = ui.read_or_stop("the run", ui.run, state.run)
    if info is None:
        st.title("Run")
        ui.notice(f"No run {state.run} in this store: it was deleted, or the link points to "
                  "another store.")
        _pick_run(replace(state, run=None))
        return
    rid = info["run_id"]
    st.title(ui.md_text(info.get("run_name") or rid[:8]))
    st.caption(f"Run {rid} · experiment {info.get('experiment_id')}")
    link = ui.mlflow_run_url(str(info.get("experiment_id")), rid)
    if link:
        st.link_button("Open in MLflow", link)
    if SPEC_TAG in info.get("tags", {}):  # launched by Runboard: its launch spec pre-fills the form
        st.page_link("app_pages/launch.py", label="Clone", icon=":material/content_copy:",
                     query_params={"clone": rid}, help="Open the Launch form pre-filled with this run's params.")
    resume_button.show(info)  # FAILED / KILLED with a checkpoint: continue it from the queue
    metrics = sorted(info.get("metrics", {}))
    steps = zoom_ui(PREFIX) if metrics else None
    ui.write_url(PREFIX, replace(state, steps=steps))
    if info.get("status") == "RUNNING":
        _live(rid, metrics, steps)
    else:
        _status(rid)
        _curves(rid, metrics, live=False, steps=steps)
    tabs = st.tabs(["Confusion matrix", "Params", "Tags", "Artifacts"])
    with tabs[0]:
        _confusion(rid)
    with tabs[1]:
        _key_values(info.get("params", {}), "params")
    with tabs[2]:
        _key_values(info.get("tags", {}), "tags")
    with tabs[3]:
        _artifacts(rid)


main()
