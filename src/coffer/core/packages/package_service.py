"""Packages in repositories: publishing, resolution through upstreams, and the package API operations.

Used by the package endpoints (``coffer.formats``: the caller is the principal a token acts for) and by the AWS
package operations (``coffer.aws.handlers``). Every public method authorizes its caller itself.

Names and versions are normalized here, on the way in, for every method (pypi: PEP 503 names, PEP 440 versions in
``packaging``'s canonical spelling), so that the endpoints and the API agree on what "the same package" is.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from packaging.version import InvalidVersion, Version

from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Repository
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import (
    DOWNLOADABLE_STATUSES,
    LISTED_STATUSES,
    Asset,
    BlobInfo,
    Package,
    PackageRef,
    PackageVersion,
    RepoRef,
)
from coffer.core.packages.package_store import BlobStore, PendingBlob
from coffer.core.policy import PolicyDocument, Statement, denial_message, evaluate
from coffer.core.policy.variables import Lookup, resolve
from coffer.core.policy.wildcards import Parts, compile_parts
from coffer.core.shared.arns import package_arn
from coffer.core.shared.cache import TtlCache
from coffer.core.shared.errors import AccessDeniedError, ConflictError, ResourceNotFoundError, ValidationError

MAX_SEARCHED_REPOSITORIES = 25  # AWS: upstream repositories searched when requesting a package version
SETTABLE_STATUSES = ("Published", "Unlisted", "Archived")  # UpdatePackageVersionsStatus targets
_SCAN_PAGE = 1000  # page size when a listing is read whole (index pages, upstream merges)
_PEP503_RUN = re.compile(r"[-_.]+")

# PackageVersionErrorCode values
ALREADY_EXISTS = "ALREADY_EXISTS"
MISMATCHED_REVISION = "MISMATCHED_REVISION"
MISMATCHED_STATUS = "MISMATCHED_STATUS"
NOT_ALLOWED = "NOT_ALLOWED"
NOT_FOUND = "NOT_FOUND"

#: ``ConflictError.resource_type`` of ``Store.add_asset`` refusing a file name used before with other content
ASSET_NAME_REUSED = "asset-name"


def normalize_name(fmt: str, name: str) -> str:
    """The package name as the format compares names (pypi: PEP 503)."""
    if fmt == "pypi":
        return _PEP503_RUN.sub("-", name).lower()
    return name


def normalize_version(fmt: str, version: str) -> str:
    """The version as the format compares versions (pypi: ``packaging``'s canonical form, e.g. ``1.0.0-RC1`` ->
    ``1.0.0rc1``). A pypi version that is not PEP 440 is kept as given (the endpoint decides whether to accept it)."""
    if fmt == "pypi":
        try:
            return str(Version(version))
        except InvalidVersion:
            return version.strip().lower()
    return version


def normalize_ref(ref: PackageRef) -> PackageRef:
    namespace = ref.namespace or None
    name = normalize_name(ref.format, ref.name)
    if namespace == ref.namespace and name == ref.name:
        return ref
    return PackageRef(repo=ref.repo, format=ref.format, namespace=namespace, name=name)


@dataclass(frozen=True)
class ResolvedVersion:
    """A version as a repository serves it: found in ``source`` (the repository itself or an upstream)."""

    version: PackageVersion
    assets: tuple[Asset, ...]
    source: RepoRef


@dataclass(frozen=True)
class VersionsResult:
    """Outcome of a batch status change/delete/dispose/copy, as CodeArtifact reports it."""

    successful: dict[str, tuple[str, str]]  # version -> (revision, new status)
    failed: dict[str, tuple[str, str]]  # version -> (errorCode, errorMessage)


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


def _in_repo(ref: PackageRef, repo: RepoRef) -> PackageRef:
    return ref if ref.repo == repo else dataclasses.replace(ref, repo=repo)


def _unique(versions: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(versions))


def _package_label(ref: PackageRef) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name


def _name_reused(name: str, repository: str) -> str:
    return (
        f"The file name {name!r} has already been used in repository {repository} with other content; "
        "a file name, once used, is never reused with different content"
    )


# --- "may publish some package here": policies seen from a repository's whole package space ---------------------


def _parts(statement: Statement, pattern: str, lookup: Lookup) -> Parts | None:
    """A Resource/NotResource pattern with its policy variables resolved (None: a variable has no value, so the
    pattern matches nothing, as in the engine)."""
    return resolve(pattern, lookup) if statement.resource_variables else ((pattern, False),)


def _may_match_within(parts: Parts, space: str) -> bool:
    """Whether the pattern could match some ARN that starts with ``space``: its text before the first wildcard
    and ``space`` agree on their common length (an over-approximation: wildcards are assumed to match anything)."""
    head: list[str] = []
    wildcard = False
    for text, literal in parts:
        cut = -1 if literal else min((i for i in (text.find("*"), text.find("?")) if i >= 0), default=-1)
        if cut >= 0:
            head.append(text[:cut])
            wildcard = True
            break
        head.append(text)
    literal_head = "".join(head)
    if not wildcard:
        return literal_head.startswith(space)
    return literal_head.startswith(space) or space.startswith(literal_head)


def _covers(parts: Parts, space: str) -> bool:
    """Whether the pattern provably matches every ARN that starts with ``space``: it is ``Q*`` (a trailing,
    non-literal ``*``, which matches anything, colons included) with ``Q`` matching some prefix of ``space``."""
    if not parts:
        return False
    text, literal = parts[-1]
    if literal or not text.endswith("*"):
        return False
    head = compile_parts((*parts[:-1], (text[:-1], False)), True)
    return any(head.fullmatch(space, 0, end) for end in range(len(space) + 1))


def _within_space(statement: Statement, space: str, lookup: Lookup) -> Statement | None:
    """``statement`` as it applies to a package ARN in ``space`` whose name is not known yet: an Allow is kept
    (for every resource) when it could apply to some package there, a Deny only when it applies to all of them;
    None when the statement is dropped. Action, principal and conditions are kept as they are."""
    if statement.resource is None and statement.not_resource is None:
        return statement
    patterns = [_parts(statement, p, lookup) for p in statement.resource or statement.not_resource or ()]
    resolved = [p for p in patterns if p is not None]
    if statement.resource is not None:
        if statement.effect == "Allow":
            keep = any(_may_match_within(p, space) for p in resolved)
        else:
            keep = any(_covers(p, space) for p in resolved)
    elif statement.effect == "Allow":  # NotResource: everything the patterns do not match
        keep = not any(_covers(p, space) for p in resolved)
    else:
        keep = not any(_may_match_within(p, space) for p in resolved)
    if not keep:
        return None
    return dataclasses.replace(statement, resource=("*",), not_resource=None, resource_variables=False)


def _policy_within_space(policy: PolicyDocument, space: str, lookup: Lookup) -> PolicyDocument:
    kept = (_within_space(s, space, lookup) for s in policy.statements)
    return dataclasses.replace(policy, statements=tuple(s for s in kept if s is not None))


class PackageService:
    def __init__(self, deps: Deps, blobs: BlobStore) -> None:
        self._d = deps
        self._blobs = blobs
        # What the index pages show, per (repository, format, namespace, name): pip and uv fetch the same pages
        # over and over. Dropped at once by every write through this process, and after a second for writes
        # made by other processes (the same rule as identities and policies).
        self._index: TtlCache[tuple[RepoRef, str, str | None, str], list[ResolvedVersion]] = TtlCache(
            deps.clock, deps.cache_ttl
        )
        self._packages_index: TtlCache[tuple[RepoRef, str], list[Package]] = TtlCache(deps.clock, deps.cache_ttl)

    def _changed(self) -> None:
        self._index.invalidate()
        self._packages_index.invalidate()

    # --- authorization and lookups -----------------------------------------------------------------------

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

    def _require_repository(self, repo: RepoRef) -> Repository:
        found = self._d.cached_repository(repo.domain_owner, repo.domain, repo.name)
        return found if found is not None else self._d.require_repository(repo.domain_owner, repo.domain, repo.name)

    def _require_package(self, ref: PackageRef) -> Package:
        self._require_repository(ref.repo)
        package = self._d.store.get_package(ref)
        if package is None:
            raise ResourceNotFoundError(
                f"Package {_package_label(ref)} ({ref.format}) not found in repository {ref.repo.name}",
                ref.name,
                "package",
            )
        return package

    def _require_version(self, ref: PackageRef, version: str) -> PackageVersion:
        self._require_package(ref)
        found = self._d.store.get_version(ref, normalize_version(ref.format, version))
        if found is None:
            raise ResourceNotFoundError(
                f"Package version {version} of {_package_label(ref)} not found in repository {ref.repo.name}",
                version,
                "package-version",
            )
        return found

    def _assets(self, ref: PackageRef, version: PackageVersion) -> list[Asset]:
        # A disposed version has no assets, whatever rows a store may still hold.
        if version.status == "Disposed":
            return []
        return self._d.store.list_assets(ref, version.version)

    # --- for package endpoints ---------------------------------------------------------------------------

    def authorize_read(self, caller: Caller, repo: RepoRef) -> Repository:
        """``codeartifact:ReadFromRepository`` on the repository (its resource policy applies); returns it.
        ResourceNotFoundError if the domain or repository does not exist (checked after authorization)."""
        self._d.authorize_repository(caller, "ReadFromRepository", repo.domain_owner, repo.domain, repo.name)
        return self._require_repository(repo)

    def authorize_publish(self, caller: Caller, package: PackageRef) -> None:
        """``codeartifact:PublishPackageVersion`` on the package ARN, with the repository's resource policy."""
        self._authorize_package(caller, "PublishPackageVersion", normalize_ref(package))

    def authorize_publish_to_repository(self, caller: Caller, repo: RepoRef, fmt: str) -> Repository:
        """May ``caller`` publish *some* ``fmt`` package to ``repo``? For an upload's first check, made from its URL
        and headers before any byte of the body is read, when the package's name is not known yet; the full
        ``authorize_publish`` on the package follows once it is (and ``publish`` checks again).

        Answered so that it never refuses a caller whom the per-package check would allow for some name (a
        policy may grant PublishPackageVersion on ``package/<domain>/<repo>/*``, on one package, or on a name
        prefix), and refuses everyone else, e.g. a read-only principal. The action is evaluated by the policy
        engine, with every rule it applies (identity, resource and session policies, principals, conditions,
        cross-account, root) on the resource ``arn:...:package/<domain>/<repo>/<fmt>//*`` (the name in the
        denial message), after each statement has been seen from the repository's package space
        ``arn:...:package/<domain>/<repo>/<fmt>/``: an Allow counts when one of its resource patterns could match
        a package there (its text before the first wildcard agrees with the space), a Deny only when one
        provably matches every package there (``<glob matching a prefix of the space>*``); NotResource the other
        way round. A plain check on a wildcard-package resource would refuse callers allowed on one package only.
        Condition keys do not depend on the package, so conditions are evaluated as they are.

        Returns the repository; ResourceNotFoundError if the domain or repository does not exist (checked after
        authorization, like ``authorize_read``)."""
        action = "codeartifact:PublishPackageVersion"
        r = repo
        space = package_arn(self._d.region, r.domain_owner, r.domain, r.name, fmt, None, "").removesuffix("/")
        resource = package_arn(self._d.region, r.domain_owner, r.domain, r.name, fmt, None, "*")
        request = self._d.authorizer.request(caller, action, resource)
        resource_policy = self._d.resource_policy(self._d.repository_arn(r.domain_owner, r.domain, r.name))
        sessions = caller.session_policies
        decision = evaluate(
            request,
            [_policy_within_space(p, space, request.get) for p in caller.policies],
            None if resource_policy is None else _policy_within_space(resource_policy, space, request.get),
            r.domain_owner,
            None if sessions is None else [_policy_within_space(p, space, request.get) for p in sessions],
        )
        if not decision.allowed:
            raise AccessDeniedError(denial_message(caller.arn, action, resource, decision))
        return self._require_repository(repo)

    def search_order(self, repo: RepoRef) -> list[RepoRef]:
        """The repository then its upstreams as CodeArtifact searches them: depth-first in upstream order,
        each repository once."""
        order: list[RepoRef] = []
        seen: set[str] = set()
        stack = [repo.name]
        while stack and len(order) < MAX_SEARCHED_REPOSITORIES:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            found = self._d.cached_repository(repo.domain_owner, repo.domain, name)
            if found is None:
                continue
            order.append(RepoRef(repo.domain_owner, repo.domain, name))
            stack.extend(reversed(found.upstreams))
        return order

    def _packages_of(self, repo: RepoRef, fmt: str) -> Iterator[Package]:
        after: str | None = None
        while True:
            page = self._d.store.list_packages(
                repo, format=fmt, namespace=None, prefix=None, after=after, limit=_SCAN_PAGE
            )
            yield from page.items
            if page.next_key is None:
                return
            after = page.next_key

    def _versions_of(self, ref: PackageRef) -> Iterator[PackageVersion]:
        after: str | None = None
        while True:
            page = self._d.store.list_versions(ref, status=None, after=after, limit=_SCAN_PAGE)
            yield from page.items
            if page.next_key is None:
                return
            after = page.next_key

    def _package_sources(self, repo: RepoRef, fmt: str, namespace: str | None, name: str) -> Iterator[PackageRef]:
        """The package in each repository of the search order that has it. A package whose origin configuration
        blocks upstreams stops the search where it is found."""
        base = normalize_ref(PackageRef(repo=repo, format=fmt, namespace=namespace, name=name))
        for source in self.search_order(repo):
            ref = _in_repo(base, source)
            package = self._d.store.get_package(ref)
            if package is None:
                continue
            yield ref
            if package.upstream == "BLOCK":
                return

    def index_packages(self, repo: RepoRef, fmt: str) -> list[Package]:
        """Every package visible from ``repo`` (itself and its upstreams), one per normalized name (the first
        in search order wins), ordered by name."""
        return self._packages_index.get_or_load((repo, fmt), self._load_index_packages)

    def _load_index_packages(self, key: tuple[RepoRef, str]) -> list[Package]:
        repo, fmt = key
        found: dict[tuple[str, str], Package] = {}
        for source in self.search_order(repo):
            for package in self._packages_of(source, fmt):
                found.setdefault((package.ref.namespace or "", package.ref.name), package)
        return [found[key] for key in sorted(found)]

    def index_versions(self, repo: RepoRef, fmt: str, namespace: str | None, name: str) -> list[ResolvedVersion]:
        """The versions of one package the index shows (status Published), merged across the search order: a
        version is taken from the first repository that has it. Ordered by published time."""
        return list(self._index.get_or_load((repo, fmt, namespace, name), self._load_index_versions))

    def _load_index_versions(self, key: tuple[RepoRef, str, str | None, str]) -> list[ResolvedVersion]:
        repo, fmt, namespace, name = key
        seen: set[str] = set()
        shown: list[ResolvedVersion] = []
        for ref in self._package_sources(repo, fmt, namespace, name):
            for version in self._versions_of(ref):
                if version.version in seen:
                    continue  # a repository earlier in the search order has this version (whatever its status)
                seen.add(version.version)
                if version.status in LISTED_STATUSES:
                    assets = tuple(self._assets(ref, version))
                    shown.append(ResolvedVersion(version=version, assets=assets, source=ref.repo))
        shown.sort(key=lambda r: (r.version.published_time, r.version.version))
        return shown

    def find_asset(
        self, repo: RepoRef, fmt: str, namespace: str | None, name: str, version: str, asset_name: str
    ) -> tuple[ResolvedVersion, Asset] | None:
        """The asset to download, through upstreams; only versions whose status allows downloads."""
        wanted = normalize_version(fmt, version)
        # Fast path: a version the (cached) index shows is Published in the first repository that has it, which
        # is exactly what the search below would find. Unlisted versions are not in the index: they take it.
        for shown in self.index_versions(repo, fmt, namespace, name):
            if shown.version.version == wanted:
                for asset in shown.assets:
                    if asset.name == asset_name:
                        return shown, asset
                break
        for ref in self._package_sources(repo, fmt, namespace, name):
            found = self._d.store.get_version(ref, wanted)
            if found is None:
                continue
            # The first repository that has the version decides, also when its status forbids downloads.
            if found.status not in DOWNLOADABLE_STATUSES:
                return None
            assets = tuple(self._assets(ref, found))
            for asset in assets:
                if asset.name == asset_name:
                    return ResolvedVersion(version=found, assets=assets, source=ref.repo), asset
            return None
        return None

    def begin_blob(self, extra_hashes: Iterable[str] = ()) -> PendingBlob:
        """Start writing a blob that becomes visible only on its ``keep()`` (``BlobStore.begin``)."""
        return self._blobs.begin(extra_hashes)

    def store_bytes(self, data: bytes) -> BlobInfo:
        return self._blobs.write_bytes(data)

    def publish(self, caller: Caller, version: PackageVersion, asset: Asset) -> PackageVersion:
        """Authorize (PublishPackageVersion) and attach ``asset`` to ``version``, creating package and version as
        needed. ConflictError (resource type "asset") if that file exists already in the version,
        (``ASSET_NAME_REUSED``) if its name was used in the repository before with other content."""
        ref = normalize_ref(version.package)
        self._authorize_package(caller, "PublishPackageVersion", ref)
        self._require_repository(ref.repo)
        package = self._d.store.get_package(ref)
        if package is not None and package.publish == "BLOCK":
            raise ValidationError(
                f"Publishing to package {_package_label(ref)} in repository {ref.repo.name} is blocked by its "
                "origin configuration",
                "OTHER",
            )
        number = normalize_version(ref.format, version.version)
        existing = self._d.store.get_version(ref, number)
        if existing is not None and existing.status not in DOWNLOADABLE_STATUSES:
            raise ConflictError(
                f"Package version {existing.display_version} of {_package_label(ref)} is {existing.status}: "
                "no files can be added to it",
                existing.display_version,
                "package-version",
            )
        extra = dict(version.extra)
        if version.package.name != ref.name:
            extra.setdefault("display_name", version.package.name)
        normalized = dataclasses.replace(
            version,
            package=ref,
            version=number,
            published_time=version.published_time or self._d.clock(),
            origin_repository=version.origin_repository or ref.repo,
            extra=extra,
        )
        result = self._d.store.add_asset(normalized, asset)
        self._changed()
        return result

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

    # --- the AWS package operations ----------------------------------------------------------------------

    def list_packages(
        self,
        caller: Caller,
        repo: RepoRef,
        fmt: str | None,
        namespace: str | None,
        prefix: str | None,
        max_results: int | None,
        next_token: str | None,
        *,
        publish: str | None = None,
        upstream: str | None = None,
    ) -> tuple[list[Package], str | None]:
        """ListPackages: the packages of the repository itself (not its upstreams), ordered by (format,
        namespace, name). ``publish``/``upstream`` filter on the origin configuration."""
        self._d.authorize_repository(caller, "ListPackages", repo.domain_owner, repo.domain, repo.name)
        self._require_repository(repo)
        if prefix and fmt is not None:
            prefix = normalize_name(fmt, prefix)
        scope = (
            "ListPackages",
            repo.domain_owner,
            repo.domain,
            repo.name,
            fmt or "",
            namespace or "",
            prefix or "",
            publish or "",
            upstream or "",
        )
        after = self._d.paginator.decode(scope, next_token, caller)
        page = self._d.store.list_packages(
            repo,
            format=fmt,
            namespace=namespace or None,
            prefix=prefix or None,
            after=after,
            limit=self._d.page_size(max_results),
        )
        items = [
            p
            for p in page.items
            if (publish is None or p.publish == publish) and (upstream is None or p.upstream == upstream)
        ]
        return items, self._d.paginator.encode(scope, page.next_key, caller)

    def describe_package(self, caller: Caller, package: PackageRef) -> Package:
        ref = normalize_ref(package)
        self._authorize_package(caller, "DescribePackage", ref)
        return self._require_package(ref)

    def delete_package(self, caller: Caller, package: PackageRef) -> Package:
        ref = normalize_ref(package)
        self._authorize_package(caller, "DeletePackage", ref)
        self._require_package(ref)
        result = self._d.store.delete_package(ref)
        self._changed()
        return result

    def list_versions(
        self,
        caller: Caller,
        package: PackageRef,
        status: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[PackageVersion], str | None]:
        """ListPackageVersions: ordered by published time, then version."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "ListPackageVersions", ref)
        self._require_package(ref)
        r = ref.repo
        scope = (
            "ListPackageVersions",
            r.domain_owner,
            r.domain,
            r.name,
            ref.format,
            ref.namespace or "",
            ref.name,
            status or "",
        )
        after = self._d.paginator.decode(scope, next_token, caller)
        page = self._d.store.list_versions(ref, status=status, after=after, limit=self._d.page_size(max_results))
        return list(page.items), self._d.paginator.encode(scope, page.next_key, caller)

    def default_display_version(self, caller: Caller, package: PackageRef) -> str | None:
        """ListPackageVersions' ``defaultDisplayVersion``: the most recently published version whose status is
        Published (what pypi and maven show by default), as published; None if there is none."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "ListPackageVersions", ref)
        self._require_package(ref)
        latest: PackageVersion | None = None
        for version in self._versions_of(ref):
            if version.status in LISTED_STATUSES:
                latest = version  # ordered by published time: the last one wins
        return None if latest is None else latest.display_version

    def describe_version(self, caller: Caller, package: PackageRef, version: str) -> PackageVersion:
        return self.describe_version_detail(caller, package, version)[1]

    def describe_version_detail(
        self, caller: Caller, package: PackageRef, version: str
    ) -> tuple[Package, PackageVersion]:
        """DescribePackageVersion with the package too (its display name is the version's ``displayName``)."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "DescribePackageVersion", ref)
        pkg = self._require_package(ref)
        return pkg, self._require_version(ref, version)

    def list_assets(self, caller: Caller, package: PackageRef, version: str) -> tuple[PackageVersion, list[Asset]]:
        ref = normalize_ref(package)
        self._authorize_package(caller, "ListPackageVersionAssets", ref)
        found = self._require_version(ref, version)
        return found, self._assets(ref, found)

    def list_assets_page(
        self, caller: Caller, package: PackageRef, version: str, max_results: int | None, next_token: str | None
    ) -> tuple[PackageVersion, list[Asset], str | None]:
        """ListPackageVersionAssets with ``maxResults``/``nextToken`` (assets ordered by name)."""
        ref = normalize_ref(package)
        found, assets = self.list_assets(caller, ref, version)
        r = ref.repo
        scope = (
            "ListPackageVersionAssets",
            r.domain_owner,
            r.domain,
            r.name,
            ref.format,
            ref.namespace or "",
            ref.name,
            found.version,
        )
        after = self._d.paginator.decode(scope, next_token, caller)
        if after is not None:
            assets = [a for a in assets if a.name > after]
        size = self._d.page_size(max_results)
        page, more = assets[:size], len(assets) > size
        return found, page, self._d.paginator.encode(scope, page[-1].name if more and page else None, caller)

    def get_asset(
        self, caller: Caller, package: PackageRef, version: str, asset_name: str
    ) -> tuple[PackageVersion, Asset]:
        """GetPackageVersionAsset: only versions whose status allows downloads (Published, Unlisted)."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "GetPackageVersionAsset", ref)
        found = self._require_version(ref, version)
        if found.status in DOWNLOADABLE_STATUSES:
            for asset in self._assets(ref, found):
                if asset.name == asset_name:
                    return found, asset
            message = f"Asset {asset_name} not found in package version {version} of {_package_label(ref)}"
        else:
            label = _package_label(ref)
            message = f"Assets of package version {version} of {label} cannot be downloaded: it is {found.status}"
        raise ResourceNotFoundError(message, asset_name, "asset")

    def get_readme(self, caller: Caller, package: PackageRef, version: str) -> PackageVersion:
        ref = normalize_ref(package)
        self._authorize_package(caller, "GetPackageVersionReadme", ref)
        return self._require_version(ref, version)

    # --- batch operations on versions --------------------------------------------------------------------

    def _check(
        self,
        ref: PackageRef,
        version: str,
        expected_status: str | None,
        revisions: Mapping[str, str] | None,
    ) -> PackageVersion | tuple[str, str]:
        """The version to act on, or the (errorCode, errorMessage) that stops it."""
        found = self._d.store.get_version(ref, normalize_version(ref.format, version))
        if found is None:
            return NOT_FOUND, f"Package version {version} not found"
        if expected_status is not None and found.status != expected_status:
            return MISMATCHED_STATUS, f"Expected status {expected_status}, but the status is {found.status}"
        wanted_revision = (revisions or {}).get(version)
        if wanted_revision is not None and wanted_revision != found.revision:
            return MISMATCHED_REVISION, f"Expected revision {wanted_revision}, but the revision is {found.revision}"
        return found

    def _set_status(
        self,
        ref: PackageRef,
        versions: Sequence[str],
        target: str,
        expected_status: str | None,
        revisions: Mapping[str, str] | None,
    ) -> VersionsResult:
        result = VersionsResult(successful={}, failed={})
        for version in _unique(versions):
            found = self._check(ref, version, expected_status, revisions)
            if isinstance(found, tuple):
                result.failed[version] = found
                continue
            if found.status == target:
                result.successful[version] = (found.revision, found.status)
                continue
            if found.status == "Disposed":
                result.failed[version] = (NOT_ALLOWED, "A disposed package version cannot change status")
                continue
            try:
                # expected_status=current makes the change atomic against a concurrent one
                changed = self._d.store.set_status(ref, found.version, target, found.status)
                self._changed()
            except ConflictError:
                result.failed[version] = (MISMATCHED_STATUS, "The status changed concurrently")
            except ResourceNotFoundError:
                result.failed[version] = (NOT_FOUND, f"Package version {version} not found")
            else:
                result.successful[version] = (changed.revision, changed.status)
        return result

    def update_status(
        self,
        caller: Caller,
        package: PackageRef,
        versions: Sequence[str],
        target_status: str,
        expected_status: str | None,
        *,
        version_revisions: Mapping[str, str] | None = None,
    ) -> VersionsResult:
        """UpdatePackageVersionsStatus: to Published, Unlisted or Archived; a Disposed version stays Disposed."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "UpdatePackageVersionsStatus", ref)
        if target_status not in SETTABLE_STATUSES:
            raise ValidationError(
                f"Invalid target status {target_status}: must be one of {', '.join(SETTABLE_STATUSES)}"
            )
        self._require_package(ref)
        return self._set_status(ref, versions, target_status, expected_status, version_revisions)

    def delete_versions(
        self, caller: Caller, package: PackageRef, versions: Sequence[str], expected_status: str | None
    ) -> VersionsResult:
        """DeletePackageVersions: versions and their assets go (blobs stay; they may be shared)."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "DeletePackageVersions", ref)
        self._require_package(ref)
        result = VersionsResult(successful={}, failed={})
        for version in _unique(versions):
            found = self._check(ref, version, expected_status, None)
            if isinstance(found, tuple):
                result.failed[version] = found
                continue
            try:
                deleted = self._d.store.delete_version(ref, found.version, found.status)
                self._changed()
            except ConflictError:
                result.failed[version] = (MISMATCHED_STATUS, "The status changed concurrently")
            except ResourceNotFoundError:
                result.failed[version] = (NOT_FOUND, f"Package version {version} not found")
            else:
                result.successful[version] = (deleted.revision, "Deleted")
        return result

    def dispose_versions(
        self,
        caller: Caller,
        package: PackageRef,
        versions: Sequence[str],
        expected_status: str | None,
        *,
        version_revisions: Mapping[str, str] | None = None,
    ) -> VersionsResult:
        """DisposePackageVersions: status Disposed, assets gone; the version record stays."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "DisposePackageVersions", ref)
        self._require_package(ref)
        return self._set_status(ref, versions, "Disposed", expected_status, version_revisions)

    def copy_versions(
        self,
        caller: Caller,
        source: PackageRef,
        destination: RepoRef,
        versions: Sequence[str],
        allow_overwrite: bool,
        include_from_upstream: bool,
        *,
        version_revisions: Mapping[str, str] | None = None,
    ) -> VersionsResult:
        """CopyPackageVersions: needs ``ReadFromRepository`` on the source repository and
        ``CopyPackageVersions`` on the package in the destination (AWS's documented permissions). Assets are
        shared blobs, so a copy writes rows only. Copies keep status, metadata and origin."""
        src = normalize_ref(source)
        dst = _in_repo(src, destination)
        self._d.authorize_repository(
            caller, "ReadFromRepository", src.repo.domain_owner, src.repo.domain, src.repo.name
        )
        self._authorize_package(caller, "CopyPackageVersions", dst)
        if (src.repo.domain_owner, src.repo.domain) != (destination.domain_owner, destination.domain):
            raise ValidationError("The source and destination repositories must be in the same domain")
        if src.repo == destination:
            raise ValidationError("The source and destination repositories must be different")
        if versions and version_revisions:
            raise ValidationError("Specify either versions or versionRevisions, not both")
        wanted = list(versions) or list(version_revisions or {})
        if not wanted:
            raise ValidationError("Specify the versions to copy in versions or versionRevisions")
        self._require_repository(src.repo)
        self._require_repository(destination)
        sources = [src]
        if include_from_upstream:
            sources = [_in_repo(src, r) for r in self.search_order(src.repo)]
        result = VersionsResult(successful={}, failed={})
        for version in _unique(wanted):
            key = normalize_version(src.format, version)
            origin: tuple[PackageRef, PackageVersion] | None = None
            for ref in sources:
                found = self._d.store.get_version(ref, key)
                if found is not None:
                    origin = ref, found
                    break
            if origin is None:
                result.failed[version] = (NOT_FOUND, f"Package version {version} not found in the source")
                continue
            ref, found = origin
            wanted_revision = (version_revisions or {}).get(version)
            if wanted_revision is not None and wanted_revision != found.revision:
                result.failed[version] = (
                    MISMATCHED_REVISION,
                    f"Expected revision {wanted_revision}, but the revision is {found.revision}",
                )
                continue
            if found.status == "Disposed":
                result.failed[version] = (NOT_ALLOWED, "A disposed package version cannot be copied")
                continue
            outcome = self._copy_one(ref, found, dst, allow_overwrite)
            if outcome[0] == "ok":
                result.successful[version] = (outcome[1], found.status)
            else:
                result.failed[version] = outcome
        return result

    def _copy_one(
        self, src: PackageRef, version: PackageVersion, dst: PackageRef, allow_overwrite: bool
    ) -> tuple[str, str]:
        """("ok", new revision), or (errorCode, errorMessage).

        Every asset goes through ``add_asset``, so the destination's file-name rule holds (a name once used there
        keeps its content: NOT_ALLOWED otherwise). An overwrite that would give a file of the version in the
        destination other content is refused before anything is deleted."""
        assets = self._d.store.list_assets(src, version.version)
        if not assets:
            return NOT_ALLOWED, f"Package version {version.display_version} has no assets to copy"
        existing = self._d.store.get_version(dst, version.version)
        if existing is not None:
            if not allow_overwrite:
                return ALREADY_EXISTS, f"Package version {version.display_version} already exists in the destination"
            current = {a.name: a.blob.sha256 for a in self._d.store.list_assets(dst, existing.version)}
            clash = sorted(a.name for a in assets if current.get(a.name, a.blob.sha256) != a.blob.sha256)
            if clash:
                return NOT_ALLOWED, _name_reused(clash[0], dst.repo.name)
            try:
                self._d.store.delete_version(dst, existing.version, existing.status)
                self._changed()
            except (ConflictError, ResourceNotFoundError):
                return ALREADY_EXISTS, "The version in the destination changed concurrently"
        copy = dataclasses.replace(version, package=dst, origin_repository=version.origin_repository or src.repo)
        stored = copy
        try:
            for asset in assets:
                stored = self._d.store.add_asset(copy, asset)
                self._changed()
        except ConflictError as exc:
            if exc.resource_type == ASSET_NAME_REUSED:
                return NOT_ALLOWED, exc.message
            return ALREADY_EXISTS, f"Package version {version.display_version} already exists in the destination"
        if stored.status != version.status:
            stored = self._d.store.set_status(dst, version.version, version.status, None)
            self._changed()
        return "ok", stored.revision
