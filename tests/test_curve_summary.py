"""The curve summary pyramid (issue 13): every stored bucket equals the raw ``GROUP BY`` over
MLflow's ``metrics`` for the same power-of-two edges, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time

import pandas as pd
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow.entities import Metric
from plain_store import write_metric_rows

from dashboard import data
from dashboard.data import curves_sql
from dashboard.data import downsample as ds
from dashboard.data import summary_read as pyramid
from trainers import curve_build_sql, curve_refresh, tracking
from trainers import curve_summary as cs

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
            python_rows = {}
            for level in cs.LEVELS:
                python_rows[level] = cs.read_level(conn, run_id, KEY, level, 0, 2**62)
                assert python_rows[level] == _raw_buckets(conn, run_id, level)
        # The same rows built inside the database, in chunks small enough to cut this curve.
        assert curve_build_sql.build(curve_refresh.writer(uri), run_id, KEY, chunk_points=37) == len(curve)
        with eng.connect() as conn:
            for level in cs.LEVELS:
                assert cs.read_level(conn, run_id, KEY, level, -(2**62), 2**62) == python_rows[level]
            assert cs.fresh(conn, [(run_id, KEY)]) == {(run_id, KEY)}
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


# --- The dashboard's read path over the pyramid (acceptance 1 and 2) -------------------------

RANGE_ENDS = st.one_of(st.none(), st.integers(-10, 5100))
# Long enough for a level to have max_points buckets: an even base plus CURVES' random points.
VIEW_CURVES = st.builds(lambda n, stride, extra: [(i * stride, float(i % 7)) for i in range(n)] + extra,
                        st.integers(30, 300), st.integers(1, 16), CURVES)


def _expected(conn, run_id: str, max_points: int, step_range) -> pd.DataFrame | None:
    """The raw GROUP BY for the pyramid's bucket edges, or None if the view is not a pyramid read."""
    lo, hi = curves_sql._bounds(step_range)
    p = {"run": run_id, "key": KEY, "lo": lo, "hi": hi}
    pts = sorted(
        conn.execute(sa.text(POINTS + " AND step BETWEEN :lo AND :hi"), p).fetchall(), key=lambda r: (r[0], r[1])
    )
    if len(pts) <= max_points or pyramid.plan(pts[0][0], pts[-1][0], max_points) is None:
        return None
    k, g = pyramid.plan(pts[0][0], pts[-1][0], max_points)
    w = g * 2**k  # steps >= 0 here: (step >> k) // g == step / w
    stats = conn.execute(
        sa.text(RAW.replace("GROUP BY", "AND step BETWEEN :lo AND :hi GROUP BY")), {**p, "w": w}
    ).fetchall()
    first, last = {}, {}
    for step, ts, value, nan in pts:
        first.setdefault(step // w, (value, bool(nan)))
        last[step // w] = (step, ts, value, bool(nan))
    dec = ds.decode
    return pd.DataFrame({
        "step": [last[b][0] for b, *_ in stats],
        "value": dec([last[b][2] for b, *_ in stats], [last[b][3] for b, *_ in stats]),
        "first": dec([first[b][0] for b, *_ in stats], [first[b][1] for b, *_ in stats]),
        "min": dec([math.nan if r[2] is None else r[2] for r in stats], [False] * len(stats)),
        "max": dec([math.nan if r[3] is None else r[3] for r in stats], [False] * len(stats)),
        "n": [r[1] for r in stats],
        "timestamp": [last[b][1] for b, *_ in stats],
    })


def _check_view(uri: str, run_id: str, max_points: int, step_range) -> bool:
    """The dashboard's buckets equal the raw GROUP BY over the same edges; True if a pyramid read."""
    df = data.curves([run_id], [KEY], max_points=max_points, step_range=step_range, uri=uri)
    eng = sa.create_engine(tracking.prepare_store(uri))
    try:
        with eng.connect() as conn:
            want = _expected(conn, run_id, max_points, step_range)
    finally:
        eng.dispose()
    if want is None:
        return False
    got = df[list(want.columns)].reset_index(drop=True).astype({"step": "int64", "n": "int64", "timestamp": "int64"})
    pd.testing.assert_frame_equal(got, want.astype(got.dtypes.to_dict()), check_exact=True)
    assert len(got) <= max_points
    return True


def _view_equals_raw(uri: str):
    pyramid_reads = []

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(VIEW_CURVES, st.integers(2, 30), RANGE_ENDS, RANGE_ENDS)
    def check(curve, max_points, a, b):
        client = tracking.client(uri)
        run_id = client.create_run(tracking.experiment_id("pyramid-view", uri)).info.run_id
        write_metric_rows(uri, run_id, KEY, [s for s, _ in curve], [v for _, v in curve])
        step_range = None if a is None and b is None else (a, b)
        _check_view(uri, run_id, max_points, step_range)  # first read: summarised now
        pyramid_reads.append(_check_view(uri, run_id, max_points, step_range))  # second: from the summary

    check()
    assert any(pyramid_reads)


def test_view_equals_raw_group_by(store):
    _view_equals_raw(store)


def test_appends_by_plain_mlflow_are_never_served_stale(store):
    """log_batch appends past the end, at earlier steps, duplicates and NaN: each next read
    refreshes the summary and equals the raw path (acceptance 2)."""
    client = tracking.client(store)
    run_id = client.create_run(tracking.experiment_id("pyramid-fresh", store)).info.run_id
    write_metric_rows(store, run_id, KEY, range(0, 4000, 2), [float(s % 97) for s in range(0, 4000, 2)])
    assert _check_view(store, run_id, 50, None)
    t0 = int(time.time() * 1000)
    appends = [
        [(4100, 5.0), (4200, 1e9)],  # past the end: merged incrementally
        [(1001, -1e9), (3, math.nan)],  # earlier steps: latest_metrics does not move
        [(1001, 7.0), (4200, -math.inf)],  # duplicate steps
    ]
    for i, batch in enumerate(appends):
        client.log_batch(run_id, metrics=[Metric(KEY, v, t0 + 10 * i + j, s) for j, (s, v) in enumerate(batch)])
        assert _check_view(store, run_id, 50, None)
        assert _check_view(store, run_id, 40, (900, 4150))
        eng = sa.create_engine(tracking.prepare_store(store))
        try:
            with eng.connect() as conn:
                assert cs.fresh(conn, [(run_id, KEY)]) == {(run_id, KEY)}
        finally:
            eng.dispose()


def test_database_build_equals_python_build_across_chunks(store):
    """Negative steps, several top-level buckets, duplicates, NaN and ±inf, out of order: the
    levels built in the database in many chunks equal ``level_rows``' (item 2 of issue 13)."""
    import numpy as np

    rng = np.random.default_rng(13)
    run_id = tracking.client(store).create_run(tracking.experiment_id("pyramid-sql", store)).info.run_id
    steps = rng.integers(-300_000, 600_000, 3000)
    steps[::7] = steps[1::7][: len(steps[::7])]  # duplicate steps
    values = rng.normal(size=3000)
    values[rng.random(3000) < 0.05] = math.nan
    values[rng.random(3000) < 0.02] = math.inf
    values[rng.random(3000) < 0.02] = -math.inf
    values[1234] = 1e12  # a spike
    write_metric_rows(store, run_id, KEY, steps, values, 1_700_000_000_000 + rng.permutation(3000))
    eng = sa.create_engine(tracking.prepare_store(store))
    try:
        with eng.begin() as conn:
            cs.build_curve(conn, run_id, KEY)
        with eng.connect() as conn:
            want = {lv: cs.read_level(conn, run_id, KEY, lv, -(2**62), 2**62) for lv in cs.LEVELS}
        assert curve_build_sql.build(curve_refresh.writer(store), run_id, KEY, chunk_points=100) == 3000
        with eng.connect() as conn:
            assert {lv: cs.read_level(conn, run_id, KEY, lv, -(2**62), 2**62) for lv in cs.LEVELS} == want
            assert len(want[max(cs.LEVELS)]) > 10 and 1e12 in [r[3] for r in want[min(cs.LEVELS)]]
    finally:
        eng.dispose()


def test_view_reads_a_coarser_level_with_the_same_edges(store):
    """4,096 steps in 5 buckets: ``plan`` says level 8 by 4, i.e. level 10's 1,024-step buckets, read
    whole there; a zoom cutting both ends reads level 8 (fewer raw points at the cut ends)."""
    client = tracking.client(store)
    run_id = client.create_run(tracking.experiment_id("pyramid-source", store)).info.run_id
    write_metric_rows(store, run_id, KEY, range(4096), [math.sin(s) for s in range(4096)])
    assert pyramid.plan(0, 4095, 5) == (8, 4)
    assert pyramid.source(0, 4095, curves_sql.INT64_MIN, curves_sql.INT64_MAX, 8, 4) == (10, 1)
    assert pyramid.source(100, 4000, 100, 4000, 8, 4) == (8, 4)
    _check_view(store, run_id, 5, None)  # first read: summarised now
    assert _check_view(store, run_id, 5, None)
    assert _check_view(store, run_id, 5, (100, 4000))
