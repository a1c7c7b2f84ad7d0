"""The AWS package operations that read or delete packages: ListPackages, DescribePackage, DeletePackage,
ListPackageVersions, DescribePackageVersion, ListPackageVersionAssets, GetPackageVersionAsset,
GetPackageVersionReadme and ListPackageVersionDependencies. Each reads the repository itself (not its upstreams)
and authorizes its caller."""

from __future__ import annotations

from coffer.core.identity.callers import Caller
from coffer.core.packages import npm_manifest
from coffer.core.packages.package_access import PackageAccess
from coffer.core.packages.package_models import (
    DOWNLOADABLE_STATUSES,
    LISTED_STATUSES,
    Asset,
    Dependency,
    Package,
    PackageRef,
    PackageVersion,
    RepoRef,
    package_label,
)
from coffer.core.packages.package_names import normalize_name, normalize_ref
from coffer.core.packages.pypi_dependencies import requires_dist
from coffer.core.packages.pypi_dists import DistributionError, parse_filename, read_core_metadata
from coffer.core.shared.errors import ResourceNotFoundError, ValidationError


def _scope(operation: str, ref: PackageRef, last: str) -> tuple[str, ...]:
    """What a pagination token of ``operation`` on the package is bound to."""
    r = ref.repo
    return (operation, r.domain_owner, r.domain, r.name, ref.format, ref.namespace or "", ref.name, last)


class PackageQueries(PackageAccess):
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
        self._authorize_repository(caller, "ListPackages", repo)
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
        scope = _scope("ListPackageVersions", ref, status or "")
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
        for version in self._stored(ref.repo).versions(ref):
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
        scope = _scope("ListPackageVersionAssets", ref, found.version)
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
            message = f"Asset {asset_name} not found in package version {version} of {package_label(ref)}"
        else:
            label = package_label(ref)
            message = f"Assets of package version {version} of {label} cannot be downloaded: it is {found.status}"
        raise ResourceNotFoundError(message, asset_name, "asset")

    def get_readme(self, caller: Caller, package: PackageRef, version: str) -> PackageVersion:
        ref = normalize_ref(package)
        self._authorize_package(caller, "GetPackageVersionReadme", ref)
        return self._require_version(ref, version)

    def list_dependencies(
        self, caller: Caller, package: PackageRef, version: str, next_token: str | None
    ) -> tuple[PackageVersion, list[Dependency], str | None]:
        """ListPackageVersionDependencies: the direct dependencies of a version of the repository itself
        (ResourceNotFoundError for a package or version only its upstreams have, as AWS), in the order its
        metadata names them, pages of the default size (the operation has no maxResults).

        For pypi they are the ``Requires-Dist`` fields of the version's core metadata (``pypi_dependencies``):
        the METADATA extracted from a wheel at upload (``Asset.metadata_sha256``), else the metadata read from
        a distribution file itself (an sdist's PKG-INFO). For npm they are the dependency maps of the version's
        ``package.json`` (``npm_manifest.dependencies``: regular, dev, peer, optional). Other formats, and pypi
        versions without assets (disposed), have none."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "ListPackageVersionDependencies", ref)
        found = self._require_version(ref, version)
        dependencies = self._dependencies(ref, found)
        scope = _scope("ListPackageVersionDependencies", ref, found.version)
        after = self._d.paginator.decode(scope, next_token, caller)
        start = 0
        if after is not None:
            if not after.isdigit():
                raise ValidationError("The pagination token is invalid")
            start = int(after)
        end = start + self._d.page_size(None)
        more = end < len(dependencies)
        return found, dependencies[start:end], self._d.paginator.encode(scope, str(end) if more else None, caller)

    def _dependencies(self, ref: PackageRef, version: PackageVersion) -> list[Dependency]:
        if ref.format == "npm":
            return npm_manifest.dependencies(version)
        if ref.format != "pypi":
            return []
        assets = self._assets(ref, version)
        for asset in assets:
            if asset.metadata_sha256 is not None:
                try:
                    with self._blobs.open(asset.metadata_sha256) as f:
                        return requires_dist(f.read())
                except FileNotFoundError:
                    continue
        for asset in assets:
            try:
                dist = parse_filename(asset.name)
                with self._blobs.open(asset.blob.sha256) as f:
                    return requires_dist(read_core_metadata(f, dist).raw)
            except (DistributionError, FileNotFoundError):
                continue
        return []
