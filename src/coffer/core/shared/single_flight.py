"""One call per key at a time: concurrent callers of the same key wait for the first and share its outcome.

Used where many clients ask at once for what one slow call produces (an upstream page, a file fetched from a
public registry): fifty first downloads of one wheel cause one upstream fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from coffer.core.shared.blocking import may_block

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Call(Generic[V]):
    __slots__ = ("done", "error", "leader", "value")

    def __init__(self) -> None:
        self.leader = threading.get_ident()
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._calls: dict[K, _Call[V]] = {}
        self._lock = threading.Lock()

    def do(self, key: K, fn: Callable[[], V], *, wait: float | None = None) -> V:
        """``fn()``, or the outcome of the call of ``key`` under way (its value, or its exception raised again).
        ``wait``: the longest a follower waits (then it raises ``TimeoutError``)."""
        may_block()  # a flight is for slow calls, and a follower waits for another thread
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            if call.leader == threading.get_ident():  # fn() asked for its own key: waiting would never end
                raise RuntimeError(f"a call of {key!r} needs its own outcome")
            if not call.done.wait(wait):
                raise TimeoutError(f"still waiting for another request's call of {key!r}")
            if call.error is not None:
                raise call.error
            return call.value  # type: ignore[return-value]
        try:
            call.value = fn()
            return call.value
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()

    def running(self, key: K) -> bool:
        """Whether a call of ``key`` is under way."""
        with self._lock:
            return key in self._calls
