"""Run: one run's status and live progress, every metric's curve (a sweep's parent: its trials'
results instead, ``dashboard.sweep_view``), confusion matrices, params, tags and artifacts."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import completeness, reads, resume_button, run_images, sweep_view, url_sync
from dashboard.charts import confusion_figure, curves_figure, mark_flags
from dashboard.mlflow_ui import mlflow_run_url
from dashboard.numbers import short_number
from dashboard.text import md_text, notice, status_text
from dashboard.viewstate import ViewState
from dashboard.zoom import points_note, zoom_ui
from trainers import progress
from trainers.metrics import EPOCH, SYSTEM_PREFIX
from trainers.run_tags import LAUNCHED_BY, USER
from trainers.run_tags import SPEC as SPEC_TAG

PREFIX = "run"
LIVE_EVERY = "5s"
LIVE_STATUSES = ("RUNNING", "SCHEDULED")
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.json$")


def _status(rid: str) -> None:
    info = reads.run(rid) or {}
    status = info.get("status", "?")
    c1, c0, c2, c3, c4 = st.columns(5)
    c1.metric("Status", status_text(status))
    queued, wait = info.get("queued_time"), info.get("queue_wait_s")
    c0.metric("Queued", queued.strftime("%b %d, %H:%M:%S") if queued is not None and not pd.isna(queued) else "—",
              help="When the run was created (launched); training may have waited in the queue")
    start = info.get("start_time")  # training start (trainers' progress.started tag), else creation
    waited = (
        f"waited {progress.duration_text(wait)} in queue" if wait is not None and wait == wait and wait >= 1 else None
    )
    c2.metric("Started", start.strftime("%b %d, %H:%M:%S") if start is not None and not pd.isna(start) else "—",
              delta=waited, delta_color="off")
    duration = info.get("duration_s")
    if status == "RUNNING" and start is not None and not pd.isna(start):
        duration = time.time() - start.timestamp()
    c3.metric("Duration", progress.duration_text(duration) if duration is not None and duration == duration else "—")
    c4.metric("User", md_text(_user(info)))
    if status != "RUNNING":
        return
    started = start.timestamp() if start is not None and not pd.isna(start) else None
    now = progress.read(info.get("tags", {}), started, time.time())
    if now.fraction is not None:
        st.progress(now.fraction, text=now.text())
    if now.stale:
        notice(f"No heartbeat for {progress.duration_text(now.heartbeat_age_s)}: the trainer may have died; "
               "it will be marked FAILED by reconciliation.")


def _user(info: dict) -> str:
    """Who ran it: the launcher for a launched run (the store's own user column says "unknown"
    for runs the queue created), else the trainer's OS user."""
    tags = info.get("tags", {})
    for name in (tags.get(LAUNCHED_BY), tags.get(USER), info.get("user")):
        if name and name != "unknown":
            return str(name)
    return "—"


def _seed(state: ViewState, _params: dict[str, str]) -> None:
    st.session_state.run_lo, st.session_state.run_hi = state.steps or (None, None)


def _health(rid: str) -> list:
    """The run's health flags, said in one line above its curves (issue 17); the charts mark them."""
    flags = reads.run_health(rid)
    if flags:
        where = [f.flag + (f" in {f.metric} at step {f.step}" if f.step is not None else "") for f in flags]
        notice("Health: " + "; ".join(where))
    return flags


def _chart_grid(rid: str, curves, metrics: list[str], key: str, steps, flags=()) -> None:
    totals = curves.attrs.get("total_points", {})
    cols = st.columns(2)
    for i, metric in enumerate(metrics):
        part = curves[curves["metric"] == metric]
        fig = curves_figure(part, metric, x="step", labels={rid: metric})
        fig = mark_flags(fig, part, [f for f in flags if f.metric == metric])
        fig.update_layout(title=dict(text=metric), height=300, showlegend=False)
        with cols[i % 2]:
            st.plotly_chart(fig, width="stretch", key=f"{key}_{i}", config={"displaylogo": False})
            note = points_note(len(part), totals.get((rid, metric), len(part)), steps)
            if note:
                st.caption(note)


def _curves(rid: str, metrics: list[str], live: bool, steps=None) -> None:
    """The run's training metrics, then a System section (MLflow's ``system/…`` names). The epoch
    counter is the x axis's business, not a curve of its own."""
    system = [m for m in metrics if m.startswith(SYSTEM_PREFIX)]
    training = [m for m in metrics if m != EPOCH and m not in system]
    if not training and not system:
        st.info("This run has logged no metrics yet. Trainers log train/loss every step and "
                "validation metrics every epoch.")
        return
    flags = _health(rid)
    curves = reads.curves([rid], training + system, step_range=steps, live=live)
    _chart_grid(rid, curves, training, "run_chart", steps, flags)
    if system:
        st.subheader("System")
        st.caption("Sampled every few seconds while training; x is the sample number.")
        _chart_grid(rid, curves, system, "run_system", steps)


def _live(rid: str, metrics: list[str], steps) -> None:
    @st.fragment(run_every=LIVE_EVERY)
    def live() -> None:
        info = reads.run(rid) or {}
        if set(info.get("metrics") or ()) - set(metrics):
            # A metric this page has not drawn: the first points of a page opened before them, or one
            # logged later (val/* after an epoch, train/loss after the first system sample on a busy
            # machine). A full redraw adds it (zoom, all metrics); the fragment keeps its first list.
            st.rerun()
        _status(rid)
        _curves(rid, metrics, live=True, steps=steps)
        if info.get("status") not in LIVE_STATUSES:
            st.rerun()  # finished: one full redraw without the timer

    live()


def _run(rid: str, info: dict, state: ViewState) -> None:
    metrics = sorted(info.get("metrics", {}))
    steps = zoom_ui(PREFIX) if metrics else None
    url_sync.write_url(PREFIX, replace(state, steps=steps))
    if info.get("status") in LIVE_STATUSES:  # a just-launched run is still SCHEDULED: follow it too
        _live(rid, metrics, steps)
    else:
        _status(rid)
        _curves(rid, metrics, live=False, steps=steps)


def _sweep(rid: str, experiment_id: str, sweep, live: bool) -> None:
    if not live:
        _status(rid)
        sweep_view.section(rid, experiment_id, sweep)
        return

    @st.fragment(run_every=LIVE_EVERY)
    def follow() -> None:  # trials start and end while the parent is RUNNING
        _status(rid)
        sweep_view.section(rid, experiment_id, sweep)
        if (reads.run(rid) or {}).get("status") not in LIVE_STATUSES:
            st.rerun()

    follow()


def _confusion(rid: str) -> None:
    files = [a["path"] for a in reads.artifacts(rid, "confusion") if not a["is_dir"]]
    files = sorted(f for f in files if _EPOCH_FILE.search(f))
    if not files:
        st.caption("No confusion matrices logged (classifiers write confusion/epoch_NNN.json).")
        return
    label = {f: f"epoch {int(_EPOCH_FILE.search(f).group(1))}" for f in files}
    url_sync.keep_valid("run_cm_file", files, files[-1])
    c1, c2 = st.columns([4, 1])
    with c1:
        if len(files) > 1:
            path = st.select_slider("Epoch", files, key="run_cm_file", format_func=label.get)
        else:
            path = files[0]
            st.caption(label[path])
    with c2:
        normalize = st.toggle("Row shares", key="run_cm_norm", help="Colour by share of each actual class")
    doc = reads.json_artifact(rid, path)
    try:
        fig = confusion_figure(doc["matrix"], doc["labels"], normalize=normalize)
    except (KeyError, TypeError, ValueError) as exc:
        notice(f"{path} is not a confusion matrix ({type(exc).__name__}: {exc}).")
        return
    st.plotly_chart(fig, width="stretch", key="run_confusion", config={"displaylogo": False})


def _artifacts(rid: str) -> None:
    rows = []
    for item in reads.artifacts(rid, ""):
        rows.append(item)
        if item["is_dir"]:
            rows += reads.artifacts(rid, item["path"])  # one level down is what people look for
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
        url_sync.write_url(PREFIX, replace(state, run=typed))
        st.rerun()
    url_sync.write_url(PREFIX, state)


def main() -> None:
    state, _, fresh = url_sync.url_state(PREFIX, _seed, ("run_lo", "run_hi"))
    if not state.run:
        st.title("Run")
        _pick_run(state)
        return
    info = reads.read_or_stop("the run", reads.run, state.run)
    if info is None:
        st.title("Run")
        notice(f"No run {state.run} in this store: it was deleted, or the link points to "
               "another store.")
        _pick_run(replace(state, run=None))
        return
    rid = info["run_id"]
    st.title(md_text(info.get("run_name") or rid[:8]))
    st.caption(f"Run {rid} · experiment {info.get('experiment_id')}")
    completeness.run_notice_ui(rid, info.get("tags", {}))
    link = mlflow_run_url(str(info.get("experiment_id")), rid)
    if link:
        st.link_button("Open in MLflow", link)
    if SPEC_TAG in info.get("tags", {}):  # launched by Runboard: its launch spec pre-fills the form
        st.page_link("app_pages/launch.py", label="Clone", icon=":material/content_copy:",
                     query_params={"clone": rid}, help="Open the Launch form pre-filled with this run's params.")
    sweep_view.parent_link(info)  # a sweep's trial: back to the sweep's results
    resume_button.show(info)  # FAILED / KILLED with a checkpoint: continue it from the queue
    run_images.section(rid)  # image artifacts (e.g. GAN sample grids), near the top
    _details(rid, info)  # what the run is, above how it went
    sweep = sweep_view.definition(info)
    if sweep is not None:  # a sweep's parent: its trials' results, not its one best/<metric> point
        url_sync.write_url(PREFIX, replace(state, steps=None))
        _sweep(rid, str(info.get("experiment_id")), sweep, live=info.get("status") in LIVE_STATUSES)
    else:
        _run(rid, info, state)


def _details(rid: str, info: dict) -> None:
    tabs = st.tabs(["Params", "Confusion matrix", "Tags", "Artifacts"])
    with tabs[0]:
        _key_values({k: short_number(v) for k, v in info.get("params", {}).items()}, "params")
    with tabs[1]:
        _confusion(rid)
    with tabs[2]:
        _key_values(info.get("tags", {}), "tags")
    with tabs[3]:
        _artifacts(rid)


main()
