"""``TtlCache``: concurrent misses of one key share one load; a load that an invalidation overtakes serves its own
request only; on the event loop a miss loads inline until something would block."""

from __future__ import annotations

import threading
import time
from typing import Any

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

    entered: list[object] = []
    share = cache._loads.do

    def counted(key: object, fn: Any, **kwargs: Any) -> Any:
        entered.append(key)
        return share(key, fn, **kwargs)  # type: ignore[arg-type]

    cache._loads.do = counted  # type: ignore[method-assign]
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load("k", load))) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(entered) < 8 and time.monotonic() < deadline:  # all eight asked while the first one's load waits
        time.sleep(0.01)
    assert len(entered) == 8
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


def test_an_entry_lives_a_ttl_from_when_its_load_began_whoever_joined_it() -> None:
    clock = ManualClock(100.0)
    cache: TtlCache[str, str] = TtlCache(clock, 1.0)
    started, release = threading.Event(), threading.Event()

    def slow(_: str) -> str:
        started.set()
        release.wait(5)
        return "read at 100.0"

    leader = threading.Thread(target=lambda: cache.get_or_load("k", slow))
    leader.start()
    assert started.wait(5)
    clock.now = 100.8  # a request joins the load late
    follower: list[str] = []
    joined = threading.Thread(target=lambda: follower.append(cache.get_or_load("k", slow)))
    joined.start()
    time.sleep(0.1)
    release.set()
    leader.join(5)
    joined.join(5)
    assert follower == ["read at 100.0"]
    clock.now = 101.05  # more than a second after the read, though not after the late request came
    assert cache.peek("k") is None


def test_get_dated_keeps_a_value_no_longer_than_what_it_was_made_of() -> None:
    clock = ManualClock(100.0)
    cache: TtlCache[str, str] = TtlCache(clock, 1.0)
    clock.now = 100.5
    assert cache.get_dated("k", lambda _: ("made of values read at 100.2", 100.2)) == (
        "made of values read at 100.2",
        100.2,
    )
    assert cache.get_dated("k", lambda _: ("not loaded", None)) == ("made of values read at 100.2", 100.2)
    clock.now = 101.25
    assert cache.get_dated("k", lambda _: ("again", None)) == ("again", 101.25)
