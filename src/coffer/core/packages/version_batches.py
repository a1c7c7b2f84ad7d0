"""The AWS batch operations on package versions: UpdatePackageVersionsStatus, DeletePackageVersions,
DisposePackageVersions and CopyPackageVersions. Each reports, per version asked for, the outcome CodeArtifact
reports (``VersionsResult``): a failed version does not stop the others."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from coffer.core.identity.callers import Caller
from coffer.core.packages.external_sources import ExternalPackages
from coffer.core.packages.generic_names import GENERIC
from coffer.core.packages.package_access import in_repo, unique
from coffer.core.packages.package_models import (
    ASSET_NAME_REUSED,
    Asset,
    PackageRef,
    PackageVersion,
    RepoRef,
    name_reused,
)
from coffer.core.packages.package_names import normalize_ref, normalize_version
from coffer.core.packages.package_reads import PackageReads
from coffer.core.packages.package_sources import PackageSource
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError

SETTABLE_STATUSES = ("Published", "Unlisted", "Archived")  # UpdatePackageVersionsStatus targets

# PackageVersionErrorCode values
ALREADY_EXISTS = "ALREADY_EXISTS"
MISMATCHED_REVISION = "MISMATCHED_REVISION"
MISMATCHED_STATUS = "MISMATCHED_STATUS"
NOT_ALLOWED = "NOT_ALLOWED"
NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class VersionsResult:
    """Outcome of a batch status change/delete/dispose/copy, as CodeArtifact reports it."""

    successful: dict[str, tuple[str, str]]  # version -> (revision, new status)
    failed: dict[str, tuple[str, str]]  # version -> (errorCode, errorMessage)


class VersionBatches(PackageReads):
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
        for version, found in self._checked(ref, versions, expected_status, revisions, result):
            if found.status == target:
                result.successful[version] = (found.revision, found.status)
            elif found.status == "Disposed":
                result.failed[version] = (NOT_ALLOWED, "A disposed package version cannot change status")
            else:
                # expected_status=current makes the change atomic against a concurrent one
                change = partial(self._d.store.set_status, ref, found.version, target, found.status)
                self._write(result, version, None, change)
        return result

    def _checked(
        self,
        ref: PackageRef,
        versions: Sequence[str],
        expected_status: str | None,
        revisions: Mapping[str, str] | None,
        result: VersionsResult,
    ) -> Iterator[tuple[str, PackageVersion]]:
        """Each version asked for (once) that passes ``_check``; the others go to ``result.failed``."""
        for version in unique(versions):
            found = self._check(ref, version, expected_status, revisions)
            if isinstance(found, tuple):
                result.failed[version] = found
            else:
                yield version, found

    def _write(
        self, result: VersionsResult, version: str, status: str | None, write: Callable[[], PackageVersion]
    ) -> None:
        """Make one version's change and record its outcome: ``status``, or the version's status after it."""
        try:
            changed = write()
            self._changed()
        except ConflictError:
            result.failed[version] = (MISMATCHED_STATUS, "The status changed concurrently")
        except ResourceNotFoundError:
            result.failed[version] = (NOT_FOUND, f"Package version {version} not found")
        else:
            result.successful[version] = (changed.revision, status or changed.status)

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
        for version, found in self._checked(ref, versions, expected_status, None, result):
            deletion = partial(self._d.store.delete_version, ref, found.version, found.status)
            self._write(result, version, "Deleted", deletion)
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
        shared blobs, so a copy writes rows only. Copies keep status, metadata and origin.

        Without ``include_from_upstream`` only the source repository's own versions are copied (NOT_FOUND for
        the others); with it, a version the source repository reaches through its upstreams is copied too,
        taken from the first source of the search order that has it, the walk stopping where a package blocks
        its upstreams (``PackageReads._package_sources``, the read path's own rule)."""
        src = normalize_ref(source)
        dst = in_repo(src, destination)
        self._authorize_repository(caller, "ReadFromRepository", src.repo)
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
        sources: list[tuple[PackageSource, PackageRef]] = [(self._stored(src.repo), src)]
        if include_from_upstream and src.format != GENERIC:  # generic packages are never read through upstreams
            # versions the upstream repositories hold; what a public registry merely lists (not fetched yet) is
            # held by no repository
            sources = [
                (holder, ref)
                for holder, ref in self._package_sources(src.repo, src.format, src.namespace, src.name)
                if not isinstance(holder, ExternalPackages)
            ]
        result = VersionsResult(successful={}, failed={})
        for version in unique(wanted):
            key = normalize_version(src.format, version)
            origin: tuple[PackageSource, PackageRef, PackageVersion] | None = None
            for holder, ref in sources:
                found = holder.version(ref, key)
                if found is not None:
                    origin = holder, ref, found
                    break
            if origin is None:
                where = "the source repository or its upstreams" if include_from_upstream else "the source repository"
                result.failed[version] = (NOT_FOUND, f"Package version {version} not found in {where}")
                continue
            holder, ref, found = origin
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
            outcome = self._copy_one(holder, ref, found, dst, allow_overwrite)
            if outcome[0] == "ok":
                result.successful[version] = (outcome[1], found.status)
            else:
                result.failed[version] = outcome
        return result

    def _copy_one(
        self, source: PackageSource, src: PackageRef, version: PackageVersion, dst: PackageRef, allow_overwrite: bool
    ) -> tuple[str, str]:
        """("ok", new revision), or (errorCode, errorMessage).

        Every asset goes through ``add_asset``, so the destination's file-name rule holds (a name once used there
        keeps its content: NOT_ALLOWED otherwise); a generic version's through ``add_asset_to_unfinished``, its
        names being its own. An overwrite that would give a file of the version in the
        destination other content is refused before anything is deleted."""
        assets = source.assets(src, version)
        if not assets:
            return NOT_ALLOWED, f"Package version {version.display_version} has no assets to copy"
        existing = self._d.store.get_version(dst, version.version)
        if existing is not None:
            if not allow_overwrite:
                return ALREADY_EXISTS, f"Package version {version.display_version} already exists in the destination"
            current = {a.name: a.blob.sha256 for a in self._d.store.list_assets(dst, existing.version)}
            clash = sorted(a.name for a in assets if current.get(a.name, a.blob.sha256) != a.blob.sha256)
            if clash:
                return NOT_ALLOWED, name_reused(clash[0], dst.repo.name)
            try:
                self._d.store.delete_version(dst, existing.version, existing.status)
                self._changed()
            except (ConflictError, ResourceNotFoundError):
                return ALREADY_EXISTS, "The version in the destination changed concurrently"
        copy = dataclasses.replace(version, package=dst, origin_repository=version.origin_repository or src.repo)
        add: Callable[[PackageVersion, Asset], PackageVersion] = self._d.store.add_asset
        if dst.format == GENERIC:  # asset names belong to their version: built Unfinished, its status set below
            copy = dataclasses.replace(copy, status="Unfinished")
            add = partial(self._d.store.add_asset_to_unfinished, finish=False)
        stored = copy
        try:
            for asset in assets:
                stored = add(copy, asset)
                self._changed()
        except ConflictError as exc:
            if exc.resource_type == ASSET_NAME_REUSED:
                return NOT_ALLOWED, exc.message
            return ALREADY_EXISTS, f"Package version {version.display_version} already exists in the destination"
        if stored.status != version.status:
            stored = self._d.store.set_status(dst, version.version, version.status, None)
            self._changed()
        return "ok", stored.revision
