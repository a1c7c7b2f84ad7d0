"""Clients of public registries: the external connections' side of ``coffer.core.packages.upstreams``.

One client per protocol (``pypi_simple`` for PEP 503/691 indexes, ``npm_registry`` for npm registries, on what
``http_index`` shares); ``HttpUpstreams`` gives each configured connection the client of its format. A format
gets external connections by adding its client here; the core's caching, fetching and retention do not change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from coffer.core.codeartifact.external_connections import DEFAULT_CONNECTION_URLS, EXTERNAL_CONNECTIONS
from coffer.core.packages.upstreams import UpstreamIndex

__all__ = ["HttpUpstreams", "UnknownConnectionError", "connection_urls"]


class UnknownConnectionError(ValueError):
    """A configured name that is not one of CodeArtifact's external connections."""


def connection_urls(configured: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Every external connection's registry URL: the public one unless ``configured`` (``Settings``'
    ``external_connection_urls``) points it elsewhere. UnknownConnectionError names a bad name."""
    urls = dict(DEFAULT_CONNECTION_URLS)
    for name, url in configured:
        if name not in EXTERNAL_CONNECTIONS:
            raise UnknownConnectionError(
                f"{name!r} is not an external connection; use one of {', '.join(sorted(EXTERNAL_CONNECTIONS))}"
            )
        urls[name] = url
    return urls


class HttpUpstreams:
    """``UpstreamRegistry`` over HTTP: ``urls`` maps each connection to its registry's URL."""

    def __init__(self, urls: Mapping[str, str], *, timeout: float) -> None:
        self._urls = dict(urls)
        self._timeout = timeout
        self._clients: dict[str, UpstreamIndex | None] = {}
        self._lock = threading.Lock()

    def index(self, connection: str) -> UpstreamIndex | None:
        with self._lock:
            if connection not in self._clients:
                self._clients[connection] = self._make(connection)
            return self._clients[connection]

    def _make(self, connection: str) -> UpstreamIndex | None:
        url = self._urls.get(connection)
        fmt = EXTERNAL_CONNECTIONS.get(connection)
        if url is None:
            return None
        # httpx, only once a connection is used
        if fmt == "pypi":
            from coffer.upstreams.pypi_simple import SimpleIndex

            return SimpleIndex(connection, url, timeout=self._timeout)
        if fmt == "npm":
            from coffer.upstreams.npm_registry import NpmRegistry

            return NpmRegistry(connection, url, timeout=self._timeout)
        return None  # the other formats' connections are accepted and fetch nothing yet
