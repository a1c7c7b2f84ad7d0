"""The read path of the package endpoints: what a repository serves, itself and through its upstreams.

Each read asks the sources of the repository's search order (``package_sources``) in turn: the index of
packages, the versions a package page lists, the asset a download gets, and the blob bytes behind it. A new
format reads through the same methods with its own name and version rules (``package_names``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from coffer.core.codeartifact.resources import Repository
from coffer.core.identity.callers import Caller
from coffer.core.packages.external_sources import ExternalPackages
from coffer.core.packages.package_access import MAX_KEPT_VIEWS, KeptView, PackageAccess, in_repo
from coffer.core.packages.package_group_origins import EffectiveOriginRules
from coffer.core.packages.package_models import (
    DOWNLOADABLE_STATUSES,
    LISTED_STATUSES,
    TAGGED_FORMATS,
    Asset,
    Package,
    PackageRef,
    PackageVersion,
    PackageView,
    RepoRef,
    ResolvedVersion,
)
from coffer.core.packages.package_names import normalize_ref, normalize_version
from coffer.core.packages.package_sources import PackageSource, search_sources
from coffer.core.packages.upstreams import UpstreamError
from coffer.core.shared.bounded import remember


class BlobChunks(Iterator[bytes]):
    """An open blob read in chunks; closes its file at the end or on ``close()``."""

    def __init__(self, file: BinaryIO, chunk_size: int) -> None:
        self._file = file
        self._chunk_size = chunk_size

    def __next__(self) -> bytes:
        if self._file.closed:
            raise StopIteration
        chunk = self._file.read(self._chunk_size)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._file.close()


def _group_allows(rules: EffectiveOriginRules, holder: RepoRef, asked: RepoRef, *, external: bool) -> bool:
    """Whether the package group controls let ``asked`` take a package from ``holder`` (an upstream repository,
    or with ``external`` the external connection of ``holder``): EXTERNAL_UPSTREAM for the repository ingesting
    from the public registry, INTERNAL_UPSTREAM for the repository asked retaining from another of the domain."""
    if external and not rules.allows("EXTERNAL_UPSTREAM", holder.name):
        return False
    return holder == asked or rules.allows("INTERNAL_UPSTREAM", asked.name)


def _same_registry(shown: PackageVersion, later: PackageVersion) -> bool:
    """Whether files of ``later`` may join ``shown``: only a version fetched through an external connection (some
    of its files retained, the rest still listed by the same registry). A version published in a repository
    never takes files from elsewhere: a public wheel must not join a private sdist of the same number."""
    return shown.origin_external is not None and shown.origin_external == later.origin_external


def _merged(shown: ResolvedVersion, assets: Iterable[Asset], holder: RepoRef) -> ResolvedVersion:
    names = {a.name for a in shown.assets}
    extra = [a for a in assets if a.name not in names]
    if not extra:
        return shown
    merged_from = dict(shown.merged_from)
    merged_from.update((a.name, holder) for a in extra)
    return dataclasses.replace(shown, assets=shown.assets + tuple(extra), merged_from=merged_from)


class PackageReads(PackageAccess):
    def authorize_read(self, caller: Caller, repo: RepoRef) -> Repository:
        """``codeartifact:ReadFromRepository`` on the repository (its resource policy applies); returns it.
        ResourceNotFoundError if the domain or repository does not exist (checked after authorization)."""
        self._authorize_repository(caller, "ReadFromRepository", repo)
        return self._require_repository(repo)

    def _sources(self, repo: RepoRef) -> list[PackageSource]:
        """``repo``'s search order as sources, external connections included."""
        return search_sources(self._d, repo, self._upstreams)

    def _package_sources(
        self,
        repo: RepoRef,
        fmt: str,
        namespace: str | None,
        name: str,
        sources: list[PackageSource] | None = None,
        group_rules: Callable[[PackageRef], EffectiveOriginRules | None] | None = None,
    ) -> Iterator[tuple[PackageSource, PackageRef]]:
        """The package in each source of the search order that has it. A package whose origin configuration
        blocks upstreams stops the search where it is found. A registry that cannot answer is passed over while
        another source has the package, and raised (502/504) when none has. ``sources``: the search order's, if
        already made; ``group_rules``: how the package group rules are found (default: from their cache)."""
        base = normalize_ref(PackageRef(repo=repo, format=fmt, namespace=namespace, name=name))
        found_any = False
        unavailable: UpstreamError | None = None
        rules: EffectiveOriginRules | None = None
        for source in self._sources(repo) if sources is None else sources:
            ref = in_repo(base, source.repo)
            external = isinstance(source, ExternalPackages)
            if external or source.repo != repo:
                rules = rules or (group_rules or self._group_rules)(base)
                if rules is not None and not _group_allows(rules, source.repo, repo, external=external):
                    continue
            try:
                package = source.package(ref)
            except UpstreamError as exc:
                unavailable = unavailable or exc
                continue
            if package is None:
                continue
            found_any = True
            yield source, ref
            if package.upstream == "BLOCK":
                return
        if unavailable is not None and not found_any:
            raise unavailable

    def index_packages(self, repo: RepoRef, fmt: str) -> list[Package]:
        """Every package visible from ``repo`` (itself and its upstreams), one per normalized name (the first
        in search order wins), ordered by name."""
        return self._packages_index.get_or_load((repo, fmt), self._load_index_packages)

    def _load_index_packages(self, key: tuple[RepoRef, str]) -> list[Package]:
        repo, fmt = key
        found: dict[tuple[str, str], Package] = {}
        for source in self._sources(repo):
            for package in source.packages(fmt):
                found.setdefault((package.ref.namespace or "", package.ref.name), package)
        return [found[key] for key in sorted(found)]

    def index_versions(self, repo: RepoRef, fmt: str, namespace: str | None, name: str) -> list[ResolvedVersion]:
        """The versions of one package the index shows (status Published), merged across the search order: a
        version is taken from the first repository that has it. Ordered by published time."""
        return list(self.package_view(repo, fmt, namespace, name).versions)

    def package_view(self, repo: RepoRef, fmt: str, namespace: str | None, name: str) -> PackageView:
        """The package's versions (``index_versions``) and merged tags, from one walk of the search order; the
        same object until something changes (see ``PackageView``)."""
        return self._index.get_dated((repo, fmt, namespace, name), self._load_view)[0]

    def _load_view(self, key: tuple[RepoRef, str, str | None, str]) -> tuple[PackageView, float | None]:
        """The view built anew, or the one built before if nothing it was built from has changed since: the
        search order, its repositories' package revisions (every write renews them), the group rules and the
        listings of its external connections (the registry's own cache decides when they change). The revisions
        are read before the view is built, so a view is never older than the revisions it is kept with, and the
        view is cached only as long as those revisions are (the time returned)."""
        repo, fmt, namespace, name = key
        sources = self._sources(repo)
        externals = [source for source in sources if isinstance(source, ExternalPackages)]
        order = tuple(source.repo for source in sources)
        revisions, as_of = self._revisions.get_dated(order, self._read_revisions)
        rules = None
        if len(order) > 1:  # read once, before the snapshot: nothing inside it waits for a cache
            rules = self._group_rules(normalize_ref(PackageRef(repo=repo, format=fmt, namespace=namespace, name=name)))
        kept = self._kept_views.get(key)
        if (
            kept is not None
            and (kept.order, kept.revisions, kept.rules) == (order, revisions, rules)
            and len(kept.listings) == len(externals)
            # only when all else is the same (the walk then reaches the same listings); asks the registry nothing
            and all(source.sees_the_same(seen) for source, seen in zip(externals, kept.listings, strict=True))
        ):
            return kept.view, as_of
        if externals:  # a registry may be asked: no transaction held meanwhile
            view = self._build_view(key, sources, lambda _: rules)
        else:
            with self._d.store.snapshot():  # the search order's reads (three per repository): one transaction
                view = self._build_view(key, sources, lambda _: rules)
        dropped = self._listing_dropped
        listings = [source.seen(lambda: dropped.append(key)) for source in externals]
        if all(seen is not None for seen in listings):  # else a registry was down: built again next time
            kept_view = KeptView(order, revisions, rules, view, tuple(s for s in listings if s is not None))
            with self._kept_lock:
                self._forget_dropped_listings()
                remember(self._kept_views, key, kept_view, MAX_KEPT_VIEWS)
        return view, as_of

    def _forget_dropped_listings(self) -> None:
        """Under ``_kept_lock``: drop the kept views built from a listing the cache has let go (it holds their
        versions and files, outside the listing cache's bound, and they can never match again)."""
        while self._listing_dropped:
            key = self._listing_dropped.popleft()
            kept = self._kept_views.get(key)
            if kept is not None and any(
                mark is not None and mark() is None for seen in kept.listings for _, mark in seen.seen
            ):
                del self._kept_views[key]

    def _read_revisions(self, order: tuple[RepoRef, ...]) -> tuple[tuple[str | None, ...], None]:
        return self._d.store.package_revisions(order), None

    def _build_view(
        self,
        key: tuple[RepoRef, str, str | None, str],
        sources: list[PackageSource],
        group_rules: Callable[[PackageRef], EffectiveOriginRules | None] | None = None,
    ) -> PackageView:
        repo, fmt, namespace, name = key
        decided: dict[str, ResolvedVersion | None] = {}  # None: not listed (its first repository says so)
        tag_layers: list[dict[str, str]] = []
        for source, ref in self._package_sources(repo, fmt, namespace, name, sources, group_rules):
            tags = source.tags(ref) if fmt in TAGGED_FORMATS else {}
            if tags:
                tag_layers.append(tags)
            for version in source.versions(ref):
                listed = version.status in LISTED_STATUSES
                if version.version not in decided:
                    # the first repository of the search order that has the version decides its status
                    decided[version.version] = (
                        ResolvedVersion(version=version, assets=tuple(source.assets(ref, version)), source=ref.repo)
                        if listed
                        else None
                    )
                    continue
                shown = decided[version.version]
                if shown is not None and listed and _same_registry(shown.version, version):
                    # files of the same version a later repository has (a registry's other wheels of a version
                    # retained with one) are offered too; a name already shown keeps its first file
                    decided[version.version] = _merged(shown, source.assets(ref, version), ref.repo)
        shown_versions = [v for v in decided.values() if v is not None]
        shown_versions.sort(key=lambda r: (r.version.published_time, r.version.version))
        numbers = {v.version.version for v in shown_versions}
        merged: dict[str, str] = {}
        for layer in tag_layers:  # in search order: a later source's tag replaces an earlier one's
            merged.update((tag, version) for tag, version in layer.items() if version in numbers)
        return PackageView(versions=tuple(shown_versions), tags=merged)

    def find_asset(
        self, repo: RepoRef, fmt: str, namespace: str | None, name: str, version: str, asset_name: str
    ) -> tuple[ResolvedVersion, Asset] | None:
        """The asset to download, through upstreams; only versions whose status allows downloads."""
        wanted = normalize_version(fmt, version)
        # Fast paths. A version the (cached) view shows is Published in the first repository that has it, which
        # is exactly what the search below would find (unlisted versions are not in it: they take the search).
        # Without a cached view, the repository itself is the first of its search order: a version it holds
        # decides there, in two reads, without building the view.
        view = self._index.peek((repo, fmt, namespace, name))
        if view is not None:
            for shown in view.versions:
                if shown.version.version == wanted:
                    for asset in shown.assets:
                        if asset.name == asset_name:
                            return shown, asset
                    break
        else:
            own = normalize_ref(PackageRef(repo=repo, format=fmt, namespace=namespace, name=name))
            held = self._d.store.get_version(own, wanted)
            if held is not None:
                if held.status not in DOWNLOADABLE_STATUSES:
                    return None
                assets = tuple(self._stored(repo).assets(own, held))
                for asset in assets:
                    if asset.name == asset_name:
                        return ResolvedVersion(version=held, assets=assets, source=repo), asset
                if held.origin_external is None:
                    return None  # a published version has exactly its own files
        first: PackageVersion | None = None
        for source, ref in self._package_sources(repo, fmt, namespace, name):
            found = source.version(ref, wanted)
            if found is None:
                continue
            if first is None:
                # The first repository that has the version decides, also when its status forbids downloads.
                if found.status not in DOWNLOADABLE_STATUSES:
                    return None
                first = found
            elif not _same_registry(first, found) or found.status not in DOWNLOADABLE_STATUSES:
                return None  # a published version has exactly its own files
            assets = tuple(source.assets(ref, found))
            for asset in assets:
                if asset.name == asset_name:
                    return ResolvedVersion(version=found, assets=assets, source=ref.repo), asset
            if first.origin_external is None:
                return None
            # the registry the version was fetched from may list that file of it (see the index)
        return None

    def open_blob(self, sha256: str) -> tuple[str | None, int]:
        """(local path or None, size) of a blob, for streaming it to a client."""
        path = self._blobs.path(sha256)
        if path is not None:
            return path, os.path.getsize(path)
        with self._blobs.open(sha256) as f:
            return None, f.seek(0, os.SEEK_END)

    def read_blob(self, sha256: str, chunk_size: int = 256 * 1024) -> BlobChunks:
        """The blob's bytes in chunks. The file is opened now (``FileNotFoundError`` if the blob is absent, before
        any byte is sent) and closed when the chunks run out or ``close()`` is called."""
        return BlobChunks(self._blobs.open(sha256), chunk_size)
