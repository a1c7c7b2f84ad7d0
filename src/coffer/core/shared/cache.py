"""A tiny thread-safe cache whose entries live a fixed time.

Used for what every request reads and almost nothing writes (identities, domains, resource policies): a change
made by another process (``coffer admin``, another server on the same database) shows up within ``ttl``
seconds; changes made through this process invalidate the entries at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from coffer.core.shared.clock import Clock

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, clock: Clock, ttl: float, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[K], V]) -> V:
        hit = self._data.get(key)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load(key)
        with self._lock:
            if len(self._data) >= self._max:
                self._data.clear()
            self._data[key] = (now + self._ttl, value)
        return value

    def peek(self, key: K) -> V | None:
        """The value if it is cached and fresh; None otherwise (nothing is loaded)."""
        hit = self._data.get(key)
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def invalidate(self, key: K | None = None) -> None:
        with self._lock:
            if key is None:
                self._data.clear()
            else:
                self._data.pop(key, None)
