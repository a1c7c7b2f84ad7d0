"""``TtlCache``: concurrent misses of one key share one load; a load that an invalidation overtakes serves its own
request only; on the event loop a miss loads inline until something would block."""

from __future__ import annotations

import threading
import time

import pytest

from coffer.core.shared.blocking import WouldBlock, may_block, no_blocking
from coffer.core.shared.cache import TtlCache
from coffer.core.shared.single_flight import SingleFlight
from tests.conftest import ManualClock


def test_concurrent_misses_of_one_key_share_one_load() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), 1.0)
    loads: list[str] = []
    release = threading.Event()

    def load(key: str) -> int:
        loads.append(key)
        release.wait(5)
        return len(loads)

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load("k", load))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # all eight are waiting for the first one's load
    release.set()
    for t in threads:
        t.join(5)
    assert loads == ["k"] and results == [1] * 8
    assert cache.peek("k") == 1


def test_a_load_overtaken_by_an_invalidation_is_not_kept_nor_shared() -> None:
    cache: TtlCache[str, str] = TtlCache(ManualClock(), 1.0)
    started, release = threading.Event(), threading.Event()
    values = iter(["before the write", "after the write"])

    def slow_load(key: str) -> str:
        value = next(values)
        if value == "before the write":
            started.set()
            release.wait(5)
        return value

    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(cache.get_or_load("k", slow_load)))
    reader.start()
    assert started.wait(5)
    cache.invalidate("k")  # a write lands while the first load is under way
    # a request that began after the write does not wait for the older load: it loads anew
    assert cache.get_or_load("k", slow_load) == "after the write"
    release.set()
    reader.join(5)
    assert first == ["before the write"]  # the first request gets what it read
    assert cache.peek("k") == "after the write"  # and its older value never replaces the newer one


def test_an_expired_entry_is_loaded_again() -> None:
    clock = ManualClock(100.0)
    cache: TtlCache[str, float] = TtlCache(clock, 1.0)
    assert cache.get_or_load("k", lambda _: clock.now) == 100.0
    clock.now += 0.5
    assert cache.get_or_load("k", lambda _: clock.now) == 100.0
    clock.now += 0.6
    assert cache.get_or_load("k", lambda _: clock.now) == 101.1


def test_on_the_event_loop_a_miss_loads_inline_until_something_would_block() -> None:
    cache: TtlCache[str, str] = TtlCache(ManualClock(), 1.0)
    with no_blocking():
        assert cache.get_or_load("memory", lambda _: "made in memory") == "made in memory"

        def store_read(_: str) -> str:
            may_block()
            return "read"

        with pytest.raises(WouldBlock):
            cache.get_or_load("store", store_read)
    assert cache.peek("memory") == "made in memory" and cache.peek("store") is None
    assert cache.get_or_load("store", store_read) == "read"  # on a thread it loads


def test_a_call_that_needs_its_own_outcome_fails_instead_of_waiting_forever() -> None:
    flight: SingleFlight[str, str] = SingleFlight()

    def recursive() -> str:
        return flight.do("k", lambda: "never")

    with pytest.raises(RuntimeError, match="needs its own outcome"):
        flight.do("k", recursive)
    assert not flight.running("k")
