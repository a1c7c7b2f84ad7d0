"""A tiny thread-safe cache whose entries live a fixed time.

Used for what every request reads and almost nothing writes (identities, domains, resource policies): a change
made by another process (``coffer admin``, another server on the same database) shows up within ``ttl``
seconds; changes made through this process invalidate the entries at once.

Requests that miss the same key at once (the first pages of an install, each on its worker thread) share one
load (``SingleFlight``); a load under way when an invalidation comes is used by its own request only, never
kept, and no request that began after the invalidation waits for it. An entry expires ``ttl`` after its load
began (whoever joined it later), or after the oldest cached value it was made of (``get_dated``).

The worker processes of one server (``coffer serve --workers N``) share their invalidations
(:func:`share_invalidations`): each counts the invalidations it makes, and every cache of a worker drops its
entries when it sees that another worker has made one since it last looked. So a change made through any worker
shows at once in all of them, as it does in a server of one process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from coffer.core.shared.blocking import on_the_loop
from coffer.core.shared.bounded import remember
from coffer.core.shared.clock import Clock
from coffer.core.shared.single_flight import SingleFlight

K = TypeVar("K")
V = TypeVar("V")


class SharedInvalidations(Protocol):
    """The invalidations of the processes that serve the same data together."""

    def elsewhere(self) -> int:
        """How many the other processes have made (it only grows)."""

    def made(self) -> None:
        """Count one made by this process."""


_shared: SharedInvalidations | None = None


def share_invalidations(shared: SharedInvalidations | None) -> None:
    """From now on every ``TtlCache`` of this process counts its invalidations in ``shared`` and drops its entries
    when the other processes have made one since it last looked (None: each process for itself)."""
    global _shared
    _shared = shared


class TtlCache(Generic[K, V]):
    def __init__(self, clock: Clock, ttl: float, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._seen_elsewhere = 0
        self._generation = 0  # invalidations made here or seen from elsewhere
        self._loads: SingleFlight[tuple[int, K], tuple[V, float]] = SingleFlight()

    def _drop_if_changed_elsewhere(self, shared: SharedInvalidations) -> None:
        elsewhere = shared.elsewhere()
        if elsewhere != self._seen_elsewhere:
            with self._lock:
                self._data.clear()
                self._generation += 1
            self._seen_elsewhere = elsewhere

    def get_or_load(self, key: K, load: Callable[[K], V]) -> V:
        shared = _shared  # set with several worker processes only
        if shared is not None:
            self._drop_if_changed_elsewhere(shared)
        hit = self._data.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return self._load(key, lambda k: (load(k), None))[0]

    def get_dated(self, key: K, load: Callable[[K], tuple[V, float | None]]) -> tuple[V, float]:
        """The value and the time it was current (its entry expires ``ttl`` after that). ``load`` returns the
        value and, for one made of other cached values, the oldest of their times (None: the load's own)."""
        shared = _shared
        if shared is not None:
            self._drop_if_changed_elsewhere(shared)
        hit = self._data.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1], hit[0] - self._ttl
        return self._load(key, load)

    def _load(self, key: K, load: Callable[[K], tuple[V, float | None]]) -> tuple[V, float]:
        generation = self._generation

        def run() -> tuple[V, float]:
            started = self._clock()  # what is read now is current at least from here
            value, as_of = load(key)
            return value, started if as_of is None else min(as_of, started)

        # On the event loop a loader raises WouldBlock before anything blocks (the request goes on to a thread);
        # on a thread, requests that miss the same key at once share one load, and its time.
        value, as_of = run() if on_the_loop() else self._loads.do((generation, key), run)
        with self._lock:
            if generation == self._generation:  # not invalidated meanwhile
                remember(self._data, key, (as_of + self._ttl, value), self._max)
        return value, as_of

    def peek(self, key: K) -> V | None:
        """The value if it is cached and fresh; None otherwise (nothing is loaded)."""
        shared = _shared
        if shared is not None:
            self._drop_if_changed_elsewhere(shared)
        hit = self._data.get(key)
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def invalidate(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._data.clear()
            else:
                self._data.pop(key, None)
            self._generation += 1
        shared = _shared
        if shared is not None:
            shared.made()
