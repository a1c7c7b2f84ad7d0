"""Where the read path looks for packages: the search order of a repository and its upstreams, and the source
each repository in it is.

A ``PackageSource`` answers the read path's questions about the packages one repository holds: a repository of
the domain (``StoredPackages``: its rows in the store), or the external connection of one
(``external_sources.ExternalPackages``: what a public registry offers), placed in the search order right after
the repository holding it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Repository
from coffer.core.packages.external_sources import ExternalPackages
from coffer.core.packages.package_models import Asset, Package, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_store import PackageStore
from coffer.core.packages.upstream_cache import UpstreamCaches

MAX_SEARCHED_REPOSITORIES = 25  # AWS: upstream repositories searched when requesting a package version
_SCAN_PAGE = 1000  # page size when a listing is read whole (index pages, upstream merges)


class PackageSource(Protocol):
    """The packages of one repository as the read path sees them; every ``PackageRef`` given is in ``repo``."""

    @property
    def repo(self) -> RepoRef: ...

    def packages(self, fmt: str) -> Iterator[Package]:
        """Every package of format ``fmt``, ordered by (namespace, name)."""
        ...

    def package(self, ref: PackageRef) -> Package | None: ...

    def versions(self, ref: PackageRef) -> Iterator[PackageVersion]:
        """Every version of the package, whatever its status, ordered by published time."""
        ...

    def version(self, ref: PackageRef, version: str) -> PackageVersion | None:
        """The version by its normalized number."""
        ...

    def assets(self, ref: PackageRef, version: PackageVersion) -> list[Asset]:
        """The version's assets (none for a disposed version)."""
        ...

    def tags(self, ref: PackageRef) -> dict[str, str]:
        """The package's tags (npm's dist-tags: tag -> normalized version); empty for formats without tags."""
        ...


class StoredPackages:
    """A repository of the domain: its packages as the store holds them."""

    def __init__(self, store: PackageStore, repo: RepoRef, *, batch_assets: bool = False) -> None:
        """``batch_assets``: read every version's assets of a package at its first ``assets`` call, for a source
        that lives one read of the read path (which asks for all of them)."""
        self._store = store
        self._repo = repo
        self._batch = batch_assets
        self._assets: dict[PackageRef, dict[str, list[Asset]]] = {}

    @property
    def repo(self) -> RepoRef:
        return self._repo

    def packages(self, fmt: str) -> Iterator[Package]:
        after: str | None = None
        while True:
            page = self._store.list_packages(
                self._repo, format=fmt, namespace=None, prefix=None, after=after, limit=_SCAN_PAGE
            )
            yield from page.items
            if page.next_key is None:
                return
            after = page.next_key

    def package(self, ref: PackageRef) -> Package | None:
        return self._store.get_package(ref)

    def versions(self, ref: PackageRef) -> Iterator[PackageVersion]:
        after: str | None = None
        while True:
            page = self._store.list_versions(ref, status=None, after=after, limit=_SCAN_PAGE)
            yield from page.items
            if page.next_key is None:
                return
            after = page.next_key

    def version(self, ref: PackageRef, version: str) -> PackageVersion | None:
        return self._store.get_version(ref, version)

    def assets(self, ref: PackageRef, version: PackageVersion) -> list[Asset]:
        # A disposed version has no assets, whatever rows a store may still hold.
        if version.status == "Disposed":
            return []
        if not self._batch:
            return self._store.list_assets(ref, version.version)
        return list(self._package_assets(ref).get(version.version, ()))

    def _package_assets(self, ref: PackageRef) -> dict[str, list[Asset]]:
        """Every version's assets of the package, read in one query the first time this source is asked for
        one of them (a view asks for all of them; the source lives for one read)."""
        if ref not in self._assets:
            self._assets[ref] = self._store.list_package_assets(ref)
        return self._assets[ref]

    def tags(self, ref: PackageRef) -> dict[str, str]:
        return self._store.get_package_tags(ref)


def _searched(deps: Deps, repo: RepoRef) -> Iterator[Repository]:
    """The repository then its upstreams as CodeArtifact searches them: depth-first in upstream order, each
    repository once, at most ``MAX_SEARCHED_REPOSITORIES``."""
    seen: set[str] = set()
    stack = [repo.name]
    count = 0
    while stack and count < MAX_SEARCHED_REPOSITORIES:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        found = deps.cached_repository(repo.domain_owner, repo.domain, name)
        if found is None:
            continue
        count += 1
        yield found
        stack.extend(reversed(found.upstreams))


def search_order(deps: Deps, repo: RepoRef) -> list[RepoRef]:
    """The repositories ``repo`` searches, in CodeArtifact's order (see ``_searched``)."""
    return [RepoRef(repo.domain_owner, repo.domain, r.name) for r in _searched(deps, repo)]


def search_sources(deps: Deps, repo: RepoRef, upstreams: UpstreamCaches | None = None) -> list[PackageSource]:
    """The sources of ``repo``'s search order, in that order: each repository's own packages, then (with
    ``upstreams``) what its external connection offers."""
    sources: list[PackageSource] = []
    for found in _searched(deps, repo):
        r = RepoRef(repo.domain_owner, repo.domain, found.name)
        sources.append(StoredPackages(deps.store, r, batch_assets=True))
        if upstreams is None:
            continue
        for connection in found.external_connections:
            cache = upstreams.cache(connection.name)
            if cache is not None:
                sources.append(ExternalPackages(r, connection.name, connection.package_format, cache))
    return sources
