"""Significance between groups of runs and parameter importance, on data with known answers (issue 17)."""

import numpy as np
import pandas as pd
from scipy import stats

from dashboard.analysis import importance, significance


def test_welch_p_value_and_bootstrap_ci_match_scipy_for_a_known_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 12), rng.normal(0.0, 1.0, 10)  # "acc": a is better by about 1
    groups, versus = significance.versus_best({"a": a, "b": b}, higher_is_better=True)
    assert [g.n for g in groups] == [12, 10]
    (vb,) = versus
    assert vb.best == "a" and vb.label == "b"
    assert np.isclose(vb.p_value, stats.ttest_ind(b, a, equal_var=False).pvalue)
    assert np.isclose(vb.diff, b.mean() - a.mean())
    ref = stats.bootstrap((b, a), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), method="percentile",
                          n_resamples=20_000, random_state=0, vectorized=True).confidence_interval
    assert abs(vb.ci[0] - ref.low) < 0.1 and abs(vb.ci[1] - ref.high) < 0.1
    assert vb.ci[0] < vb.diff < vb.ci[1] < 0
    t_ci = stats.t.interval(0.95, 11, loc=a.mean(), scale=stats.sem(a))
    assert np.allclose(groups[0].ci, t_ci)
    assert vb.effect < -0.5  # b is worse by a large standardised margin


def test_identical_groups_are_not_called_significant_more_than_about_5_percent_of_the_time():
    rng = np.random.default_rng(7)
    p = [significance.versus_best({"x": rng.normal(0, 1, 5), "y": rng.normal(0, 1, 5)}, False)[1][0].p_value
         for _ in range(200)]
    assert np.mean(np.array(p) < 0.05) <= 0.08
    assert 0.35 < np.median(p) < 0.65  # roughly uniform


def test_direction_and_small_groups():
    groups, versus = significance.versus_best({"low": [0.1, 0.2, 0.15], "high": [0.9, 1.0], "one": [0.05]},
                                              higher_is_better=False)
    assert versus[0].best == "one"  # lowest mean loss, though alone: it is still the best estimate
    assert all(v.note == "n too small" and np.isnan(v.p_value) for v in versus)
    _, versus = significance.versus_best({"low": [0.1, 0.2, 0.15], "high": [0.9, 1.0, np.nan, 0.95]}, False)
    assert versus[0].label == "high" and versus[0].note == "" and versus[0].p_value < 0.05


def test_importance_ranks_lr_over_dropout_over_seed_and_seed_is_near_zero():
    rng = np.random.default_rng(0)
    n = 40
    lr = 10 ** rng.uniform(-4, -1, n)
    dropout = rng.uniform(0, 0.5, n)
    seed = rng.integers(0, 1000, n)
    metric = -np.log10(lr) + 2 * dropout + rng.normal(0, 0.05, n)  # strong (range 3), weak (range 1), none
    params = pd.DataFrame({"lr": lr.astype(str), "dropout": dropout.astype(str), "seed": seed.astype(str),
                           "optimizer": ["adam"] * n})  # constant: left out
    ranked = importance.param_importance(params, metric)
    assert [r.param for r in ranked] == ["lr", "dropout", "seed"]
    by = {r.param: r for r in ranked}
    assert by["seed"].importance < 0.02 * by["lr"].importance
    assert by["lr"].spearman < -0.9 and all(r.numeric for r in ranked)


def test_importance_takes_categorical_params_and_skips_runs_without_a_value():
    rng = np.random.default_rng(3)
    opt = rng.choice(["adam", "sgd", "adamw"], 30)
    metric = np.where(opt == "sgd", 1.0, 0.0) + rng.normal(0, 0.05, 30)
    metric[0] = np.nan
    ranked = importance.param_importance(pd.DataFrame({"optimizer": opt, "seed": np.arange(30)}), metric)
    assert ranked[0].param == "optimizer" and not ranked[0].numeric and np.isnan(ranked[0].spearman)
