"""External connections seen from the package core: the public registries a repository may fetch from, and the
port their clients implement.

An ``UpstreamIndex`` is one public registry of one format (``public:pypi`` at a configured URL). It answers two
questions and knows nothing of repositories: what files a project has (``project``), and the bytes of one of
them (``download``). The HTTP clients live outside the core (``coffer.upstreams``); the core adds caching,
single-flight fetches, retention and the origin rules (``upstream_cache``, ``external_sources``,
``package_fetching``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast

from coffer.core.packages.package_store import PendingBlob
from coffer.core.shared.errors import CofferError

T = TypeVar("T")


class UpstreamError(CofferError):
    """A public registry could not answer; ``status`` is what the package endpoint answers (502 or 504)."""

    code = "UpstreamError"
    status = 502


class UpstreamUnavailableError(UpstreamError):
    """Refused, reset, a DNS failure, a 5xx or a malformed answer: 502 Bad Gateway."""

    status = 502


class UpstreamTimeoutError(UpstreamError):
    """No answer within the connect or read timeout: 504 Gateway Timeout."""

    status = 504


class UpstreamIntegrityError(UpstreamUnavailableError):
    """The bytes fetched do not have the digest or size the registry announced (never stored, never served)."""


@dataclass(frozen=True)
class UpstreamFile:
    """One file of a project as the registry lists it."""

    filename: str
    url: str  # absolute, at the registry
    version: str  # normalized, from the file name (pypi) or the packument (npm)
    #: the registry's announced SHA-256 (hex); "" when it announces another digest only (npm: ``sha512``/``sha1``).
    #: A file with no digest at all is not listed.
    sha256: str
    size: int | None = None
    requires_python: str | None = None
    metadata_sha256: str | None = None  # PEP 658/714: the registry serves ``url + ".metadata"`` with this digest
    upload_time: float | None = None
    sha512: str = ""  # hex (npm: decoded from ``dist.integrity``)
    sha1: str = ""  # hex (npm: ``dist.shasum``, for tarballs that have no integrity)


@dataclass(frozen=True)
class UpstreamRelease:
    """The files of one version, and when the first of them was uploaded."""

    version: str
    first_upload: float
    requires_python: str | None
    files: tuple[UpstreamFile, ...]


@dataclass(frozen=True)
class UpstreamProject:
    """A project's files at one registry; ``name`` is the name it is asked by (normalized; npm: the full name,
    ``@scope/name``)."""

    name: str
    display_name: str
    files: tuple[UpstreamFile, ...]
    #: the registry's tags (npm's dist-tags: tag -> version)
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: per version (normalized), the format's fields a version keeps in ``PackageVersion.extra`` (npm: the
    #: manifest under ``npm_manifest.MANIFEST_KEY``, a deprecation under ``DEPRECATED_KEY``)
    version_extra: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False, compare=False)
    #: values computed from the listing, by key (``derived``); they live and die with it
    _derived: dict[object, object] = field(default_factory=dict, hash=False, compare=False, repr=False)

    def derived(self, key: object, build: Callable[[], T]) -> T:
        """What ``build`` makes of this listing, made once per ``key`` while the listing is cached (e.g. its
        versions as one repository's connection offers them), so that every read of the same listing gets the
        same objects. Two threads may both build it once; one of the values is kept."""
        try:
            return cast(T, self._derived[key])
        except KeyError:
            value = build()
            return cast(T, self._derived.setdefault(key, value))

    @functools.cached_property
    def weight(self) -> int:
        """About the bytes the listing holds in memory: what a cache of listings counts (``ProjectCache``)."""
        files = sum(300 + len(f.filename) + len(f.url) for f in self.files)
        extra = sum(len(value) for fields in self.version_extra.values() for value in fields.values())
        return 256 + files + extra

    @functools.cached_property
    def releases(self) -> dict[str, UpstreamRelease]:
        """The files by version, ordered by first upload then version (computed once per listing)."""
        grouped: dict[str, list[UpstreamFile]] = {}
        for f in self.files:
            grouped.setdefault(f.version, []).append(f)
        releases = [
            UpstreamRelease(
                version=number,
                first_upload=min(f.upload_time or 0.0 for f in files),
                requires_python=next((f.requires_python for f in files if f.requires_python), None),
                files=tuple(files),
            )
            for number, files in grouped.items()
        ]
        releases.sort(key=lambda r: (r.first_upload, r.version))
        return {r.version: r for r in releases}


class UpstreamIndex(Protocol):
    """One public registry (see the module's description). Both methods raise ``UpstreamError`` on failure."""

    @property
    def connection(self) -> str:
        """The external connection it serves, e.g. ``public:pypi``."""
        ...

    def project(self, name: str) -> UpstreamProject | None:
        """The project's files (``name`` as ``UpstreamProject.name``); None when the registry has no such
        project."""
        ...

    def download(self, url: str, sink: PendingBlob, max_bytes: int) -> None:
        """Stream the file at ``url`` into ``sink`` (at most ``max_bytes``, else ``UpstreamUnavailableError``)."""
        ...


class UpstreamRegistry(Protocol):
    """The configured registries, by external connection name."""

    def index(self, connection: str) -> UpstreamIndex | None:
        """None for a connection that has no client (its format is not served yet)."""
        ...
