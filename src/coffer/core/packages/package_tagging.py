"""Changes to published versions that are not new files: tags (npm's dist-tags) and the version fields a format
keeps in ``PackageVersion.extra`` (npm's deprecation messages). Authorized as publishing the package
(``codeartifact:PublishPackageVersion``), as CodeArtifact authorizes ``npm dist-tag`` and ``npm deprecate``.

Both act on the repository itself: a tag can only name a version the repository holds, and a version only its
upstreams have cannot be changed here (AWS's rule for every write).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from coffer.core.identity.callers import Caller
from coffer.core.packages.npm_manifest import DEPRECATED_KEY
from coffer.core.packages.npm_names import clean_version
from coffer.core.packages.package_access import PackageAccess
from coffer.core.packages.package_models import PackageRef, PackageVersion
from coffer.core.packages.package_names import normalize_ref
from coffer.core.shared.errors import ValidationError

MAX_TAG_LENGTH = 255
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*", re.ASCII)


def check_tag(tag: str) -> None:
    """ValidationError unless ``tag`` is a usable tag name: URL-safe, and not itself a version (npm would read
    ``npm install pkg@1.0.0`` as the version)."""
    if not _TAG.fullmatch(tag) or len(tag) > MAX_TAG_LENGTH:
        raise ValidationError(
            f"Tag {tag!r} is not valid: use letters, digits and ._~- (starting with a letter or digit), at most "
            f"{MAX_TAG_LENGTH} characters"
        )
    if clean_version(tag) is not None:
        raise ValidationError(f"Tag {tag!r} is not valid: a tag must not be a version")


class PackageTagging(PackageAccess):
    def set_tag(self, caller: Caller, package: PackageRef, tag: str, version: str) -> PackageVersion:
        """Point ``tag`` at ``version`` of the package in its repository; returns that version.
        ResourceNotFoundError if the repository does not hold it."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "PublishPackageVersion", ref)
        check_tag(tag)
        found = self._require_version(ref, version)
        self._d.store.set_package_tag(ref, tag, found.version)
        self._changed()
        return found

    def delete_tag(self, caller: Caller, package: PackageRef, tag: str) -> bool:
        """Remove the tag from the package in its repository; False if it had none of that name."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "PublishPackageVersion", ref)
        self._require_package(ref)
        removed = self._d.store.delete_package_tag(ref, tag)
        self._changed()
        return removed

    def set_deprecations(self, caller: Caller, package: PackageRef, messages: Mapping[str, str | None]) -> list[str]:
        """npm's deprecate/undeprecate: for each version of ``messages`` the repository holds, its deprecation
        message (None or "": none) where it differs from the stored one. Versions the repository does not hold
        (its upstreams' versions) are left alone. Returns the versions changed."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "PublishPackageVersion", ref)
        self._require_package(ref)
        changed: list[str] = []
        for version in self._stored(ref.repo).versions(ref):
            if version.version not in messages:
                continue
            wanted = messages[version.version] or None
            if version.extra.get(DEPRECATED_KEY) != wanted:
                self._d.store.update_version_extra(ref, version.version, {DEPRECATED_KEY: wanted})
                changed.append(version.version)
        if changed:
            self._changed()
        return changed
