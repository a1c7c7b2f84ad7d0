"""Simple pages kept rendered while the read path hands out the same package view.

A project page is the same bytes for every request that sees the same cached view (``PackageView`` objects are
shared until a write or the cache's second replaces them), so it is rendered once per view and media type, not
once per request. At most ``MAX_PAGES`` pages and ``MAX_PAGE_BYTES`` of them are kept, least recently used
dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

MAX_PAGES = 4096
MAX_PAGE_BYTES = 64 * 1024 * 1024


class RenderedPages:
    def __init__(self, max_pages: int = MAX_PAGES, max_bytes: int = MAX_PAGE_BYTES) -> None:
        self._max_pages = max_pages
        self._max_bytes = max_bytes
        self._kept: OrderedDict[Hashable, tuple[object, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, source: object, render: Callable[[], bytes]) -> bytes:
        """The bytes ``render()`` made from ``source`` under ``key``, made again once ``source`` is another
        object. The cache holds ``source`` with the bytes, so its identity cannot be taken by another object."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] is source:
                self._kept.move_to_end(key)
                return kept[1]
        body = render()
        if len(body) > self._max_bytes // 8:
            return body  # a page this large is not worth crowding out the others
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._kept[key] = (source, body)
            self._bytes += len(body)
            while self._kept and (len(self._kept) > self._max_pages or self._bytes > self._max_bytes):
                _, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= len(dropped)
        return body
