"""The runs filter language's syntax: text in, syntax tree out (evaluation: ``dashboard.query``).

Grammar (keywords case-insensitive)::

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" expr ")" | compare
    compare := NAME OP value | NAME ["not"] "in" "(" value ("," value)* ")"
    OP      := = | == | != | < | <= | > | >= | ~        (~: case-insensitive substring)
    value   := NUMBER | 'text' | "text" | bareword

Hand-written tokenizer and recursive descent: the text comes from a URL, so no eval and no
``DataFrame.query``; length and nesting are bounded. Every bad input raises :class:`QueryError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 2_000
MAX_DEPTH = 32
OPS = ("==", "!=", "<=", ">=", "=", "<", ">", "~")  # longest first: "<=" before "<"
KEYWORDS = ("and", "or", "not", "in")
_WORD = re.compile(r"[A-Za-z0-9_./:@+\-]+")


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
