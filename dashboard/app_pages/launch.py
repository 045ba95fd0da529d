"""Launch: a form generated from a model family's typed config (or an experiment file, or a run to
clone), validated by the same code as the CLI; and sweeps over chosen fields.

Share links: ``?family=mlp``, ``?file=mlp_imbalanced.yaml``, ``?clone=<run id>``. All logic lives
in ``experiments`` (forms, launch, sweeps; where runs go: executors); this page draws widgets and shows messages.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import streamlit as st

from dashboard import auth
from dashboard.text import md_text
from experiments import executors, forms, launch, placement, sweeps
from trainers import pruning
from trainers.config import ConfigError
from trainers.registry import families

PREFIX = "launch"




def _source() -> dict:
    """The launch to start from: {"family", "values", "experiment", "name", "cloned_from", "id"}."""
    if rid := st.query_params.get("clone"):
        try:
            src = launch.clone_source(rid)
        except Exception:  # noqa: BLE001 - no such run, or a run with no launch spec to clone
            st.warning(f"Run {md_text(rid)} cannot be cloned (not in this store, or not started by Runboard).")
        else:
            st.caption(f"Cloning run `{rid}`: edit what should differ, then launch.")
            return {**src, "cloned_from": rid, "id": f"clone-{rid}"}
    files = forms.experiment_files()
    options = [f"family: {f}" for f in sorted(families())] + [f"file: {n}" for n in files]
    wanted = (f"file: {st.query_params['file']}" if "file" in st.query_params
              else f"family: {st.query_params.get('family', 'mlp')}")
    choice = st.selectbox("Start from", options, index=options.index(wanted) if wanted in options else 0,
                          key=f"{PREFIX}_source", help="A model family's defaults, or an experiment file's values.")
    kind, _, name = choice.partition(": ")
    st.query_params.update({"family" if kind == "family" else "file": name})
    st.query_params.pop("file" if kind == "family" else "family", None)
    if kind == "file":
        doc = files[name]
        return {"family": doc["family"], "values": doc.get("config") or {}, "experiment": doc.get("experiment"),
                "name": doc.get("name"), "cloned_from": None, "id": f"file-{name}"}
    return {"family": name, "values": {}, "experiment": None, "name": None, "cloned_from": None, "id": f"family-{name}"}


def _help(f: forms.FormField) -> str:
    rules = []
    if f.minimum is not None:
        rules.append(f"{'>' if f.min_exclusive else '≥'} {f.minimum:g}")
    if f.maximum is not None:
        rules.append(f"{'<' if f.max_exclusive else '≤'} {f.maximum:g}")
    kind = {"int": "whole number", "number": "number"}.get(f.kind)
    extra = ", ".join(filter(None, [kind, *rules]))
    return f"{f.help} ({extra})" if extra else f.help


def _field_ui(f: forms.FormField, value, key: str, error: str | None) -> None:
    if f.kind == "choice":
        st.selectbox(f.name, f.options, index=f.options.index(value) if value in f.options else 0, key=key,
                     help=_help(f))
    elif f.kind == "bool":
        st.toggle(f.name, value=bool(value), key=key, help=_help(f))
    else:  # numbers are text so a wrong entry reaches validation and is explained, not silently clamped
        st.text_input(f.name, value="" if value is None else str(value), key=key, help=_help(f))
    if error:
        st.error(error, icon=":material/error:")


def _raw(src: dict, fields: list[forms.FormField]) -> tuple[dict, str, str]:
    state = st.session_state
    raw = {f.name: state[f"{PREFIX}_{src['id']}_{f.name}"] for f in fields}
    return raw, state[f"{PREFIX}_{src['id']}_experiment"], state[f"{PREFIX}_{src['id']}_name"]


def _key(*parts) -> str:
    """Same form values in the same session -> same key -> one run, however often Launch fires."""
    nonce = st.session_state.setdefault(f"{PREFIX}_nonce", uuid.uuid4().hex)
    return "form-" + hashlib.sha256(json.dumps([nonce, *parts], sort_keys=True, default=str).encode()).hexdigest()[:40]


def _request() -> dict | None:
    """What each run asks of the cluster, when the form asked (the Ray executor); else None."""
    state = st.session_state
    if f"{PREFIX}_cpus" not in state:
        return None
    return {"cpus": state[f"{PREFIX}_cpus"], "gpus": state[f"{PREFIX}_gpus"]}


def _launch(src: dict, fields: list[forms.FormField]) -> None:
    if (user := auth.require("launch runs")) is None:
        return  # checked here, on the server: a viewer's forged click queues nothing
    raw, experiment, name = _raw(src, fields)
    request = _request()
    run_id, errors = launch.launch_form(src["family"], raw, experiment, name, launched_by=user.name,
                                       cloned_from=src["cloned_from"], resources=request,
                                       idempotency_key=_key(src["family"], raw, experiment, name, request))
    st.session_state[f"{PREFIX}_errors"] = errors
    st.session_state[f"{PREFIX}_launched"] = run_id


def _launch_sweep(src: dict, fields: list[forms.FormField]) -> None:
    if (user := auth.require("launch sweeps")) is None:
        return
    state = st.session_state
    raw, experiment, name = _raw(src, fields)
    spec, errors = forms.validate(src["family"], raw, experiment, name)
    space = {}
    for field in state.get(f"{PREFIX}_sweep_fields", []):
        try:
            space[field] = forms.sweep_field(src["family"], field, state[f"{PREFIX}_sweep_{field}"],
                                             state.get(f"{PREFIX}_sweep_log_{field}", False),
                                             state[f"{PREFIX}_sweep_num"])
        except ConfigError as err:
            errors[f"sweep_{field}"] = str(err)
    sweep_id = None
    if not errors:
        args = dict(budget=int(state[f"{PREFIX}_sweep_budget"]), parallelism=int(state[f"{PREFIX}_sweep_parallel"]),
                    metric=state[f"{PREFIX}_sweep_metric"], direction=state[f"{PREFIX}_sweep_direction"],
                    prune=_prune())
        try:
            sweep_id = sweeps.create(state[f"{PREFIX}_sweep_kind"], src["family"], spec.config.model_dump(), space,
                                     experiment=spec.experiment, name=spec.run_name, launched_by=user.name,
                                     resources=_request(),
                                     idempotency_key=_key("sweep", src["family"], raw, space, args, _request()), **args)
        except ConfigError as err:
            field = err.field or "space"
            sweep_level = field in space or field in ("budget", "parallelism", "metric", "space", "kind", "direction",
                                                      "prune")
            errors[f"sweep_{field}" if sweep_level else field] = str(err)
    state[f"{PREFIX}_errors"] = errors
    state[f"{PREFIX}_launched"] = sweep_id


def _prune() -> dict | None:
    """The form's early-stopping choice as ``sweeps.create`` takes it (it validates), None for off."""
    state = st.session_state
    if state.get(f"{PREFIX}_sweep_prune", "off") == "off":
        return None
    return {"rule": state[f"{PREFIX}_sweep_prune"], "warmup_trials": int(state[f"{PREFIX}_sweep_prune_warmup"]),
            "min_epochs": int(state[f"{PREFIX}_sweep_prune_min_epochs"]),
            "eta": int(state[f"{PREFIX}_sweep_prune_eta"])}


def _prune_ui() -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox("Early stopping", ["off", *pruning.RULES], key=f"{PREFIX}_sweep_prune",
                 help="median: stop a trial worse than the median of finished trials at the same epoch. "
                      "asha: at epochs min, min·η, min·η², … only the best 1/η of the trials that got there go on.")
    on = st.session_state.get(f"{PREFIX}_sweep_prune", "off") != "off"
    c2.number_input("Warm-up trials", 0, 1000, 3, key=f"{PREFIX}_sweep_prune_warmup", disabled=not on,
                    help="median: finished trials needed before any trial is stopped.")
    c3.number_input("Min epochs", 1, 100_000, 1, key=f"{PREFIX}_sweep_prune_min_epochs", disabled=not on,
                    help="No trial is stopped before this epoch (asha: its first rung).")
    c4.number_input("Reduction factor η", 2, 100, 3, key=f"{PREFIX}_sweep_prune_eta", disabled=not on,
                    help="asha: one in η trials goes on at each rung.")


def _sweep_ui(src: dict, fields: list[forms.FormField], errors: dict) -> None:
    with st.expander("Sweep: search over some fields", expanded=bool(st.session_state.get(f"{PREFIX}_sweep_fields"))):
        st.caption("Trials take every other field from the form above. "
                   "A sweep is a parent run; each trial a nested run.")
        c1, c2, c3 = st.columns(3)
        c1.selectbox("Search", list(sweeps.KINDS), key=f"{PREFIX}_sweep_kind",
                     help="grid: every combination; random: budget samples; "
                          "optuna: Bayesian (TPE), each trial chosen from the ones before.")
        c2.number_input("Budget (trials)", 1, 1000, 8, key=f"{PREFIX}_sweep_budget")
        c3.number_input("Parallel trials", 1, 64, 2, key=f"{PREFIX}_sweep_parallel")
        c1.text_input("Metric", "val/loss", key=f"{PREFIX}_sweep_metric")
        c2.selectbox("Direction", ["minimize", "maximize"], key=f"{PREFIX}_sweep_direction")
        c3.number_input("Grid points per range", 1, 50, 3, key=f"{PREFIX}_sweep_num")
        _prune_ui()
        numeric = {f.name: f for f in fields if f.kind != "bool"}
        chosen = st.multiselect("Fields to sweep", list(numeric), key=f"{PREFIX}_sweep_fields")
        for name in chosen:
            f = numeric[name]
            a, b = st.columns([4, 1])
            hint = "Comma-separated values" + ("" if f.kind == "choice" else ", or a range low..high")
            default = ", ".join(map(str, f.options)) if f.kind == "choice" else str(f.default)
            a.text_input(f"{name} values", default, key=f"{PREFIX}_sweep_{name}", help=hint)
            if f.kind in ("number", "int"):
                b.toggle("Log scale", value=name in ("lr", "weight_decay"), key=f"{PREFIX}_sweep_log_{name}")
            if err := errors.get(f"sweep_{name}"):
                st.error(err, icon=":material/error:")
        for key in ("sweep_budget", "sweep_parallelism", "sweep_metric", "sweep_space", "sweep_kind", "sweep_direction",
                    "sweep_prune"):
            if err := errors.get(key):
                st.error(err, icon=":material/error:")
        st.button("Launch sweep", key=f"{PREFIX}_sweep_go", on_click=_launch_sweep, args=(src, fields),
                  disabled=not chosen or not auth.can_launch())


def _placement_ui(errors: dict) -> None:
    """Where runs go; with Ray, the cluster's free resources and what each run reserves of them."""
    place = executors.where()
    if place["executor"] != "ray":
        st.caption(f"Runs go to {md_text(place['text'])}.")
        return
    if place["resources"]:
        free = " · ".join(f"{r['free']:g} of {r['total']:g} {name} free" for name, r in place["resources"].items())
        st.caption(f"Runs go to {md_text(place['text'])} — now {free}.")
    else:
        st.warning(f"Runs go to {md_text(place['text'])}; its free resources are unknown "
                   f"({md_text(place['error'])}).", icon=":material/cloud_off:")
    c1, c2, _ = st.columns(3)
    c1.number_input("CPUs per run", 0.0, placement.MAX["cpus"], placement.DEFAULT_REQUEST["cpus"], 0.5,
                    key=f"{PREFIX}_cpus",
                    help="Reserved for each run (and each sweep trial) on the cluster; "
                         "Ray starts it when they are free.")
    c2.number_input("GPUs per run", 0.0, placement.MAX["gpus"], placement.DEFAULT_REQUEST["gpus"], 1.0,
                    key=f"{PREFIX}_gpus", help="0 trains on CPU. A fraction shares one GPU between runs.")
    for field in ("cpus", "gpus"):
        if err := errors.get(field):
            st.error(err, icon=":material/error:")


def main() -> None:
    st.title("Launch")
    if not auth.can_launch():
        st.info("You are signed in as a viewer: you can look at the form, but only a launcher can launch.")
    src = _source()
    fam = families().get(src["family"])
    if fam is None:
        st.error(f"Unknown model family {md_text(src['family'])}.")
        return
    if fam.summary:
        st.caption(md_text(fam.summary))
    errors = st.session_state.get(f"{PREFIX}_errors", {})
    fields = forms.form_fields(src["family"])
    c1, c2 = st.columns(2)
    with c1:
        st.text_input("name", src["name"] or "", key=f"{PREFIX}_{src['id']}_name", help="Run name (optional).")
        if err := errors.get("name"):
            st.error(err, icon=":material/error:")
    with c2:
        st.text_input("experiment", src["experiment"] or "", key=f"{PREFIX}_{src['id']}_experiment",
                      help="MLflow experiment (default: runboard).")
        if err := errors.get("experiment"):
            st.error(err, icon=":material/error:")
    cols = st.columns(3)
    for i, f in enumerate(fields):
        with cols[i % 3]:
            _field_ui(f, src["values"].get(f.name, f.default), f"{PREFIX}_{src['id']}_{f.name}", errors.get(f.name))
    _placement_ui(errors)
    for field in set(errors) - {f.name for f in fields} - {"name", "experiment", "cpus", "gpus"}:
        if not field.startswith("sweep_"):
            st.error(errors[field], icon=":material/error:")
    st.button("Launch", type="primary", key=f"{PREFIX}_go", on_click=_launch, args=(src, fields),
              disabled=not auth.can_launch())
    if launched := st.session_state.get(f"{PREFIX}_launched"):
        st.success(f"Queued `{launched}` — follow it on Activity or on the run's own page.")
        # page links, not markdown ones: Streamlit opens those in a new tab, which signs the user out
        c1, c2, _ = st.columns([1, 1, 4])
        c1.page_link("app_pages/activity.py", label="Activity", icon=":material/pending_actions:")
        c2.page_link("app_pages/run.py", label="Open the run", icon=":material/insights:",
                     query_params={"run": launched})
        if st.button("New launch", key=f"{PREFIX}_again",
                     help="Launching the same values again starts the same run; this starts a new one."):
            st.session_state[f"{PREFIX}_nonce"] = uuid.uuid4().hex
            st.session_state[f"{PREFIX}_launched"] = None
            st.rerun()
    _sweep_ui(src, fields, errors)


main()
