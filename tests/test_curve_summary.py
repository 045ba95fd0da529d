"""The curve summary pyramid (issue 13): every stored bucket equals the raw ``GROUP BY`` over
MLflow's ``metrics`` for the same power-of-two edges, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plain_store import write_metric_rows
from trainers import curve_summary as cs
from trainers import tracking

KEY = "train/loss"
VALUES = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, -math.inf, 1e300]))
# Steps out of order, duplicated, with gaps; every value may be NaN or ±inf.
CURVES = st.lists(st.tuples(st.integers(0, 5000), VALUES), min_size=1, max_size=300)

RAW = """SELECT step / :w AS b, COUNT(*), MIN(CASE WHEN is_nan THEN NULL ELSE value END),
       MAX(CASE WHEN is_nan THEN NULL ELSE value END) FROM metrics
WHERE run_uuid = :run AND key = :key GROUP BY 1 ORDER BY 1"""
POINTS = "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = :run AND key = :key"


def _raw_buckets(conn, run_id: str, level: int) -> list[tuple]:
    """The raw path's answer for buckets of 2**level steps (steps >= 0 here)."""
    p = {"run": run_id, "key": KEY}
    stats = conn.execute(sa.text(RAW), {**p, "w": 2**level}).fetchall()
    points = sorted(conn.execute(sa.text(POINTS), p).fetchall(), key=lambda r: (r[0], r[1]))
    first, last = {}, {}
    for step, ts, value, nan in points:
        first.setdefault(step >> level, (step, ts, value, bool(nan)))
        last[step >> level] = (step, ts, value, bool(nan))
    return [(b, n, mn, mx, *first[b], *last[b]) for b, n, mn, mx in stats]


def _check_curve(uri: str, curve) -> None:
    client = tracking.client(uri)
    run_id = client.create_run(tracking.experiment_id("pyramid", uri)).info.run_id
    steps = [s for s, _ in curve]
    # A spike: one extreme point that every level must keep as its bucket's max.
    values = [v for _, v in curve]
    write_metric_rows(uri, run_id, KEY, steps, values)
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        with eng.begin() as conn:
            assert cs.build_curve(conn, run_id, KEY) == len(curve)
        with eng.connect() as conn:
            for level in cs.LEVELS:
                assert cs.read_level(conn, run_id, KEY, level, 0, 2**62) == _raw_buckets(conn, run_id, level)
    finally:
        eng.dispose()


def _pyramid_equals_raw(uri: str):
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(CURVES)
    def check(curve):
        _check_curve(uri, curve)

    check()


def test_levels_equal_raw_group_by(store):
    _pyramid_equals_raw(store)


def test_spike_kept_and_drop_rebuild(sqlite_store):
    curve = [(s, 1.0) for s in range(1000)] + [(517, 1e9)]  # a duplicate step carrying a spike
    _check_curve(sqlite_store, curve)
    eng = sa.create_engine(tracking.prepare_store(sqlite_store))
    try:
        with eng.begin() as conn:
            run_id = conn.execute(sa.text(f"SELECT run_uuid FROM {cs.WATERMARK}")).scalar()
            top = cs.read_level(conn, run_id, KEY, max(cs.LEVELS), 0, 2**62)
            assert [r[3] for r in top] == [1e9]
            cs.drop(conn)
            assert not sa.inspect(conn).has_table(cs.TABLE)
            cs.build_curve(conn, run_id, KEY)
            assert cs.read_level(conn, run_id, KEY, max(cs.LEVELS), 0, 2**62) == top
    finally:
        eng.dispose()
