"""The runs table's "value at the best epoch of another metric" from indexed lookups and the curve
summaries (issue 13): the same numbers as the rule over every point, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from plain_store import write_metric_rows

from dashboard import data
from dashboard.data import at_best_sql as at_best
from dashboard.data import downsample as ds
from trainers import curve_refresh, tracking
from trainers import curve_summary as cs

KEYS = ("val/loss", "val/acc", "lr")  # lower is better, higher is better, a third curve


def _curve(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps with gaps and duplicates (spread over several top-level buckets), few distinct values
    (ties), NaN and ±inf, logged out of order with distinct times."""
    n = int(rng.integers(1, 400))
    span = int(rng.choice([50, 5_000, 300_000]))
    steps = rng.integers(-span // 10, span, n)
    steps[rng.random(n) < 0.1] = steps[0]
    values = rng.integers(0, 8, n) / 4.0
    special = rng.random(n)
    values[special < 0.05] = np.nan
    if rng.random() < 0.5:  # an infinite extreme: the summary cannot tell the finite best
        values[(special >= 0.05) & (special < 0.08)] = np.inf
        values[(special >= 0.08) & (special < 0.11)] = -np.inf
    if rng.random() < 0.1:
        values[:] = np.nan
    ts = 1_700_000_000_000 + rng.permutation(n)
    return steps, values, ts


def _write(uri: str, seed: int, runs: int = 6) -> list[str]:
    rng, c = np.random.default_rng(seed), tracking.client(uri)
    eid = tracking.experiment_id("at-best", uri)
    ids = []
    for _ in range(runs):
        run = c.create_run(eid).info.run_id
        for key in KEYS:
            if rng.random() < 0.9:  # now and then a run without one of the curves
                steps, values, ts = _curve(rng)
                write_metric_rows(uri, run, key, steps, values, ts)
        ids.append(run)
    return ids


def _points(uri: str, run_ids: list[str]) -> pd.DataFrame:
    """Every point, decoded, in (step, logging time) order within each curve."""
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        with eng.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT run_uuid, key, step, timestamp, value, is_nan FROM metrics WHERE run_uuid IN :r "
                    "ORDER BY run_uuid, key, step, timestamp"
                ).bindparams(sa.bindparam("r", expanding=True)),
                {"r": run_ids},
            ).fetchall()
    finally:
        eng.dispose()
    df = pd.DataFrame(rows, columns=["run_id", "metric", "step", "timestamp", "value", "is_nan"])
    df["value"] = ds.decode(df["value"].astype(float).to_numpy(), df["is_nan"].astype(bool).to_numpy())
    return df


def _today(curves: pd.DataFrame, run_ids, metrics, other: str) -> pd.DataFrame:
    """The rule as the runs table applied it to a full-detail curves frame before issue 13
    (``dashboard.summaries._at_best`` then), kept verbatim as the reference."""
    from dashboard.summaries import _best_index

    def one(run_id: str, metric: str) -> float:
        mine = curves[curves["run_id"] == run_id]
        ref = mine[mine["metric"] == other].sort_values("step", kind="stable").reset_index(drop=True)
        best = _best_index(ref["value"], other) if not ref.empty else None
        target = mine[(mine["metric"] == metric) & np.isfinite(mine["value"])]
        if best is None or target.empty:
            return np.nan
        gap = (target["step"] - ref.at[best, "step"]).abs().to_numpy()
        return float(target["value"].to_numpy()[int(np.argmin(gap))])

    return pd.DataFrame([(r, m, one(r, m)) for r in run_ids for m in metrics], columns=at_best.COLUMNS)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


def test_at_best_equals_the_rule_over_every_point_with_and_without_summaries(store):
    for seed in range(4):
        ids = _write(store, seed)
        pts = _points(store, ids)
        for other in ("val/loss", "val/acc"):
            want = _today(pts, sorted(ids), sorted(KEYS), other)
            _same(at_best.from_curves(pts, sorted(ids), sorted(KEYS), other), want)  # the REST stores' rule
            _same(data.at_best(ids, KEYS, other, uri=store), want)  # nothing summarised: the raw lookups
        keys = [(r, k) for r in ids for k in KEYS]
        assert len(curve_refresh.refresh(store, keys)) == len(keys)
        for other in ("val/loss", "val/acc"):
            _same(data.at_best(ids, KEYS, other, uri=store), _today(pts, sorted(ids), sorted(KEYS), other))


def test_at_best_descends_the_pyramid_instead_of_asking_the_points(sqlite_store, monkeypatch):
    c = tracking.client(sqlite_store)
    ids = [c.create_run(tracking.experiment_id("at-best", sqlite_store)).info.run_id]
    steps = np.arange(0, 1_000_000, 7)
    values = np.cos(steps / 5e4) + steps / 1e6  # lowest near step 157,000
    write_metric_rows(sqlite_store, ids[0], "val/loss", steps, values)
    curve_refresh.refresh(sqlite_store, [(ids[0], "val/loss")])
    asked = []
    monkeypatch.setattr(at_best, "BEST_RAW", "SELECT NULL -- {idx} {order}")
    real_one = at_best._Queries.one
    monkeypatch.setattr(at_best._Queries, "one", lambda self, sql, **p: asked.append(sql) or real_one(self, sql, **p))
    got = data.at_best(ids, ["val/loss"], "val/loss", uri=sqlite_store)["value"].iloc[0]
    assert got == _points(sqlite_store, ids).query("metric == 'val/loss'")["value"].min()
    assert len(asked) == 1 + len(cs.LEVELS) + 1 + 2  # extreme, one bucket per level, 16 steps, value


def test_metric_column_reads_the_at_best_rows():
    from dashboard.summaries import metric_column

    runs = pd.DataFrame({"run_id": ["a", "b", "c"]})
    rows = pd.DataFrame({"run_id": ["a", "b"], "metric": ["val/acc", "val/acc"], "value": [0.8, np.nan]})
    col = metric_column(runs, rows, "metrics.val/acc", ("at_best", "val/loss"))
    assert col["a"] == 0.8 and np.isnan(col["b"]) and np.isnan(col["c"])
