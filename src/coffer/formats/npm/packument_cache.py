"""Packuments kept rendered: the same bytes, ETag and gzip body are served as long as the package view (or its
``packument.fingerprint``) is the same, across the read path's one-second reloads.

At most ``MAX_RENDERED`` documents and ``MAX_RENDERED_BYTES`` of them are kept, least recently used dropped
first; a document is rendered once however many requests ask for it at the same moment.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from coffer.core.packages.package_models import PackageView
from coffer.core.shared.single_flight import SingleFlight
from coffer.formats.npm import packument

MAX_RENDERED = 1024  # packuments kept rendered
MAX_RENDERED_BYTES = 256 * 1024 * 1024  # and the bytes they hold at most (body and gzip)
GZIP_MIN = 1024  # smaller documents are sent as they are


@dataclass
class Rendered:
    view: PackageView  # the view last seen to render these bytes (the cheap test: the same object)
    fingerprint: tuple[object, ...]  # packument.fingerprint of the view rendered (the test for a reloaded view)
    body: bytes
    etag: str
    gzipped: bytes | None = field(default=None)
    kept: bool = False  # in the endpoint's cache (its bytes counted there)


class PackumentCache:
    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        self._bytes = 0
        self._renders: SingleFlight[tuple[object, ...], Rendered] = SingleFlight()
        self._lock = threading.Lock()

    def get(self, view: PackageView, key: tuple[object, ...], name: str, base: str, abbreviated: bool) -> Rendered:
        """The packument's bytes: kept while the view (or its fingerprint) is the same; made once however many
        requests ask at the same moment."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.view is view:
                self._kept.move_to_end(key)
                return kept
        return self._renders.do(key, lambda: self._make(view, key, name, base, abbreviated))

    def _make(self, view: PackageView, key: tuple[object, ...], name: str, base: str, abbreviated: bool) -> Rendered:
        made_from = packument.fingerprint(view)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.fingerprint == made_from:
                kept.view = view  # the read path reloaded the same content: keep the bytes
                return kept
        body = packument.render(view, name, base, abbreviated=abbreviated)
        made = Rendered(view, made_from, body, '"' + hashlib.sha256(body).hexdigest()[:40] + '"')
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._forget(old)
            self._kept[key] = made
            made.kept = True
            self._bytes += len(body)
            # least recently used first; the one just made stays, however large
            while len(self._kept) > 1 and (len(self._kept) > MAX_RENDERED or self._bytes > MAX_RENDERED_BYTES):
                _, dropped = self._kept.popitem(last=False)
                self._forget(dropped)
        return made

    def _forget(self, rendered: Rendered) -> None:
        """Under the lock: ``rendered`` is no longer kept."""
        rendered.kept = False
        self._bytes -= len(rendered.body) + len(rendered.gzipped or b"")

    def gzipped(self, rendered: Rendered) -> bytes:
        """The bytes gzipped, made once and kept with them."""
        if rendered.gzipped is None:
            made = gzip.compress(rendered.body, compresslevel=6, mtime=0)
            with self._lock:
                if rendered.gzipped is None:
                    rendered.gzipped = made
                    if rendered.kept:
                        self._bytes += len(made)
        return rendered.gzipped


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` accepts gzip: named (or ``*``) with a q-value above 0."""
    if not accept_encoding:
        return False
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    chosen = named if named is not None else star
    return chosen is not None and chosen > 0
