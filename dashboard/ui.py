"""What every page shares: cached reads over ``dashboard.data``, the URL sync, text escaping and
small widget helpers (``*_ui`` return the user's choice).

The URL is the source of truth for a view. A page calls :func:`url_state` before drawing its
widgets (which seeds the widgets' session-state keys from the URL when the URL changed under the
page: a fresh link, a page switch, the back button) and :func:`write_url` after them (which
mirrors the widgets' values back into ``st.query_params``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping

import pandas as pd
import streamlit as st

from dashboard import data, viewstate
from dashboard.freshness import Freshness
from dashboard.viewstate import ViewState

TTL = 10  # s; long enough to spare the store repeated reads, short enough to see new runs
LIVE_TTL = 2  # s; curves of running runs, redrawn by a 5 s fragment
HOLD = 3600  # s; the most any read is kept, however slow (a stale one goes sooner: dashboard.freshness)
FIRST_RUN = "python -m trainers.train mlp --set max_epochs=2"
MLFLOW_UI_ENV = "RUNBOARD_MLFLOW_UI"

# CommonMark treats a backslash before any ASCII punctuation as "this character, literally".
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~$:=&\"'])")


def md_text(value: object) -> str:
    """``value`` escaped so Streamlit's markdown (st.warning, st.caption, …) shows it as typed."""
    text = " ".join(str(value).split())  # newlines would start new markdown blocks
    return _MD_SPECIAL.sub(r"\\\1", text)


def notice(message: str, kind: str = "warning") -> None:
    """A warning/info/error box whose text is shown literally, never as markdown or HTML."""
    getattr(st, kind)(md_text(message))


def mlflow_ui_url() -> str | None:
    """Base URL of MLflow's own UI for this store, when the operator configured one."""
    url = os.environ.get(MLFLOW_UI_ENV, "").strip().rstrip("/")
    return url if url.startswith(("http://", "https://")) else None


def mlflow_run_url(experiment_id: str, run_id: str) -> str | None:
    base = mlflow_ui_url()
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}" if base else None


# ---- cached reads (arguments are tuples so they hash; frames are copied out of the cache) ----

@st.cache_data(ttl=TTL, show_spinner=False)
def experiments() -> pd.DataFrame:
    return data.experiments()


_RUNS, _CURVES, _LIVE = Freshness(TTL), Freshness(TTL), Freshness(LIVE_TTL)


@st.cache_data(ttl=HOLD, show_spinner=False, max_entries=32)
def _runs(generation: int, experiment_ids: tuple[str, ...] | None) -> pd.DataFrame:
    ids = list(experiment_ids) if experiment_ids is not None else None
    return _RUNS.read((experiment_ids,), generation, data.runs, ids)


def runs(experiment_ids: tuple[str, ...] | None = None) -> pd.DataFrame:
    return _RUNS.get(_runs, (experiment_ids,))


@st.cache_data(ttl=HOLD, show_spinner=False, max_entries=16)  # a 100-run comparison is ~45 MB
def _curves(generation: int, run_ids: tuple[str, ...], metrics: tuple[str, ...], max_points: int,
            step_range) -> pd.DataFrame:
    key = (run_ids, metrics, max_points, step_range)
    return _CURVES.read(key, generation, data.curves, run_ids, metrics, max_points, step_range)


@st.cache_data(ttl=HOLD, show_spinner=False, max_entries=16)
def _curves_live(generation: int, run_ids: tuple[str, ...], metrics: tuple[str, ...], max_points: int,
                 step_range) -> pd.DataFrame:
    key = (run_ids, metrics, max_points, step_range)
    return _LIVE.read(key, generation, data.curves, run_ids, metrics, max_points, step_range)


def curves(run_ids: Iterable[str], metrics: Iterable[str], *, max_points: int = 1000,
           step_range=None, live: bool = False) -> pd.DataFrame:
    reader, freshness = (_curves_live, _LIVE) if live else (_curves, _CURVES)
    return freshness.get(reader, (tuple(run_ids), tuple(metrics), max_points, step_range))


@st.cache_data(ttl=TTL, show_spinner=False)
def metric_keys(run_ids: tuple[str, ...]) -> list[str]:
    return data.metric_keys(list(run_ids))


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, max_entries=64)
def run(run_id: str) -> dict | None:
    return data.run(run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, max_entries=64)
def run_health(run_id: str) -> list:
    """The run's health flags (``analysis.health.Flag``: flag, metric, step); [] for an unknown run."""
    one = data.run(run_id)
    return data.run_health(one) if one else []


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, max_entries=16)
def children(parent_run_id: str) -> pd.DataFrame:
    return data.children(parent_run_id)  # a live sweep's trials change status every few seconds


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def artifacts(run_id: str, path: str = "") -> list[dict]:
    return data.artifacts(run_id, path)


@st.cache_data(ttl=TTL * 30, show_spinner=False, max_entries=64)
def json_artifact(run_id: str, path: str) -> object:
    return data.read_json_artifact(run_id, path)  # logged artifacts do not change: cache longer


STORE_RETRY_EVERY = "5s"


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, max_entries=4)
def store_problem(uri: str) -> str | None:
    return data.store_problem(uri)


def store_down_ui(problem: str) -> None:
    """The one message for a store that cannot be read (down, refused, full), the same on every
    page, and the end of this page's run; the page redraws by itself once the store answers."""
    notice(f"The tracking store is unreachable: {problem}", "error")
    st.caption("Nothing is lost: trainers keep their points and write them when the store is back. "
               "This page reloads by itself when the store answers again.")

    @st.fragment(run_every=STORE_RETRY_EVERY)
    def wait_for_store() -> None:
        if data.store_problem() is None:
            store_problem.clear()
            st.rerun(scope="app")

    wait_for_store()
    st.stop()


def read_or_stop(what: str, fn: Callable, *args, **kwargs):
    """``fn(*args)``, or a clear error (no traceback) and the end of this page's run."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any store failure is shown, not raised at the user
        if data.unreachable(exc):
            store_down_ui(data.one_line(exc))
        notice(f"Cannot read {what} from the tracking store: {type(exc).__name__}: {exc}", "error")
        st.caption("Check MLFLOW_TRACKING_URI (or the embedded store in mlruns/), then reload.")
        st.stop()


# ---- the URL ----

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


def seed_key(key: str, value, options: Iterable | None = None) -> None:
    """Set a widget's value before it is drawn; values not among ``options`` are dropped."""
    if options is not None:
        opts = list(options)
        if isinstance(value, (list, tuple)):
            value = [v for v in value if v in opts]
        elif value not in opts:
            value = opts[0] if opts else None
    st.session_state[key] = value


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


# ---- shared widgets and labels ----

def run_labels(frame: pd.DataFrame) -> dict[str, str]:
    """run_id → a short display name; repeated or missing names get the id's first 8 characters."""
    names = {}
    for rid, name in zip(frame["run_id"], frame["run_name"]):
        names[rid] = name if isinstance(name, str) and name else rid[:8]
    counts = pd.Series(list(names.values())).value_counts()
    return {rid: (f"{n} ({rid[:8]})" if counts[n] > 1 else n) for rid, n in names.items()}


def status_text(status: str) -> str:
    """MLflow's status words, sentence case (no emoji: headless and minimal fonts lack them)."""
    return str(status).capitalize()


def experiment_ui(exps: pd.DataFrame, key: str) -> str:
    """Experiment picker over ``experiment_id`` values, labelled with names and run counts."""
    names = dict(zip(exps["experiment_id"], exps["name"]))
    counts = dict(zip(exps["experiment_id"], exps.get("n_runs", pd.Series(dtype=int))))

    def label(eid: str) -> str:
        n = counts.get(eid)
        return f"{names[eid]} ({n} runs)" if n is not None and n == n else names[eid]

    return st.selectbox("Experiment", list(names), format_func=label, key=key)


def empty_store_ui(what: str) -> None:
    """What to do when there is nothing to show yet."""
    st.info(f"{what} Start a first run from the repository root, then reload this page:")
    st.code(FIRST_RUN, language="bash")
