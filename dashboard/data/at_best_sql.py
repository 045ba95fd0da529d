"""The runs table's "value at the best epoch of another metric", from indexed lookups (issue 13).

Per run: the earliest step where ``other`` takes its best finite value (lowest, or highest for
accuracy-like names), then each metric's first finite value (by logging time) at the finite step
nearest to it, the lower step on a tie. ``from_curves`` is that rule over a full-detail curves
frame (the REST store, and the reference the tests hold the SQL to).

The best step comes from the curve's fresh summary pyramid when it has one: the best value is
its top level's min (max), then one descends the levels through the earliest bucket holding that
value down to 16 raw steps: a dozen indexed rows whatever the curve's length. A curve without a
fresh summary, or whose extreme is ±inf (the finite best is then not in the summary), is asked
with one ``ORDER BY value`` query over its own points. The nearest metric step is a walk of
MLflow's ``(run_uuid, key, step)`` index from that step each way: O(1) per run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dashboard.data import downsample as ds
from dashboard.data import engine as db
from trainers import curve_summary as cs
from trainers.metrics import higher_is_better

COLUMNS = ["run_id", "metric", "value"]
_IDX = {"sqlite": " INDEXED BY index_metrics_run_uuid_key_step", "postgresql": ""}
_FINITE = "NOT is_nan AND value > :neg AND value < :big"
_CURVE = "run_uuid = :run AND key = :key"
BEST_RAW = f"SELECT step FROM metrics{{idx}} WHERE {_CURVE} AND {_FINITE} ORDER BY value {{order}}, step LIMIT 1"
EXTREME = f"SELECT {{fn}}({{col}}) FROM {cs.TABLE} WHERE {_CURVE} AND level = :level"
FIRST_BUCKET = (
    f"SELECT MIN(bucket) FROM {cs.TABLE} WHERE {_CURVE} AND level = :level "
    "AND bucket BETWEEN :lo AND :hi AND {col} = :best"
)
STEP_OF = (
    f"SELECT MIN(step) FROM metrics{{idx}} WHERE {_CURVE} AND step BETWEEN :lo AND :hi AND NOT is_nan AND value = :best"
)
BELOW = f"SELECT step FROM metrics{{idx}} WHERE {_CURVE} AND step <= :s AND {_FINITE} ORDER BY step DESC LIMIT 1"
ABOVE = f"SELECT step FROM metrics{{idx}} WHERE {_CURVE} AND step >= :s AND {_FINITE} ORDER BY step LIMIT 1"
VALUE_AT = f"SELECT value FROM metrics{{idx}} WHERE {_CURVE} AND step = :s AND {_FINITE} ORDER BY timestamp LIMIT 1"


def values(uri: str, run_ids, metrics, other: str) -> pd.DataFrame:
    """One row per run and metric: ``metric``'s value at the best step of ``other`` (NaN when
    either has no finite point in that run)."""
    run_ids, metrics = sorted(set(run_ids)), sorted(set(metrics))
    rows = []
    with db.engine(uri).connect() as conn:
        q = _Queries(conn)
        try:
            summarised = cs.fresh(conn, [(r, other) for r in run_ids]) if cs.enabled() else set()
        except sa.exc.DBAPIError:  # no summary tables yet
            conn.rollback()
            summarised = set()
        for run in run_ids:
            s = q.best_step(run, other, higher_is_better(other), (run, other) in summarised)
            rows += [(run, m, np.nan if s is None else q.nearest_value(run, m, s)) for m in metrics]
    return pd.DataFrame(rows, columns=COLUMNS)


class _Queries:
    """The per-curve lookups on one connection, in its dialect."""

    def __init__(self, conn: sa.Connection):
        self.conn, self.idx = conn, _IDX[conn.dialect.name]

    def one(self, sql: str, **params):
        params.setdefault("neg", -ds.MAX_FLOAT)
        params.setdefault("big", ds.MAX_FLOAT)
        found = db.driver_rows(self.conn, sql.format(idx=self.idx), params)
        return found[0][0] if found else None

    def best_step(self, run: str, key: str, higher: bool, summarised: bool) -> int | None:
        step = self._best_step_from_summary(run, key, higher) if summarised else None
        if step is None:
            step = self.one(BEST_RAW.replace("{order}", "DESC" if higher else "ASC"), run=run, key=key)
        return None if step is None else int(step)

    def _best_step_from_summary(self, run: str, key: str, higher: bool) -> int | None:
        """The descent; None when the summary cannot tell (all NaN, or an infinite extreme)."""
        fn, col = ("MAX", "mx") if higher else ("MIN", "mn")
        levels = sorted(cs.LEVELS, reverse=True)
        best = self.one(EXTREME.format(fn=fn, col=col, idx=self.idx), run=run, key=key, level=levels[0])
        if best is None or not -ds.MAX_FLOAT < best < ds.MAX_FLOAT:
            return None
        lo, hi, above = cs.INT64_MIN, 2**63 - 1, None
        for level in levels:
            if above is not None:  # the children of bucket ``b`` one level up
                lo, hi = above[0] << (above[1] - level), ((above[0] + 1) << (above[1] - level)) - 1
            b = self.one(FIRST_BUCKET.format(col=col), run=run, key=key, level=level, lo=lo, hi=hi, best=best)
            if b is None:  # a summary that disagrees with itself: ask the points
                return None
            above = (int(b), level)
        b, level = above
        return self.one(STEP_OF, run=run, key=key, lo=b << level, hi=((b + 1) << level) - 1, best=best)

    def nearest_value(self, run: str, key: str, s: int) -> float:
        below = self.one(BELOW, run=run, key=key, s=s)
        above = self.one(ABOVE, run=run, key=key, s=s) if below != s else None
        if below is None and above is None:
            return np.nan
        at = below if above is None or (below is not None and s - below <= above - s) else above
        return float(self.one(VALUE_AT, run=run, key=key, s=int(at)))


def from_curves(curves: pd.DataFrame | None, run_ids, metrics, other: str) -> pd.DataFrame:
    """The same rows from a full-detail curves frame (run_id, metric, step, value; points in
    (step, logging time) order within each curve)."""
    rows = [(r, m, _at_best(curves, r, m, other)) for r in run_ids for m in metrics]
    return pd.DataFrame(rows, columns=COLUMNS)


def _at_best(curves: pd.DataFrame | None, run_id: str, metric: str, other: str) -> float:
    if curves is None or curves.empty:
        return np.nan
    mine = curves[curves["run_id"] == run_id]
    ref = mine[(mine["metric"] == other) & np.isfinite(mine["value"])]
    target = mine[(mine["metric"] == metric) & np.isfinite(mine["value"])]
    if ref.empty or target.empty:
        return np.nan
    v = ref["value"].to_numpy()
    s = int(ref["step"].to_numpy()[v == (v.max() if higher_is_better(other) else v.min())].min())
    gap = (target["step"] - s).abs().to_numpy()
    return float(target["value"].to_numpy()[int(np.argmin(gap))])
