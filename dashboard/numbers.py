"""How params read on the pages: a decimal number in 3 significant digits, so a learning rate
stored as ``0.0031622776601683794`` reads ``0.00316``. Only what is shown changes: sorting, the CSV
download, filters and grouping use the stored text."""

from __future__ import annotations

import math
import re

import pandas as pd

SIGNIFICANT = 3
_DECIMAL = re.compile(r"^\s*[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)\s*$")  # a point or an exponent


def short_number(value):
    """``"0.0031622776601683794"`` → ``"0.00316"``; ``"300.0"`` → ``"300"``; whole numbers as
    typed (``"64"``), non-finite numbers and other text (``"adam"``) unchanged."""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        return value
    number = float(value)
    if not math.isfinite(number):
        return value
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.{SIGNIFICANT}g}"


def short_params(frame: pd.DataFrame, columns=None) -> pd.DataFrame:
    """A copy of ``frame`` whose ``columns`` (default: every ``params.*`` column) read short."""
    out = frame.copy()
    for col in columns if columns is not None else [c for c in out.columns if str(c).startswith("params.")]:
        out[col] = out[col].map(short_number)
    return out
