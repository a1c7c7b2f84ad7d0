"""An external connection as a ``PackageSource``: what a public registry offers, seen from the repository that
holds the connection.

It sits in the search order right after that repository's own packages (``package_sources.search_sources``), so
the read path needs nothing else: a project the repository and its upstreams lack is looked up here. Its
versions are what the registry lists now (``ProjectCache``), each file an ``Asset`` whose ``fetch_from`` says
where to fetch it; nothing is stored until a file is downloaded (``package_fetching`` then retains the version).

Only names of the connection's format are asked, under the name the registry knows them by: npm's full name
(``@scope/name``: the namespace is the scope), the name alone for formats without namespaces (a namespace there
is never asked). The registry's packages are never listed whole (``packages`` is empty): the project list of a
repository shows what it holds.

A version carries the fields the registry listed for it (``UpstreamProject.version_extra``: npm's manifest and
deprecation), and for npm the package APIs' fields read from that manifest as for a published version
(``npm_manifest.npm_version``), so that a version reads the same before and after it is fetched.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from coffer.core.packages import npm_manifest
from coffer.core.packages.npm_names import full_name
from coffer.core.packages.package_models import (
    Asset,
    BlobInfo,
    FetchLocation,
    Package,
    PackageRef,
    PackageVersion,
    RepoRef,
)
from coffer.core.packages.package_store import FETCHED_FIRST
from coffer.core.packages.upstream_cache import ProjectCache
from coffer.core.packages.upstreams import UpstreamError, UpstreamProject, UpstreamRelease

NPM_FIELDS_CACHED = 65536  # npm manifests whose package API fields are kept (``_npm_fields``)
#: a listing's versions by number, and their assets by number
_Listing = tuple[dict[str, PackageVersion], dict[str, tuple[Asset, ...]]]


@dataclasses.dataclass(frozen=True, slots=True)
class ListingsSeen:
    """The listings one external source looked at, each as the cache's object it found (weakly held: a listing
    the cache has dropped is not kept alive, and then counts as changed; None: the registry had no such project).
    A view built through the source depends on nothing else of the registry."""

    connection: str
    repo: RepoRef
    seen: tuple[tuple[PackageRef, weakref.ref[UpstreamProject] | None], ...]


class ExternalPackages:
    """The packages of format ``fmt`` that ``cache``'s registry offers through ``repo``'s connection."""

    def __init__(self, repo: RepoRef, connection: str, fmt: str, cache: ProjectCache) -> None:
        self._repo = repo
        self.connection = connection
        self._fmt = fmt
        self._cache = cache
        self._seen: dict[PackageRef, UpstreamProject | None] = {}
        self._unanswered = False  # a listing was asked that the registry could not give (``seen``)

    @property
    def repo(self) -> RepoRef:
        return self._repo

    def packages(self, fmt: str) -> Iterator[Package]:
        return iter(())

    def _project(self, ref: PackageRef) -> UpstreamProject | None:
        """The listing, asked of the cache once per package for this source's life (one read of the read path:
        a view asks for every version's assets)."""
        if ref in self._seen:
            return self._seen[ref]
        name = self._asked_as(ref)
        try:
            project = None if name is None else self._cache.get(name)
        except UpstreamError:
            self._unanswered = True
            raise
        self._seen[ref] = project
        return project

    def _asked_as(self, ref: PackageRef) -> str | None:
        """The name the registry knows the package by; None for one it is never asked (another format, or a
        namespace in a format without them)."""
        if ref.format != self._fmt:
            return None
        if ref.format == "npm":
            return full_name(ref.namespace, ref.name)
        return None if ref.namespace else ref.name

    def seen(self, on_dropped: Callable[[], None] | None = None) -> ListingsSeen | None:
        """The listings this source has looked at so far; None if the registry could not answer for one (what
        was built without it must not outlive the outage). ``on_dropped`` is called (on whichever thread frees
        it, so it must not take locks) once such a listing is no longer held anywhere."""
        if self._unanswered:
            return None

        def mark(p: UpstreamProject) -> weakref.ref[UpstreamProject]:
            return weakref.ref(p) if on_dropped is None else weakref.ref(p, lambda _: on_dropped())

        return ListingsSeen(
            self.connection, self._repo, tuple((ref, None if p is None else mark(p)) for ref, p in self._seen.items())
        )

    def sees_the_same(self, before: ListingsSeen) -> bool:
        """Whether this source (of the same connection and repository) finds every listing ``before`` saw
        unchanged: the very objects the cache holds fresh now. Nothing is asked of the registry (the revisions
        this check follows may be a second old, during which another process may have made the name private): a
        listing gone stale or dropped counts as a change, and the build then asks whatever it reaches."""
        if (before.connection, before.repo) != (self.connection, self._repo):
            return False
        for ref, mark in before.seen:
            found, now = self._fresh(ref)
            if not found:  # stale or dropped: a build asks for it, if the build gets that far
                return False
            self._seen[ref] = now
            if (mark is None) != (now is None) or (mark is not None and mark() is not now):
                return False
        return True

    def _fresh(self, ref: PackageRef) -> tuple[bool, UpstreamProject | None]:
        """As ``_project``, from what the cache holds fresh only: nothing is asked of the registry."""
        if ref in self._seen:
            return True, self._seen[ref]
        name = self._asked_as(ref)
        return (True, None) if name is None else self._cache.fresh(name)

    def package(self, ref: PackageRef) -> Package | None:
        project = self._project(ref)
        if project is None or not project.files:
            return None
        # npm: the name without its scope, as a retained version's package is named
        display_name = ref.name if ref.format == "npm" else project.display_name
        return Package(
            ref=ref, display_name=display_name, publish=FETCHED_FIRST.publish, upstream=FETCHED_FIRST.upstream
        )

    def _listing(self, ref: PackageRef, project: UpstreamProject) -> _Listing:
        """The project's versions and their assets as this connection offers them to ``ref``'s repository: built
        once per cached listing (``UpstreamProject.derived``), so that the read path's views, rebuilt every
        second, hold the same objects and are compared and rendered again at no cost."""
        return project.derived((ref, self.connection, self._repo), lambda: self._build(ref, project))

    def _build(self, ref: PackageRef, project: UpstreamProject) -> _Listing:
        versions = {r.version: self._version(ref, r, project) for r in project.releases.values()}
        assets = {
            r.version: tuple(
                Asset(
                    name=f.filename,
                    blob=BlobInfo(sha256=f.sha256, size=f.size or 0, md5="", sha1=f.sha1, sha512=f.sha512),
                    created_at=f.upload_time or 0.0,
                    metadata_sha256=f.metadata_sha256,
                    fetch_from=FetchLocation(f.url, self.connection, self._repo),
                )
                for f in r.files
            )
            for r in project.releases.values()
        }
        return versions, assets

    def versions(self, ref: PackageRef) -> Iterator[PackageVersion]:
        project = self._project(ref)
        if project is None:
            return iter(())
        return iter(self._listing(ref, project)[0].values())

    def version(self, ref: PackageRef, version: str) -> PackageVersion | None:
        project = self._project(ref)
        return None if project is None else self._listing(ref, project)[0].get(version)

    def assets(self, ref: PackageRef, version: PackageVersion) -> list[Asset]:
        project = self._project(ref)
        if project is None:
            return []
        return list(self._listing(ref, project)[1].get(version.version, ()))

    def tags(self, ref: PackageRef) -> dict[str, str]:
        project = self._project(ref)
        return {} if project is None else dict(project.tags)

    def _version(self, ref: PackageRef, release: UpstreamRelease, project: UpstreamProject) -> PackageVersion:
        extra = dict(project.version_extra.get(release.version, {}))
        if ref.format == "npm":
            return dataclasses.replace(
                _npm_fields(extra.get(npm_manifest.MANIFEST_KEY, "")),
                package=ref,
                version=release.version,
                display_version=release.version,
                published_time=release.first_upload,
                origin_external=self.connection,
                extra=extra,  # the registry's fields as listed
            )
        return PackageVersion(
            package=ref,
            version=release.version,
            display_version=release.version,
            status="Published",
            revision="",
            published_time=release.first_upload,
            requires_python=release.requires_python,
            origin_external=self.connection,
            extra=extra,
        )


_NO_PACKAGE = PackageRef(repo=RepoRef("", "", ""), format="npm", namespace=None, name="")


@functools.lru_cache(maxsize=NPM_FIELDS_CACHED)
def _npm_fields(raw: str) -> PackageVersion:
    """The package APIs' fields of a version whose manifest is ``raw`` (JSON), as ``npm_manifest.npm_version``
    reads them for a published version, on a version of no package. Kept per manifest: a listing is read on
    every request for the package, and the manifests of its versions (thousands, for some) do not change."""
    try:
        loaded = json.loads(raw) if raw else None
    except ValueError:
        loaded = None
    manifest: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    fields = npm_manifest.npm_version(_NO_PACKAGE, "", manifest, when=0.0, origin_repository=None)
    return dataclasses.replace(fields, extra={})  # the version's own extra replaces it: not kept twice
