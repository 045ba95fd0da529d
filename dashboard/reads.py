"""Cached reads over ``dashboard.data`` for the pages, and what a page shows when there is
nothing to read: a store that is down or refuses (``store_down_ui``, ``read_or_stop``), an empty one.

Arguments are tuples so they hash; Streamlit copies frames out of the cache. Slow reads stay fresh
for longer (:class:`Freshness`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.freshness import Freshness
from dashboard.text import notice

TTL = 10  # s; long enough to spare the store repeated reads, short enough to see new runs
LIVE_TTL = 2  # s; a running run's details and health
# s; curves of running runs: just under the live charts' 5 s tick, so every tick reads anew while a
# control changed between ticks (Log y, smoothing) redraws from the last read instead of waiting for one
LIVE_CURVES_TTL = 4
HOLD = 3600  # s; the most any read is kept, however slow (a stale one goes sooner: dashboard.freshness)
FIRST_RUN = "python -m trainers.train mlp --set max_epochs=2"


@st.cache_data(ttl=TTL, show_spinner=False)
def experiments() -> pd.DataFrame:
    return data.experiments()


_RUNS, _CURVES, _LIVE = Freshness(TTL), Freshness(TTL), Freshness(LIVE_CURVES_TTL)


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


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=16)
def at_best(run_ids: tuple[str, ...], metrics: tuple[str, ...], other: str) -> pd.DataFrame:
    """Each run's value of each metric at ``other``'s best step (``data.at_best``)."""
    return data.at_best(run_ids, metrics, other)


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


def empty_store_ui(what: str) -> None:
    """What to do when there is nothing to show yet."""
    st.info(f"{what} Start a first run from the repository root, then reload this page:")
    st.code(FIRST_RUN, language="bash")
