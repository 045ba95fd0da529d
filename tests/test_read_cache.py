"""Cached reads stay fresh for their TTL, or for SLOW_FACTOR times as long as they took, and an
entry no rerun can be served any more is dropped (issue 16)."""

import time

import streamlit as st

from dashboard import freshness
from dashboard.freshness import Freshness


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reader(clock: Clock, took: float):
    def read(value):
        clock.now += took  # the read itself takes ``took`` seconds
        return value
    return read


def test_a_read_slower_than_the_ttl_is_served_from_cache_on_the_next_rerun(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(freshness.time, "monotonic", clock)
    fresh = Freshness(ttl=10)
    gen = fresh.generation(("view",))
    fresh.read(("view",), gen, _reader(clock, took=20.0), "frame")  # a 20 s read
    clock.now += 15  # the next rerun, 15 s later: past the TTL, well within 5 × 20 s
    assert fresh.generation(("view",)) == gen
    clock.now += 5 * 20
    assert fresh.generation(("view",)) == gen + 1


def test_a_fast_read_expires_after_the_ttl_and_keys_are_independent(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(freshness.time, "monotonic", clock)
    fresh = Freshness(ttl=10)
    first = fresh.generation(("a",))
    fresh.read(("a",), first, _reader(clock, took=0.1), "frame")
    clock.now += 9
    assert fresh.generation(("a",)) == first
    assert fresh.generation(("b",)) == first  # never read: due now, as its own key
    clock.now += 2
    assert fresh.generation(("a",)) == first + 1


def _cached(fresh: Freshness, reads: list):
    """A real ``st.cache_data`` function reading through ``fresh``, counting its reads."""
    @st.cache_data(ttl=3600, show_spinner=False)
    def cached(generation: int, view: str) -> str:
        return fresh.read((view,), generation, lambda: reads.append((generation, view)) or f"{view}@{generation}")
    return cached


def test_a_newer_generation_drops_the_entry_it_replaces():
    fresh, reads = Freshness(ttl=3), []
    cached = _cached(fresh, reads)
    first = fresh.generation(("v",))
    assert fresh.get(cached, ("v",)) == f"v@{first}"
    assert fresh.get(cached, ("v",)) == f"v@{first}" and reads == [(first, "v")]  # fresh: from cache
    time.sleep(3.1)
    assert fresh.get(cached, ("v",)) == f"v@{first + 1}"
    cached(first, "v")
    assert reads == [(first, "v"), (first + 1, "v"), (first, "v")]  # the first was no longer cached


def test_an_idle_cache_gives_its_stale_entries_back_without_a_rerun():
    fresh, reads = Freshness(ttl=0.5), []
    cached = _cached(fresh, reads)
    gen = fresh.generation(("a",))
    fresh.get(cached, ("a",))
    fresh.get(cached, ("b",))
    deadline = time.monotonic() + 10
    while fresh._held and time.monotonic() < deadline:  # nobody asks again: the sweeper drops them
        time.sleep(0.05)
    assert not fresh._held
    cached(gen, "a")
    cached(gen, "b")
    assert reads == [(gen, "a"), (gen, "b")] * 2  # both were dropped from the cache: read again
