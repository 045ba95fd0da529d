"""The runs filter language, e.g. ``val/acc > 0.9 and (lr < 0.01 or model = "cnn")``.

Grammar (keywords case-insensitive)::

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" expr ")" | compare
    compare := NAME OP value | NAME ["not"] "in" "(" value ("," value)* ")"
    OP      := = | == | != | < | <= | > | >= | ~        (~: case-insensitive substring)
    value   := NUMBER | 'text' | "text" | bareword

Names resolve against the runs frame (``resolve``): an exact column, else an alias (``family`` →
``tags.runboard.family``, ``name`` → ``run_name``, ``id`` → ``run_id``), else the first existing of
``metrics.<n>``, ``params.<n>``, ``tags.<n>``. So ``model`` means ``params.model`` when that param
exists; use ``family`` or the full ``tags.…`` name for the tag.

Comparison: numeric when both sides parse as numbers (params are strings in the frame), else text;
text equality ignores case (``status = finished``). An order comparison against a number never
matches a non-numeric value (``batch > 64`` skips ``batch=big``). Missing values match nothing except ``!=`` and
``not in``. In a list column (``health``: "nan, spike") ``=`` and ``in`` test whether the list holds the
value, ``!=`` that it does not. Hand-written tokenizer and recursive descent: the text comes from a URL, so no eval and
no ``DataFrame.query``; length and nesting are bounded. Every bad input raises :class:`QueryError`.
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainers.run_tags import FAMILY

MAX_LENGTH = 2_000
MAX_DEPTH = 32
ALIASES = {"family": f"tags.{FAMILY}", "name": "run_name", "id": "run_id"}
# Columns whose cells list several values ("nan, spike"): = means "has this one", != "has not".
SET_COLUMNS = {"health": ", "}
OPS = ("==", "!=", "<=", ">=", "=", "<", ">", "~")  # longest first: "<=" before "<"
_OPS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
        "<=": operator.le, ">": operator.gt, ">=": operator.ge}
KEYWORDS = ("and", "or", "not", "in")
_WORD = re.compile(r"[A-Za-z0-9_./:@+\-]+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class QueryError(ValueError):
    """A filter that cannot be read or applied; the message is safe to show as text."""


@dataclass(frozen=True)
class Token:
    kind: str  # "word" | "string" | "op" | "(" | ")" | "," | "end"
    text: str
    pos: int


@dataclass(frozen=True)
class Compare:
    name: str
    op: str  # one of OPS, or "in"
    values: tuple[str, ...]  # one value, or the "in" list; raw text


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class MatchAll:
    """The empty filter."""


Expr = Compare | Not | BoolOp | MatchAll


def tokenize(text: str) -> list[Token]:
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch in "'\"":
            value, i = _string(text, i)
            tokens.append(Token("string", value, i))
        elif op := next((o for o in OPS if text.startswith(o, i)), None):
            tokens.append(Token("op", op, i))
            i += len(op)
        elif m := _WORD.match(text, i):
            tokens.append(Token("word", m.group(), i))
            i = m.end()
        else:
            raise QueryError(f"unexpected character {ch!r} at position {i + 1}")
    tokens.append(Token("end", "", len(text)))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """A quoted string from ``start`` (the quote); backslash escapes the next character."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QueryError(f"unterminated string starting at position {start + 1}")


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok.kind == "word" and tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise QueryError(f"expected {what} at position {tok.pos + 1}, found {_show(tok)}")
        self.i += 1
        return tok

    def expr(self) -> Expr:
        left = self.and_()
        while self.keyword("or"):
            left = BoolOp("or", left, self.and_())
        return left

    def and_(self) -> Expr:
        left = self.unary()
        while self.keyword("and"):
            left = BoolOp("and", left, self.unary())
        return left

    def unary(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"filter nests deeper than {MAX_DEPTH} levels")
        if self.keyword("not"):
            node: Expr = Not(self.unary())
        elif self.peek().kind == "(":
            self.i += 1
            node = self.expr()
            self.expect(")", "')'")
        else:
            node = self.compare()
        self.depth -= 1
        return node

    def compare(self) -> Expr:
        tok = self.peek()
        if tok.kind not in ("word", "string") or (tok.kind == "word" and tok.text.lower() in KEYWORDS):
            raise QueryError(f"expected a field name at position {tok.pos + 1}, found {_show(tok)}")
        self.i += 1
        negate = self.keyword("not")
        if self.keyword("in"):
            node = Compare(tok.text, "in", self.value_list())
            return Not(node) if negate else node
        if negate:
            raise QueryError(f"expected 'in' after 'not' at position {self.peek().pos + 1}")
        op = self.expect("op", f"an operator ({' '.join(OPS)} or in) after {tok.text!r}")
        return Compare(tok.text, op.text, (self.value(),))

    def value(self) -> str:
        tok = self.peek()
        if tok.kind not in ("word", "string"):
            raise QueryError(f"expected a value at position {tok.pos + 1}, found {_show(tok)}")
        self.i += 1
        return tok.text

    def value_list(self) -> tuple[str, ...]:
        self.expect("(", "'(' after 'in'")
        values = [self.value()]
        while self.peek().kind == ",":
            self.i += 1
            values.append(self.value())
        self.expect(")", "')' or ',' in the 'in' list")
        return tuple(values)


def _show(tok: Token) -> str:
    return "the end of the filter" if tok.kind == "end" else repr(tok.text[:40])


def parse(text: str) -> Expr:
    """The filter's syntax tree; blank text is :class:`MatchAll`."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"filter is longer than {MAX_LENGTH} characters")
    parser = _Parser(tokenize(text))
    if parser.peek().kind == "end":
        return MatchAll()
    tree = parser.expr()
    if parser.peek().kind != "end":
        tok = parser.peek()
        raise QueryError(f"expected 'and', 'or' or the end at position {tok.pos + 1}, "
                         f"found {_show(tok)}")
    return tree


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
