"""Handing freed memory back to the system.

glibc keeps the heap pages a big view freed (its frames, figures, their JSON) for reuse, so the
dashboard's RSS stayed at its largest view's size; ``malloc_trim`` returns them (a few ms). A
no-op where the C library has no ``malloc_trim``.
"""

from __future__ import annotations

import ctypes

_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)


def give_back() -> None:
    if _TRIM is not None:
        _TRIM(0)
