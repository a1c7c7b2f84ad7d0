"""PublishPackageVersion: a generic package version built asset by asset, each asset's bytes streamed into the blob
store and checked against the SHA-256 the caller declared.

Everything that can refuse the call is decided before the first byte of the asset is read: the format (generic
only, with a namespace) and the asset's name (``generic_names``), the caller's ``PublishPackageVersion`` on the
package, the repository, the package's origin configuration and its package group's PUBLISH control (the rules
twine's uploads obey, from ``PackagePublishing``), and what the version holds already. Then the bytes are written
into a pending blob (``begin_blob``), hashed as they pass; a SHA-256 other than the one declared is a
ValidationError and leaves nothing behind, and so does a body cut short or over the size limit (the iterable
raises). Only then is the blob kept and the asset added, in one transaction
(``PackageStore.add_asset_to_unfinished``), which checks the version again.

The rules, AWS's where its documentation gives them:

- The first call creates the version: ``Published``, or ``Unfinished`` with ``unfinished``. An Unfinished version
  takes more assets, each a new name; the first call without ``unfinished`` makes it Published (so does
  UpdatePackageVersionsStatus), and a Published version never goes back to Unfinished.
- A version that is not Unfinished takes no asset: ConflictError (resource type "package-version").
- An asset name the version holds with other bytes: ConflictError (resource type "asset"), known from the declared
  SHA-256 before the body is read. The same bytes under the same name again is not an error but a no-op (the
  retry of a call whose answer was lost), as long as the call asks for what is already so: on an Unfinished
  version it may finish it; on a Published version only the call without ``unfinished`` repeats (with it, the
  version would have to go back to Unfinished: ConflictError).
- Generic packages are never read through upstreams, so a version an upstream holds is no conflict (the check
  PyPI publishing makes with upstream=ALLOW does not apply).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from coffer.core.identity.callers import Caller
from coffer.core.packages.generic_names import GENERIC, check_asset_name
from coffer.core.packages.package_models import Asset, PackageRef, PackageVersion, package_label
from coffer.core.packages.package_names import normalize_ref, normalize_version
from coffer.core.packages.package_publishing import PackagePublishing
from coffer.core.shared.errors import ConflictError, ValidationError

UNFINISHED = "Unfinished"
PUBLISHED = "Published"


def _check_input(ref: PackageRef) -> None:
    if ref.format != GENERIC:
        raise ValidationError(
            f"1 validation error detected: Value '{ref.format}' at 'format' failed to satisfy constraint: Member must "
            f"satisfy enum value set: [{GENERIC}] (PublishPackageVersion publishes generic packages only)"
        )
    if not ref.namespace:
        raise ValidationError(
            "1 validation error detected: Value null at 'namespace' failed to satisfy constraint: Member must not be "
            "null (a generic package has a namespace)"
        )


class GenericPublishing(PackagePublishing):
    def publish_generic(
        self,
        caller: Caller,
        package: PackageRef,
        version: str,
        asset_name: str,
        asset_sha256: str,
        content: Iterable[bytes],
        *,
        unfinished: bool = False,
    ) -> tuple[PackageVersion, Asset]:
        """PublishPackageVersion: add the asset ``asset_name``, whose bytes ``content`` yields and whose SHA-256
        the caller declares as ``asset_sha256`` (lower-case hex), to ``version`` of the generic ``package``,
        creating package and version as needed. ``content`` is iterated only once every check has passed (see
        the module's docstring for the rules); an error it raises (a size limit, a client gone) stops the publish
        with nothing kept. Returns the version as stored and the asset as the version holds it."""
        ref = normalize_ref(package)
        _check_input(ref)
        check_asset_name(asset_name)
        self.authorize_publish(caller, ref)
        self._require_repository(ref.repo)
        number = normalize_version(ref.format, version)
        # never read through upstreams: what an upstream holds is no conflict (new_version=False skips that check)
        self._check_origin(self._d.store.get_package(ref), number, new_version=False)
        self._check_group_publish(ref)
        existing = self._d.store.get_version(ref, number)
        held: Asset | None = None
        repeat: tuple[PackageVersion, Asset] | None = None  # the repeat of a call that published the version
        if existing is not None:
            held = next((a for a in self._d.store.list_assets(ref, number) if a.name == asset_name), None)
            self._check_addition(ref, existing, held, asset_sha256, unfinished)
            if existing.status != UNFINISHED and held is not None:
                repeat = existing, held
        with self.begin_blob() as pending:
            for block in content:
                pending.write(block)
            info = pending.finish()
            if not hmac.compare_digest(info.sha256, asset_sha256):
                raise ValidationError(
                    f"The SHA-256 of the asset content received ({info.sha256}) does not match assetSHA256 "
                    f"({asset_sha256}): nothing was published"
                )
            if repeat is not None:
                return repeat
            blob = pending.keep()
        now = self._d.clock()
        new = PackageVersion(
            package=ref,
            version=number,
            display_version=version,
            status=UNFINISHED if unfinished else PUBLISHED,
            revision="",
            published_time=now,
            origin_repository=ref.repo,
        )
        asset = Asset(name=asset_name, blob=blob, created_at=now)
        stored = self._d.store.add_asset_to_unfinished(new, asset, finish=not unfinished)
        self._changed()
        return stored, held or asset

    def _check_addition(
        self, ref: PackageRef, existing: PackageVersion, held: Asset | None, sha256: str, unfinished: bool
    ) -> None:
        """ConflictError unless ``existing`` may take the asset (``held``: the one of that name it has already)."""
        label = package_label(ref)
        if held is not None and held.blob.sha256 != sha256:
            raise ConflictError(
                f"Asset {held.name} of package version {existing.display_version} of {label} already exists with "
                "other content; an asset, once published, keeps its content (publish a new version instead)",
                held.name,
                "asset",
            )
        if existing.status == UNFINISHED:
            return
        if existing.status == PUBLISHED and held is not None and not unfinished:
            return  # the same asset again, asking for what is so: a no-op
        why = (
            "a Published version cannot go back to Unfinished"
            if existing.status == PUBLISHED and held is not None
            else "assets can be added only to an Unfinished version (every call but the last sets unfinished)"
        )
        raise ConflictError(
            f"Package version {existing.display_version} of {label} is {existing.status}: {why}",
            existing.display_version,
            "package-version",
        )
