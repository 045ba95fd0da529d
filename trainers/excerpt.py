"""One way to quote a bad value in an error: short, escaped, one line, whatever came in."""

from __future__ import annotations

from typing import Any

LIMIT = 60


def excerpt(value: Any, limit: int = LIMIT) -> str:
    """``repr`` of at most ``limit`` characters of ``value`` (escaped, so no newlines or control
    characters reach a terminal), with how much was left out: ``'aaaa…' (+99,940 chars)``."""
    text = value if isinstance(value, str) else _head(value, limit)
    shown = repr(text[:limit])
    cut = len(text) > limit
    if len(shown.encode()) > limit + 2:  # escapes (\x1f) and wide characters: bound the bytes, not the characters
        shown, cut = shown.encode()[: limit + 1].decode(errors="ignore") + shown[0], True
    if cut:
        shown = f"{shown[:-1]}…{shown[-1]} (of {len(text):,} chars)"
    return shown


def _head(value: Any, limit: int) -> str:
    # repr of a huge list/dict is as big as the value; only the first part is ever shown
    if isinstance(value, (list, tuple, set, dict)) and len(value) > limit:
        kind = type(value).__name__
        return f"<{kind} of {len(value):,} items>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still reported
        text = f"<{type(value).__name__}>"
    return text
