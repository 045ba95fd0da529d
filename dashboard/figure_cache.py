"""Built figures kept between reruns, so a rerun that changes neither a chart's points nor its
options (a live tick with no new point, Differences only, a second metric added) reuses the figure.

A figure is keyed on a fingerprint of the points it draws (``points_version``) and on every option
its builder takes; the cached reads copy their frames out on every rerun, so the frame's identity
says nothing. Streamlit still serialises the reused figure (``st.plotly_chart`` has no way around
that), but to the same bytes, which its message cache then does not send to a browser that has them.

Bounded twice (``dashboard.freshness`` and ``dashboard.heap`` did the memory work; this undoes none
of it): at most ``max_bytes`` held across all figures, estimated by ``figure_bytes`` (a 100-run ×
4-metric view with smoothing is ~23 MB), least recently used dropped first; and an entry unused for
``idle`` seconds is dropped by a sweeper thread that then hands the memory back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping

import numpy as np
import pandas as pd

from dashboard import heap


def points_version(part: pd.DataFrame) -> tuple[int, int]:
    """A fingerprint of the rows a chart draws: their count and the sum of pandas' row hashes
    (every column). ~14 ms per 100k rows, where building their chart takes ~140 ms
    (``python -m bench.figure_build``); column sums took half as long but are not exact."""
    return len(part), int(pd.util.hash_pandas_object(part, index=False).sum())


TRACE_BYTES = 3_000  # a Plotly trace object's own memory besides its arrays (tracemalloc, plotly 7)


def figure_bytes(figure) -> int:
    """About the memory ``figure`` holds: its traces' numpy arrays plus TRACE_BYTES per trace."""

    def arrays(value) -> int:
        if isinstance(value, np.ndarray):
            return value.nbytes
        if isinstance(value, dict):
            return sum(arrays(v) for v in value.values())
        return sum(arrays(v) for v in value) if isinstance(value, list | tuple) else 0

    return sum(arrays(trace._props) + TRACE_BYTES for trace in getattr(figure, "data", ()))


def frozen(mapping: Mapping | None) -> tuple | None:
    """A mapping as a hashable key part (labels, colours, groups)."""
    return None if mapping is None else tuple(sorted(mapping.items(), key=lambda kv: str(kv[0])))


class FigureCache:
    def __init__(self, max_bytes: int = 48 << 20, idle: float = 60.0, size: Callable[[object], int] = figure_bytes):
        self.max_bytes, self.idle, self.size = max_bytes, idle, size
        # key -> (figure, its bytes, last used at), least recently used first
        self._entries: OrderedDict[Hashable, tuple[object, int, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._sweeping = False
        self.builds = 0  # figures built, not reused (tests count them)

    def get(self, key: Hashable, build: Callable[[], object]):
        """The figure for ``key``, built by ``build()`` only when not held.
        The figure is shared between reruns and sessions: callers must not change it."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries[key] = (hit[0], hit[1], time.monotonic())
                self._entries.move_to_end(key)
                return hit[0]
        figure = build()  # outside the lock: another session's rerun need not wait for this build
        size = self.size(figure)
        with self._lock:
            self.builds += 1
            if key not in self._entries and size <= self.max_bytes:
                self._entries[key] = (figure, size, time.monotonic())
                self._bytes += size
                while self._bytes > self.max_bytes:
                    self._bytes -= self._entries.popitem(last=False)[1][1]
            start = bool(self._entries) and not self._sweeping
            self._sweeping = self._sweeping or start
        if start:
            threading.Thread(target=self._sweep, name="runboard-figure-sweep", daemon=True).start()
        return figure

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self) -> None:
        """Every ``idle`` s, drop the figures no rerun used for that long; ends when none is held."""
        while True:
            time.sleep(self.idle)
            now = time.monotonic()
            with self._lock:
                old = [k for k, (_, _, used) in self._entries.items() if now - used > self.idle]
                for key in old:
                    self._bytes -= self._entries.pop(key)[1]
                done = not self._entries
                self._sweeping = not done
            if old:
                heap.give_back()
            if done:
                return
