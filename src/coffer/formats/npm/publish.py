"""``npm publish`` and the other writes of a packument (``npm deprecate``), as ``PUT /<name>``.

A publish sends the packument of the new version: ``name``, ``versions`` (the one version published, its
manifest), ``dist-tags`` (the tag it gets: ``latest`` or ``--tag``) and ``_attachments`` (the tarball, base64).
What is checked, before anything is visible:

- the name in the body is the name in the URL, the version is semver, the manifest names both;
- exactly one version and one attachment, whose decoded size is its announced ``length`` and at most the
  server's file size limit;
- the tarball's SHA-512 and SHA-1 are what the manifest's ``dist.integrity`` and ``dist.shasum`` say, and its
  own ``package.json`` names the same package and version;
- the package's origin controls and package groups allow publishing, as for every format
  (``PackageService.publish``).

The same version twice is a 409 (``You cannot publish over the previously published versions``), as npm's
registry words it. A PUT without ``_attachments`` is a metadata update: Coffer applies the versions'
``deprecated`` fields (``npm deprecate``) and ignores the rest, which the registry owns; one whose ``_rev`` is not
the packument's current one (``packument.revision``: another write came between its read and its write) is a 409,
so that two deprecations at once never undo each other.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from coffer.core.identity.callers import Caller
from coffer.core.packages.npm_manifest import npm_version, sri_digests, with_packed_fields
from coffer.core.packages.npm_names import NpmName, clean_version, tarball_name
from coffer.core.packages.npm_tarball import TarballError, read_tarball
from coffer.core.packages.package_models import ASSET_NAME_REUSED, Asset, PackageRef, package_label
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_store import PendingBlob
from coffer.core.packages.package_tagging import check_tag
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ConflictError, ValidationError
from coffer.formats.npm.packument import revision
from coffer.formats.npm.replies import reply


def _invalid(message: str) -> ValidationError:
    return ValidationError(message)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{what} must be a JSON object")
    return value


class NpmPublisher:
    def __init__(self, packages: PackageService, clock: Clock) -> None:
        self._packages = packages
        self._clock = clock

    def put(
        self, caller: Caller, ref: PackageRef, name: NpmName, body: bytes, tarball: PendingBlob | None, size: int
    ) -> Response:
        """The PUT of a packument (see the module's description): ``body`` is the document without the
        attachment's data, which ``publish_body.PublishBodyReader`` wrote to ``tarball`` (``size`` bytes, not
        kept yet). Raises ``CofferError``s for refusals."""
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise _invalid("The request body is not JSON") from None
        doc = _object(doc, "The request body")
        if doc.get("name", name.full) != name.full:
            raise _invalid(f"The package name in the body ({doc.get('name')!r}) is not {name.full!r}, as in the URL")
        versions = _object(doc.get("versions", {}), "versions")
        if "_attachments" not in doc:
            return self._update(caller, ref, versions, doc.get("_rev"))
        if tarball is None:
            raise _invalid("The attachment has no base64 data")
        return self._publish(caller, ref, name, doc, versions, tarball, size)

    # --- npm deprecate ----------------------------------------------------------------------------------------

    def _update(self, caller: Caller, ref: PackageRef, versions: dict[str, Any], rev: object) -> Response:
        if isinstance(rev, str):
            current = revision(self._packages.package_view(ref.repo, "npm", ref.namespace, ref.name))
            if rev != current:
                raise ConflictError(
                    f"{package_label(ref)} changed since it was read (revision {rev}, now {current}): nothing was "
                    "changed; run the command again",
                    ref.name,
                    "package",
                )
        messages: dict[str, str | None] = {}
        for number, manifest in versions.items():
            if isinstance(manifest, dict):
                deprecated = manifest.get("deprecated")
                messages[number] = deprecated if isinstance(deprecated, str) and deprecated else None
        changed = self._packages.set_deprecations(caller, ref, messages)
        return reply({"ok": True, "changed": changed})

    # --- npm publish ------------------------------------------------------------------------------------------

    def _publish(
        self,
        caller: Caller,
        ref: PackageRef,
        name: NpmName,
        doc: dict[str, Any],
        versions: dict[str, Any],
        pending: PendingBlob,
        size: int,
    ) -> Response:
        if len(versions) != 1:
            raise _invalid(f"A publish carries exactly one version; this one has {len(versions)}")
        ((number, manifest_value),) = versions.items()
        if clean_version(number) != number:
            raise _invalid(f"Version {number!r} is not a valid semver version")
        manifest = _object(manifest_value, f"versions[{number!r}]")
        if manifest.get("name") != name.full or manifest.get("version") != number:
            raise _invalid(f"The manifest of {number} names {manifest.get('name')}@{manifest.get('version')}")
        self._check_attachment(_object(doc["_attachments"], "_attachments"), size)
        tags = [t for t, v in _object(doc.get("dist-tags", {}), "dist-tags").items() if v == number]
        for tag in tags:
            check_tag(tag)  # before anything is published: a refused tag refuses the publish
        now = self._clock()
        info = pending.finish()
        self._check_digests(manifest, info.sha512, info.sha1)
        try:
            with pending.open() as file:
                contents = read_tarball(file)
        except TarballError as exc:
            raise _invalid(f"The attachment is not an npm tarball: {exc}") from None
        packed = (contents.manifest.get("name"), contents.manifest.get("version"))
        if packed != (name.full, number):
            raise _invalid(f"The tarball's package.json names {packed[0]}@{packed[1]}, not {name.full}@{number}")
        blob = pending.keep()
        readme = contents.readme or (doc.get("readme") if isinstance(doc.get("readme"), str) else "") or ""
        kept = with_packed_fields(manifest, contents.manifest)
        version = npm_version(ref, number, kept, when=now, readme=readme, origin_repository=ref.repo)
        asset = Asset(name=tarball_name(name.name, number), blob=blob, created_at=now)
        try:
            self._packages.publish(caller, version, asset)
        except ConflictError as exc:
            if exc.resource_type in ("asset", ASSET_NAME_REUSED):
                raise ConflictError(
                    f"You cannot publish over the previously published versions: {number}.", number, "package-version"
                ) from None
            raise
        for tag in tags:
            self._packages.set_tag(caller, ref, tag, number)
        return reply({"ok": True, "id": name.full, "version": number}, status=201)

    @staticmethod
    def _check_attachment(attachments: dict[str, Any], size: int) -> None:
        if len(attachments) != 1:
            raise _invalid(f"A publish carries exactly one attachment; this one has {len(attachments)}")
        ((filename, value),) = attachments.items()
        entry = _object(value, f"_attachments[{filename!r}]")
        length = entry.get("length")
        if length is not None and length != size:
            raise _invalid(f"The attachment is {size} bytes, not the {length} its length says")

    @staticmethod
    def _check_digests(manifest: dict[str, Any], sha512: str, sha1: str) -> None:
        dist = manifest.get("dist")
        if not isinstance(dist, dict):
            return
        integrity = dist.get("integrity")
        if isinstance(integrity, str):
            try:
                announced = sri_digests(integrity, strict=True)
            except ValueError as exc:
                raise _invalid(str(exc)) from None
            if announced.get("sha512", sha512) != sha512 or announced.get("sha1", sha1) != sha1:
                raise _invalid("The tarball does not match the manifest's dist.integrity: it was not stored")
        shasum = dist.get("shasum")
        if isinstance(shasum, str) and shasum.lower() != sha1:
            raise _invalid("The tarball does not match the manifest's dist.shasum: it was not stored")
