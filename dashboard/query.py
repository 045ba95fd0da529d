"""The runs filter language applied to the runs frame, e.g.
``val/acc > 0.9 and (lr < 0.01 or model = "cnn")`` (its grammar: ``dashboard.query_syntax``).

Names resolve against the runs frame (``resolve``): an exact column, else an alias (``family`` →
``tags.runboard.family``, ``name`` → ``run_name``, ``id`` → ``run_id``), else the first existing of
``metrics.<n>``, ``params.<n>``, ``tags.<n>``. So ``model`` means ``params.model`` when that param
exists; use ``family`` or the full ``tags.…`` name for the tag.

Comparison: numeric when both sides parse as numbers (params are strings in the frame), else text;
text equality ignores case (``status = finished``). An order comparison against a number never
matches a non-numeric value (``batch > 64`` skips ``batch=big``). Missing values match nothing
except ``!=`` and ``not in``. In a list column (``health``: "nan, spike") ``=`` and ``in`` test
whether the list holds the value, ``!=`` that it does not. Every bad input raises
:class:`~dashboard.query_syntax.QueryError`.
"""

from __future__ import annotations

import difflib
import operator
import re

import numpy as np
import pandas as pd

from dashboard.query_syntax import BoolOp, Compare, Expr, MatchAll, Not, QueryError, parse
from trainers.run_tags import FAMILY

ALIASES = {"family": f"tags.{FAMILY}", "name": "run_name", "id": "run_id"}
# Columns whose cells list several values ("nan, spike"): = means "has this one", != "has not".
SET_COLUMNS = {"health": ", "}
_OPS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
        "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def resolve(runs: pd.DataFrame, name: str) -> str:
    """The column a filter name means (see module doc); QueryError with suggestions if none."""
    candidates = [name, ALIASES.get(name.lower(), name)]
    candidates += [f"{p}.{name}" for p in ("metrics", "params", "tags")]
    for col in candidates:
        if col in runs.columns:
            return col
    known = [str(c) for c in runs.columns]
    short = [c.split(".", 1)[1] for c in known if c.split(".", 1)[0] in ("metrics", "params", "tags")]
    close = difflib.get_close_matches(name, known + short + list(ALIASES), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise QueryError(f"unknown field {name[:60]!r}{hint}")


def mask(runs: pd.DataFrame, text: str) -> pd.Series:
    """Boolean Series over ``runs.index``: rows the filter keeps."""
    return _eval(parse(text), runs)


def apply(runs: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows of ``runs`` the filter keeps."""
    return runs[mask(runs, text)]


def _eval(node: Expr, runs: pd.DataFrame) -> pd.Series:
    if isinstance(node, MatchAll):
        return pd.Series(True, index=runs.index)
    if isinstance(node, Not):
        return ~_eval(node.expr, runs)
    if isinstance(node, BoolOp):
        left, right = _eval(node.left, runs), _eval(node.right, runs)
        return (left & right) if node.op == "and" else (left | right)
    col = resolve(runs, node.name)
    if col in SET_COLUMNS and node.op in ("=", "==", "!=", "in"):
        return pd.Series(_has(runs[col], SET_COLUMNS[col], node), index=runs.index, dtype=bool)
    return pd.Series(_compare(runs[col], col, node), index=runs.index, dtype=bool)


def _has(series: pd.Series, sep: str, node: Compare) -> np.ndarray:
    """``health = spike``: the cell's list holds the value (any of them for ``in``), ignoring case."""
    wanted = {v.strip().casefold() for v in node.values}
    found = np.array([isinstance(cell, str) and bool(wanted & {p.strip().casefold() for p in cell.split(sep)})
                      for cell in series.to_numpy(dtype=object)], dtype=bool)
    return ~found if node.op == "!=" else found


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text.strip()) else None


def _compare(series: pd.Series, col: str, node: Compare) -> np.ndarray:
    if node.op == "in":
        hits = [_compare(series, col, Compare(node.name, "=", (v,))) for v in node.values]
        return np.logical_or.reduce(hits)
    if pd.api.types.is_datetime64_any_dtype(series):
        return _compare_time(series, col, node)
    value = node.values[0]
    missing = series.isna().to_numpy()
    if node.op == "~":
        found = [value.lower() in str(v).lower() for v in series.to_numpy(dtype=object)]
        return np.array(found, dtype=bool) & ~missing
    wanted = _number(value)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric and wanted is None:
        raise QueryError(f"{col} holds numbers; {value[:40]!r} is not a number")
    as_num = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    out = np.zeros(len(series), dtype=bool)
    for i, (raw, num) in enumerate(zip(series.to_numpy(dtype=object), as_num)):
        if missing[i]:
            out[i] = node.op == "!="
        elif wanted is not None and not np.isnan(num):
            out[i] = _test(num, node.op, wanted)
        elif wanted is not None and node.op in ("<", "<=", ">", ">="):
            # "batch > 64" should not keep batch="big" because "big" > "64" as text.
            out[i] = False
        else:  # text: equality ignores case, order compares the text as written
            left, right = str(raw), value
            if node.op in ("=", "==", "!="):
                left, right = left.casefold(), right.casefold()
            out[i] = _test(left, node.op, right)
    return out


def _test(left, op: str, right) -> bool:
    return _OPS[op](left, right)


def _compare_time(series: pd.Series, col: str, node: Compare) -> np.ndarray:
    """``start_time > 2024-05-01`` style filters; the value is read as UTC."""
    if node.op == "~":
        raise QueryError(f"'~' does not apply to the time column {col}")
    try:
        when = pd.Timestamp(node.values[0])
    except Exception as exc:  # noqa: BLE001 - dateutil raises many types on odd user text
        raise QueryError(f"{col} holds times; {node.values[0][:40]!r} is not a date") from exc
    if when is pd.NaT:
        raise QueryError(f"{col} holds times; {node.values[0][:40]!r} is not a date")
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    times = series if series.dt.tz is not None else series.dt.tz_localize("UTC")
    missing = times.isna().to_numpy()
    out = np.array([False if m else _test(t, node.op, when) for t, m in zip(times, missing)])
    return np.where(missing, node.op == "!=", out).astype(bool)
