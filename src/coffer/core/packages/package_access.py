"""What every part of the package service shares: its dependencies, the index caches every write drops, the
authorization of a package operation and the lookups that raise ResourceNotFoundError.

``PackageAccess`` is the base of the parts (``package_reads``, ``package_publishing``, ``package_queries``,
``version_batches``) that ``package_service.PackageService`` puts together.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Iterable

from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Repository
from coffer.core.identity.callers import Caller
from coffer.core.packages.external_sources import ListingsSeen
from coffer.core.packages.package_group_origins import EffectiveOriginRules
from coffer.core.packages.package_group_service import PackageGroupService
from coffer.core.packages.package_models import (
    Asset,
    Package,
    PackageRef,
    PackageVersion,
    PackageView,
    RepoRef,
    package_label,
)
from coffer.core.packages.package_names import normalize_version
from coffer.core.packages.package_sources import StoredPackages
from coffer.core.packages.package_store import BlobStore
from coffer.core.packages.upstream_cache import UpstreamCaches
from coffer.core.shared.arns import package_arn
from coffer.core.shared.cache import TtlCache
from coffer.core.shared.errors import ResourceNotFoundError

DEFAULT_MAX_FETCH_BYTES = 5 * 1024**3  # CodeArtifact's asset size quota
MAX_KEPT_VIEWS = 4096
"""Package views kept for reuse (``KeptView``), at most; all are dropped when full."""


@dataclasses.dataclass(frozen=True, slots=True)
class KeptView:
    """A package view with what it was built from: the search order, its repositories' package revisions, the
    package group rules that applied (None with one repository: none are consulted) and, per external connection
    of the search order, the registry's listings it was built from."""

    order: tuple[RepoRef, ...]
    revisions: tuple[str | None, ...]
    rules: EffectiveOriginRules | None
    view: PackageView
    listings: tuple[ListingsSeen, ...] = ()


def in_repo(ref: PackageRef, repo: RepoRef) -> PackageRef:
    """The same package in another repository."""
    return ref if ref.repo == repo else dataclasses.replace(ref, repo=repo)


def unique(versions: Iterable[str]) -> list[str]:
    """The versions of a request, each once, in the order given."""
    return list(dict.fromkeys(versions))


class PackageAccess:
    def __init__(
        self,
        deps: Deps,
        blobs: BlobStore,
        upstreams: UpstreamCaches | None = None,
        *,
        max_fetch_bytes: int = 0,
        groups: PackageGroupService | None = None,
    ) -> None:
        """``upstreams``: the external connections' registries (None: nothing is fetched); ``max_fetch_bytes``:
        the largest file fetched from one (0: the upload limit's default); ``groups``: the domains' package
        groups, whose origin controls publishing and fetching obey (None: none apply)."""
        self._d = deps
        self._blobs = blobs
        self._upstreams = upstreams
        self._groups = groups
        self._max_fetch_bytes = max_fetch_bytes or DEFAULT_MAX_FETCH_BYTES
        # What the index pages show, per (repository, format, namespace, name): pip and uv fetch the same pages
        # over and over. Dropped at once by every write through this process, and after a second for writes
        # made by other processes (the same rule as identities and policies).
        self._index: TtlCache[tuple[RepoRef, str, str | None, str], PackageView] = TtlCache(deps.clock, deps.cache_ttl)
        self._packages_index: TtlCache[tuple[RepoRef, str], list[Package]] = TtlCache(deps.clock, deps.cache_ttl)
        # The package revisions of a search order (``PackageStore.package_revisions``), read again as often as
        # the caches above: a view built before is served again while they (and its group rules) are the same
        # (``package_reads``), so a page whose second has passed costs one small read per search order.
        self._revisions: TtlCache[tuple[RepoRef, ...], tuple[str | None, ...]] = TtlCache(deps.clock, deps.cache_ttl)
        self._kept_views: dict[tuple[RepoRef, str, str | None, str], KeptView] = {}
        self._kept_lock = threading.Lock()
        # the keys of kept views one of whose registry listings the listing cache has let go: such a view can
        # never be served again, and is dropped at the next view load (appended by a weak reference's callback,
        # on any thread: no lock taken there)
        self._listing_dropped: collections.deque[tuple[RepoRef, str, str | None, str]] = collections.deque()
        deps.on_invalidate(self._changed)  # a new search order or group rule shows at once, as a package write does

    def _group_rules(self, ref: PackageRef) -> EffectiveOriginRules | None:
        """The package group origin controls for the package (its domain's most specific group), if groups apply."""
        if self._groups is None:
            return None
        r = ref.repo
        return self._groups.origin_rules(r.domain_owner, r.domain, ref.format, ref.namespace, ref.name)

    def _changed(self) -> None:
        self._index.invalidate()
        self._packages_index.invalidate()
        self._revisions.invalidate()  # the write renewed its repository's revision: read it again

    def _package_arn(self, ref: PackageRef) -> str:
        r = ref.repo
        return package_arn(self._d.region, r.domain_owner, r.domain, r.name, ref.format, ref.namespace, ref.name)

    def _authorize_package(self, caller: Caller, action: str, ref: PackageRef) -> None:
        """``codeartifact:<action>`` on the package ARN; the repository's resource policy governs its packages."""
        repo_arn = self._d.repository_arn(ref.repo.domain_owner, ref.repo.domain, ref.repo.name)
        self._d.authorizer.require(
            caller,
            f"codeartifact:{action}",
            self._package_arn(ref),
            resource_account=ref.repo.domain_owner,
            resource_policy=self._d.resource_policy(repo_arn),
        )

    def _authorize_repository(self, caller: Caller, action: str, repo: RepoRef) -> None:
        """``codeartifact:<action>`` on the repository ARN (its resource policy applies)."""
        self._d.authorize_repository(caller, action, repo.domain_owner, repo.domain, repo.name)

    def _require_repository(self, repo: RepoRef) -> Repository:
        found = self._d.cached_repository(repo.domain_owner, repo.domain, repo.name)
        return found if found is not None else self._d.require_repository(repo.domain_owner, repo.domain, repo.name)

    def _require_package(self, ref: PackageRef) -> Package:
        self._require_repository(ref.repo)
        package = self._d.store.get_package(ref)
        if package is None:
            raise ResourceNotFoundError(
                f"Package {package_label(ref)} ({ref.format}) not found in repository {ref.repo.name}",
                ref.name,
                "package",
            )
        return package

    def _require_version(self, ref: PackageRef, version: str) -> PackageVersion:
        self._require_package(ref)
        found = self._d.store.get_version(ref, normalize_version(ref.format, version))
        if found is None:
            raise ResourceNotFoundError(
                f"Package version {version} of {package_label(ref)} not found in repository {ref.repo.name}",
                version,
                "package-version",
            )
        return found

    def _stored(self, repo: RepoRef) -> StoredPackages:
        return StoredPackages(self._d.store, repo)

    def _assets(self, ref: PackageRef, version: PackageVersion) -> list[Asset]:
        return self._stored(ref.repo).assets(ref, version)
