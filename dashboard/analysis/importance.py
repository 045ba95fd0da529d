"""Which params matter for a metric: permutation importance of a random forest, and Spearman's rho.

Numeric params are used as numbers; any other param as categories (ordinal codes for the forest,
which splits on them as well as on one-hot columns for the few levels runs have). Constant params
are left out. Importance is the mean drop in R² when that param's column is shuffled, on the runs
themselves (there are too few runs to hold some out); it is clipped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

MIN_RUNS = 8  # below this a forest's importances are mostly noise: the caller shows a notice


@dataclass(frozen=True)
class Importance:
    param: str
    importance: float
    spearman: float  # NaN for a categorical param with more than two levels
    numeric: bool


def _columns(params: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, bool]]:
    """Params as model columns (floats), and whether each was numeric; constant ones dropped."""
    cols, numeric = {}, {}
    for name in params.columns:
        raw = params[name]
        if raw.astype(str).nunique(dropna=False) < 2:
            continue
        as_number = pd.to_numeric(raw, errors="coerce")
        if as_number.notna().all():
            cols[name], numeric[name] = as_number.astype(np.float64), True
        else:
            cols[name] = pd.Series(pd.factorize(raw.astype(str), sort=True)[0], index=raw.index, dtype=np.float64)
            numeric[name] = False
    return pd.DataFrame(cols, index=params.index), numeric


def _spearman(x: pd.Series, y: np.ndarray, numeric: bool) -> float:
    if not numeric and x.nunique() > 2:
        return float("nan")
    rho = stats.spearmanr(x.to_numpy(), y).statistic
    return float(rho) if np.isfinite(rho) else float("nan")


def param_importance(params: pd.DataFrame, target, seed: int = 0, repeats: int = 10) -> list[Importance]:
    """``params``: one row per run, one column per param (strings or numbers); ``target``: the
    metric per run. Runs with a non-finite target are left out. Sorted by importance, highest first."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    y = np.asarray(target, dtype=np.float64)
    keep = np.isfinite(y)
    X, numeric = _columns(params.loc[keep])
    y = y[keep]
    if X.empty or len(y) < 3:
        return []
    forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=seed)
    forest.fit(X.to_numpy(), y)
    perm = permutation_importance(forest, X.to_numpy(), y, n_repeats=repeats, random_state=seed)
    out = [Importance(name, max(0.0, float(perm.importances_mean[i])), _spearman(X[name], y, numeric[name]),
                      numeric[name]) for i, name in enumerate(X.columns)]
    return sorted(out, key=lambda imp: -imp.importance)
