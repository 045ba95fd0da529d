"""When a cached read is due again, and dropping the cached values no rerun can be served any more.

With a fixed TTL a read slower than the TTL (a 20 s comparison on a big store) was redone on every
rerun; here an entry stays fresh for ``ttl`` after it was stored, or ``SLOW_FACTOR`` times as long
as the read itself took, whichever is later. The cached functions (``st.cache_data``) take
``generation`` as their first argument: a new one is a new cache key, so an entry is re-read only
when its generation moves on (``st.cache_data.clear()`` still works).

An entry past its freshness is never served again (the next rerun asks for the next generation),
so it is dropped at once: when a newer generation replaces it, or by a sweeper thread while no
rerun asks — a 100-run comparison is ~45 MB of cache that an idle dashboard gives back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dashboard import heap

SLOW_FACTOR = 5  # a read that took d seconds stays fresh for at least 5·d


class Freshness:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._seen: dict[tuple, tuple[int, float, float]] = {}  # key -> (generation, stored at, took s)
        self._held: dict[tuple, tuple[Callable, int]] = {}  # key -> (cached function, generation) still cached
        self._lock = threading.Lock()
        self._sweeping = False

    def _fresh(self, key: tuple) -> bool:
        _, stored, took = self._seen.get(key, (0, float("-inf"), 0.0))
        return time.monotonic() - stored <= max(self.ttl, SLOW_FACTOR * took)

    def generation(self, key: tuple) -> int:
        gen = self._seen.get(key, (0,))[0]
        return gen if self._fresh(key) else gen + 1

    def read(self, key: tuple, generation: int, fn: Callable, *args):
        """``fn(*args)``, remembering when and how long: called only on a cache miss."""
        start = time.monotonic()
        value = fn(*args)
        with self._lock:
            self._seen[key] = (generation, time.monotonic(), time.monotonic() - start)
        return value

    def get(self, cached: Callable, key: tuple):
        """``cached(generation, *key)``: the fresh entry, or a new read that replaces the old one."""
        gen = self.generation(key)
        value = cached(gen, *key)
        with self._lock:
            old = self._held.get(key)
            self._held[key] = (cached, gen)
            start = not self._sweeping
            self._sweeping = True
        if old and old[1] != gen:
            old[0].clear(old[1], *key)
        if start:
            threading.Thread(target=self._sweep, name="runboard-cache-sweep", daemon=True).start()
        return value

    def _sweep(self) -> None:
        """Every ``ttl`` s, drop the entries past their freshness; ends when none is held."""
        while True:
            time.sleep(self.ttl)
            with self._lock:
                stale = [(key, *held) for key, held in self._held.items() if not self._fresh(key)]
                for key, *_ in stale:
                    del self._held[key]
                done = not self._held
                self._sweeping = not done
            for key, cached, gen in stale:
                cached.clear(gen, *key)
            if stale:
                heap.give_back()
            if done:
                return
