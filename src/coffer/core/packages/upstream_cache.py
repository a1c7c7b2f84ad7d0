"""Project listings of a public registry, kept in memory: fresh, then stale-while-revalidate, fetched once.

- A listing younger than ``ttl`` is served as it is.
- An older one is still served at once, and one background refresh replaces it. If the registry is down, the
  stale listing keeps being served (retried at most every ``retry_after`` seconds): an outage never stalls a read
  of what was seen before.
- A project never seen is fetched while the request waits, once however many requests ask at the same time
  (``SingleFlight``); a failure then is the request's (``UpstreamError``: 502 or 504), and is remembered for
  ``retry_after`` seconds so that a down registry answers fast instead of once per timeout.
- "No such project" is cached like a listing: private names asked of a public index cost one request per ``ttl``.

Freshness matters for one thing only: which versions the registry offers. Files already fetched are retained in
the store and served from there whatever happens upstream.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from coffer.core.packages.upstreams import UpstreamError, UpstreamIndex, UpstreamProject, UpstreamRegistry
from coffer.core.shared.clock import Clock
from coffer.core.shared.single_flight import SingleFlight

_log = logging.getLogger("coffer.upstreams")

MAX_PROJECTS = 20_000  # listings kept (least recently used dropped first)
MAX_BYTES = 512 * 1024 * 1024  # and at most about this much memory (UpstreamProject.weight)
DEFAULT_RETRY_AFTER = 10.0  # seconds between attempts at a registry that failed


@dataclass(frozen=True)
class _Entry:
    project: UpstreamProject | None  # None: the registry has no such project
    fetched_at: float


REFRESH_THREADS = 4  # background refreshes of one registry at a time (more wait their turn)


class ProjectCache:
    def __init__(
        self,
        index: UpstreamIndex,
        clock: Clock,
        ttl: float,
        *,
        retry_after: float = DEFAULT_RETRY_AFTER,
        wait: float | None = None,
        spawn: Callable[[Callable[[], None]], object] | None = None,
        max_projects: int = MAX_PROJECTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        """``wait``: how long a request waits for another's fetch of the same project (default: unbounded; the
        client's own timeouts bound the fetch). ``spawn`` runs a background refresh (by default on a pool of
        ``REFRESH_THREADS`` threads, so a burst of stale pages does not start a thread each)."""
        self.index = index
        self._clock = clock
        self._ttl = ttl
        self._retry_after = retry_after
        self._wait = wait
        if spawn is None:
            pool = ThreadPoolExecutor(REFRESH_THREADS, thread_name_prefix="coffer-upstream-refresh")
            spawn = pool.submit
        self._spawn = spawn
        self._max = max_projects
        self._max_bytes = max_bytes
        self._bytes = 0  # the weight of the listings kept
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._failed: dict[str, tuple[float, UpstreamError]] = {}  # name -> (until, error) for unseen projects
        self._refresh_not_before: dict[str, float] = {}
        self._lock = threading.Lock()
        self._flights: SingleFlight[str, UpstreamProject | None] = SingleFlight()

    def get(self, name: str) -> UpstreamProject | None:
        """The project's listing (``name`` normalized); None if the registry has none. UpstreamError when it was
        never seen and the registry cannot answer now."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                self._entries.move_to_end(name)
        if entry is not None:
            if now - entry.fetched_at >= self._ttl:
                self._refresh_later(name, now)
            return entry.project
        failed = self._failed.get(name)
        if failed is not None and now < failed[0]:
            # a fresh error each time: re-raising one object would chain every request's frames onto it
            raise type(failed[1])(failed[1].message)
        return self._flights.do(name, lambda: self._fetch(name), wait=self._wait)

    def fresh(self, name: str) -> tuple[bool, UpstreamProject | None]:
        """(True, the listing) if one younger than ``ttl`` is cached; (False, None) otherwise. Asks nothing of
        the registry and starts no refresh."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or now - entry.fetched_at >= self._ttl:
                return False, None
            self._entries.move_to_end(name)
        return True, entry.project

    def _fetch(self, name: str) -> UpstreamProject | None:
        try:
            project = self.index.project(name)
        except UpstreamError as exc:
            with self._lock:
                now = self._clock()
                if len(self._failed) >= self._max:  # names asked during a long outage: keep only live entries
                    self._failed = {k: v for k, v in self._failed.items() if v[0] > now}
                self._failed[name] = (now + self._retry_after, type(exc)(exc.message))
            raise
        self._store(name, project)
        return project

    def _store(self, name: str, project: UpstreamProject | None) -> None:
        weight = 0 if project is None else project.weight
        with self._lock:
            self._failed.pop(name, None)
            old = self._entries.pop(name, None)
            if old is not None and old.project is not None:
                self._bytes -= old.project.weight
            self._entries[name] = _Entry(project, self._clock())
            self._bytes += weight
            # the least recently used go first; the listing just stored stays, however large
            while len(self._entries) > 1 and (len(self._entries) > self._max or self._bytes > self._max_bytes):
                _, dropped = self._entries.popitem(last=False)
                if dropped.project is not None:
                    self._bytes -= dropped.project.weight

    def _refresh_later(self, name: str, now: float) -> None:
        with self._lock:
            if now < self._refresh_not_before.get(name, 0.0) or self._flights.running(name):
                return
            self._refresh_not_before[name] = now + self._retry_after
        self._spawn(lambda: self._refresh(name))

    def _refresh(self, name: str) -> None:
        try:
            self._flights.do(name, lambda: self._fetch_for_refresh(name))
        except UpstreamError as exc:  # the stale listing stays; retried after ``retry_after``
            _log.warning("%s: refreshing %s failed, serving the cached listing: %s", self.index.connection, name, exc)
        except Exception:  # a background thread has no caller to tell
            _log.exception("%s: refreshing %s failed", self.index.connection, name)

    def _fetch_for_refresh(self, name: str) -> UpstreamProject | None:
        project = self.index.project(name)
        self._store(name, project)
        with self._lock:
            self._refresh_not_before.pop(name, None)
        return project


class UpstreamCaches:
    """A ``ProjectCache`` per external connection that has a client in ``registry``, made on first use."""

    def __init__(self, registry: UpstreamRegistry, clock: Clock, ttl: float) -> None:
        self.registry = registry
        self._clock = clock
        self._ttl = ttl
        self._caches: dict[str, ProjectCache | None] = {}
        self._lock = threading.Lock()

    def cache(self, connection: str) -> ProjectCache | None:
        if connection in self._caches:
            return self._caches[connection]
        with self._lock:
            if connection not in self._caches:
                index = self.registry.index(connection)
                made = None if index is None else ProjectCache(index, self._clock, self._ttl)
                self._caches[connection] = made
            return self._caches[connection]
