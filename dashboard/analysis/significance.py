"""Is a group of runs better than the best group beyond seed noise?

Per group: mean ± t-based 95 % CI with n. Per group against the best group (direction-aware):
the difference of means, Welch's t-test p-value, a percentile-bootstrap 95 % CI of the difference
and Hedges' g. A group with fewer than ``MIN_N`` finite values gets "n too small", not a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_N = 2
N_BOOT = 4000
LEVEL = 0.95


@dataclass(frozen=True)
class GroupStat:
    label: str
    n: int
    mean: float
    ci: tuple[float, float]  # t-based CI of the mean; NaN when n < MIN_N


@dataclass(frozen=True)
class VersusBest:
    label: str
    best: str
    diff: float  # mean(group) - mean(best)
    p_value: float  # Welch's t-test, two-sided; NaN when a side has n < MIN_N
    ci: tuple[float, float]  # bootstrap CI of diff
    effect: float  # Hedges' g (pooled-SD standardised diff, small-sample corrected)
    note: str = ""  # "n too small" when the numbers above are NaN


def _finite(values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return a[np.isfinite(a)]


def group_stat(label: str, values) -> GroupStat:
    a = _finite(values)
    mean = float(a.mean()) if a.size else float("nan")
    if a.size < MIN_N:
        return GroupStat(label, int(a.size), mean, (float("nan"), float("nan")))
    half = stats.t.ppf(0.5 + LEVEL / 2, a.size - 1) * a.std(ddof=1) / np.sqrt(a.size)
    return GroupStat(label, int(a.size), mean, (mean - half, mean + half))


def bootstrap_diff_ci(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(a) - mean(b), each group resampled on its own."""
    rng = np.random.default_rng(seed)
    da = rng.choice(a, size=(n_boot, a.size), replace=True).mean(axis=1)
    db = rng.choice(b, size=(n_boot, b.size), replace=True).mean(axis=1)
    lo, hi = np.percentile(da - db, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(lo), float(hi)


def hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = a.size, b.size
    pooled = np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return 0.0 if a.mean() == b.mean() else float(np.sign(a.mean() - b.mean()) * np.inf)
    correction = 1 - 3 / (4 * (na + nb) - 9)
    return float((a.mean() - b.mean()) / pooled * correction)


def best_group(groups: Mapping[str, GroupStat], higher_is_better: bool) -> str | None:
    """The label with the best mean among groups that have a value (ties: the first)."""
    scored = [(g.mean, label) for label, g in groups.items() if np.isfinite(g.mean)]
    if not scored:
        return None
    pick = max if higher_is_better else min
    return pick(scored, key=lambda pair: pair[0])[1]


def versus_best(
    values: Mapping[str, object], higher_is_better: bool, seed: int = 0
) -> tuple[list[GroupStat], list[VersusBest]]:
    """Each group's stat, and each other group against the best one."""
    groups = {label: group_stat(label, v) for label, v in values.items()}
    best = best_group(groups, higher_is_better)
    if best is None:
        return list(groups.values()), []
    b = _finite(values[best])
    out = []
    for label in groups:
        if label == best:
            continue
        a = _finite(values[label])
        diff = float(a.mean() - b.mean()) if a.size and b.size else float("nan")
        if a.size < MIN_N or b.size < MIN_N:
            nan = float("nan")
            out.append(VersusBest(label, best, diff, nan, (nan, nan), nan, "n too small"))
            continue
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        if not np.isfinite(p):  # both groups constant: equal means are p = 1, different ones p = 0
            p = 1.0 if a.mean() == b.mean() else 0.0
        out.append(VersusBest(label, best, diff, p, bootstrap_diff_ci(a, b, seed=seed), hedges_g(a, b)))
    return list(groups.values()), out
