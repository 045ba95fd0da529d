"""Cached reads stay fresh for their TTL, or for SLOW_FACTOR times as long as they took (issue 16)."""

from dashboard import reads


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
    monkeypatch.setattr(reads.time, "monotonic", clock)
    fresh = reads.Freshness(ttl=10)
    gen = fresh.generation(("view",))
    fresh.read(("view",), gen, _reader(clock, took=20.0), "frame")  # a 20 s read
    clock.now += 15  # the next rerun, 15 s later: past the TTL, well within 5 × 20 s
    assert fresh.generation(("view",)) == gen
    clock.now += 5 * 20
    assert fresh.generation(("view",)) == gen + 1


def test_a_fast_read_expires_after_the_ttl_and_keys_are_independent(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(reads.time, "monotonic", clock)
    fresh = reads.Freshness(ttl=10)
    first = fresh.generation(("a",))
    fresh.read(("a",), first, _reader(clock, took=0.1), "frame")
    clock.now += 9
    assert fresh.generation(("a",)) == first
    assert fresh.generation(("b",)) == first  # never read: due now, as its own key
    clock.now += 2
    assert fresh.generation(("a",)) == first + 1
