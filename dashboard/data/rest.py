"""The fallback reader for ``http(s)://`` stores (an ``mlflow server``): MLflow's own client.

Same frames as the SQL reader, with two differences a server forces on us: curves are fetched
whole per run × metric (``get_metric_history``, paginated by MLflow; several in flight at once,
and only those the run logged) and bucketed here in numpy;
``runs()`` leaves ``metrics.<key>.min`` / ``.max`` NaN, because computing them would cost one
full history request per run × metric (``run()`` does fill them, for its one run).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import pandas as pd

from dashboard.data import downsample as ds
from dashboard.data import frames
from trainers import tracking
from trainers.metrics import EPOCH
from trainers.run_tags import PARENT as PARENT_TAG

PAGE = 50_000  # MLflow's largest search page
CONCURRENT = 8  # history requests in flight at once: enough to keep a server's workers busy, bounded
_RUN_ID = re.compile(r"^[0-9a-f]{1,64}$")
HISTORY = "/api/2.0/mlflow/metrics/get-history"
# MLflow is imported inside the functions that talk to a server: ``dashboard.data`` imports this
# module for every store, and on a SQL store the dashboard process never loads MLflow (issue 16).
ACTIVE_ONLY = 1  # mlflow.entities.ACTIVE_ONLY, pinned in tests/test_dashboard_imports.py


def experiments(uri: str) -> pd.DataFrame:
    c = tracking.client(uri)
    exps = c.search_experiments(view_type=ACTIVE_ONLY, max_results=PAGE)
    counts = pd.Series([r.info.experiment_id for r in _search(uri, [e.experiment_id for e in exps])]).value_counts()
    rows = [
        (
            e.experiment_id,
            e.name,
            e.lifecycle_stage,
            e.artifact_location,
            e.creation_time,
            int(counts.get(e.experiment_id, 0)),
        )
        for e in exps
    ]
    df = pd.DataFrame(rows, columns=frames.EXPERIMENT_COLUMNS)
    df = df.sort_values("experiment_id", key=lambda s: pd.to_numeric(s, errors="coerce"))
    return frames.experiments_frame(df)


def experiment_tags(uri: str, prefix: str) -> list[tuple[str, str, str, str]]:
    exps = tracking.client(uri).search_experiments(view_type=ACTIVE_ONLY, max_results=PAGE)
    return [(e.experiment_id, e.name, k, v) for e in exps for k, v in sorted(e.tags.items()) if k.startswith(prefix)]


def runs(uri: str, experiment_ids=None) -> pd.DataFrame:
    return _frame(_search(uri, _active_ids(uri, experiment_ids)))


def children(uri: str, parent_run_id: str) -> pd.DataFrame:
    if not _RUN_ID.match(parent_run_id):  # spliced into the filter: hex ids only
        return _frame([])
    return _frame(_search(uri, _active_ids(uri, None), f"tags.`{PARENT_TAG}` = '{parent_run_id}'"))


def run(uri: str, run_id: str) -> dict | None:
    from mlflow.exceptions import MlflowException

    c = tracking.client(uri)
    try:
        found = c.get_run(run_id)
        experiment = c.get_experiment(found.info.experiment_id)
    except MlflowException:
        return None
    if found.info.lifecycle_stage != "active" or experiment.lifecycle_stage != "active":
        return None
    histories = {k: _history(c, run_id, k) for k in found.data.metrics}
    min_max = [
        (run_id, k, np.fmin.reduce(h[2], initial=np.nan), np.fmax.reduce(h[2], initial=np.nan))
        for k, h in histories.items()
    ]
    latest = _latest([found], histories)
    df = frames.runs_frame(_base([found]), _params([found]), _tags([found]), latest, min_max, keep_artifact_uri=True)
    return frames.run_dict(df.iloc[0], latest)


def metric_keys(uri: str, run_ids) -> list[str]:
    return sorted(set().union(*_logged_keys(uri, run_ids).values()))


def curves(uri: str, run_ids, metrics, max_points: int = 1000, step_range=None) -> pd.DataFrame:
    """Every curve a run really logged (known from one search, so no request for an absent metric
    or ``epoch``), fetched ``CONCURRENT`` requests at a time: the server answers them in parallel."""
    c = tracking.client(uri)
    logged = _logged_keys(uri, run_ids)
    jobs = [(r, k) for r in sorted(set(run_ids)) for k in sorted(set(metrics)) if k in logged.get(r, ())]
    with_epochs = sorted({r for r, _ in jobs if EPOCH in logged[r]})
    with ThreadPoolExecutor(CONCURRENT) as pool:
        histories = list(pool.map(lambda job: _history(c, *job), jobs + [(r, EPOCH) for r in with_epochs]))
    found, totals = {}, {}
    for job, history in zip(jobs, histories):
        step, ts, value = _in_range(history, step_range)
        if len(step):
            found[job] = ds.reduce(step, ts, value, max_points)
            totals[job] = len(step)
    epochs = [_epoch_changes(r, h) for r, h in zip(with_epochs, histories[len(jobs):]) if any(k[0] == r for k in found)]
    df = ds.frame(found, totals)
    changes = pd.concat(epochs, ignore_index=True) if epochs else pd.DataFrame()
    return ds.attach_epoch(df, changes)


def _logged_keys(uri: str, run_ids) -> dict[str, set[str]]:
    """{run id: metric keys it logged} for the active ones among ``run_ids``: one search per 100 runs."""
    ids, out = sorted(set(run_ids)), {}
    experiments = _active_ids(uri, None)
    for i in range(0, len(ids), 100):
        quoted = ", ".join(f"'{r}'" for r in ids[i : i + 100] if _RUN_ID.match(r))  # spliced: hex ids only
        if quoted and experiments:
            for found in _search(uri, experiments, f"attributes.run_id IN ({quoted})"):
                out[found.info.run_id] = set(found.data.metrics)
    return out


def _history(c, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(step, timestamp, decoded value) arrays of one curve; empty if the run is unknown.

    Read as JSON straight into numpy: MLflow's client turns each point into a protobuf message and
    a ``Metric`` object, which costs more than the request itself. Its request path (credentials,
    TLS settings, retries) is reused; any surprise falls back to ``get_metric_history``."""
    try:
        return _history_json(c, run_id, key)
    except Exception:  # noqa: BLE001 - the fast path is an optimisation; the client is the reference
        pass
    from mlflow.exceptions import MlflowException

    try:
        points = c.get_metric_history(run_id, key)
    except MlflowException:
        points = []
    step = np.array([p.step for p in points], dtype=np.int64)
    ts = np.array([p.timestamp for p in points], dtype=np.int64)
    value = np.array([p.value for p in points], dtype=np.float64)
    return step, ts, ds.decode(value, np.isnan(value))


def _history_json(c, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from mlflow.utils.rest_utils import http_request

    creds = c._tracking_client.store.get_host_creds()  # the RestStore's own credentials
    resp = http_request(creds, HISTORY, "GET", params={"run_id": run_id, "metric_key": key}, raise_on_status=False)
    if resp.status_code != 200:
        if resp.status_code in (400, 404):  # unknown run or key: no points, as the client says
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        resp.raise_for_status()
    body = orjson.loads(resp.content)
    if body.get("next_page_token"):
        raise ValueError("paginated history")  # the client pages through it
    points = body.get("metrics", [])
    # Protobuf's JSON: int64 as strings, NaN/±inf as "NaN"/"Infinity"; numpy parses both.
    step = np.array([p.get("step", 0) for p in points], dtype=np.int64)
    ts = np.array([p.get("timestamp", 0) for p in points], dtype=np.int64)
    value = np.array([p.get("value", 0.0) for p in points], dtype=np.float64)
    return step, ts, ds.decode(value, np.isnan(value))


def _in_range(curve, step_range):
    if step_range is None:
        return curve
    lo, hi = step_range
    keep = np.ones(len(curve[0]), bool)
    if lo is not None:
        keep &= curve[0] >= lo
    if hi is not None:
        keep &= curve[0] <= hi
    return tuple(a[keep] for a in curve)


def _epoch_changes(run_id: str, curve) -> pd.DataFrame:
    """First step of each epoch value, like the SQL reader's EPOCH_CHANGES."""
    step, _, value = curve
    df = pd.DataFrame({"step": step, "epoch": value}).dropna()
    df = df.groupby("epoch", as_index=False)["step"].min()
    return df.assign(run_id=run_id)[["run_id", "step", "epoch"]]


def _active_ids(uri: str, experiment_ids) -> list[str]:
    active = [
        e.experiment_id
        for e in tracking.client(uri).search_experiments(view_type=ACTIVE_ONLY, max_results=PAGE)
    ]
    if experiment_ids is None:
        return active
    wanted = {str(i) for i in ([experiment_ids] if isinstance(experiment_ids, (str, int)) else experiment_ids)}
    return [e for e in active if e in wanted]


def _search(uri: str, experiment_ids: list[str], filter_string: str = "") -> list:
    if not experiment_ids:
        return []
    c, out, token = tracking.client(uri), [], None
    while True:
        page = c.search_runs(experiment_ids, filter_string, run_view_type=ACTIVE_ONLY, max_results=PAGE,
                             page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return sorted(out, key=lambda r: (-(r.info.start_time or 0), r.info.run_id))


def _frame(found: list) -> pd.DataFrame:
    return frames.runs_frame(_base(found), _params(found), _tags(found), _latest(found), [])


def _base(found: list) -> list[tuple]:
    return [
        (
            r.info.run_id,
            r.info.experiment_id,
            r.info.run_name,
            r.info.status,
            r.info.start_time,
            r.info.end_time,
            r.info.user_id,
            r.info.artifact_uri,
        )
        for r in found
    ]


def _params(found: list) -> list[tuple]:
    return [(r.info.run_id, k, v) for r in found for k, v in r.data.params.items()]


def _tags(found: list) -> list[tuple]:
    return [(r.info.run_id, k, v) for r in found for k, v in r.data.tags.items()]


def _latest(found: list, histories: dict | None = None) -> pd.DataFrame:
    """Latest values from the runs' data; step/timestamp from histories when we have them."""
    rows = []
    for r in found:
        for key, value in r.data.metrics.items():
            step = ts = np.nan
            if histories and len(histories[key][0]):
                last = np.lexsort((histories[key][1], histories[key][0]))[-1]
                step, ts = histories[key][0][last], histories[key][1][last]
            rows.append((r.info.run_id, key, value, step, ts))
    df = pd.DataFrame(rows, columns=["run_id", "key", "value", "step", "timestamp"])
    df["value"] = ds.decode(df["value"].to_numpy(np.float64), np.isnan(df["value"].to_numpy(np.float64)))
    return df
