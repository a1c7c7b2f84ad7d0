"""Packuments: the JSON document npm reads for a package, rendered from a ``PackageView``.

Two shapes, as the npm registry serves them:

- **full** (``Accept: application/json``): ``_id``, ``name``, ``dist-tags``, every version's whole manifest with
  its ``dist``, the ``time`` map (``created``, ``modified`` and one entry per version: release-age gates need
  it), and the package's description, README and links from the latest version;
- **abbreviated** (``Accept: application/vnd.npm.install-v1+json``, what ``npm install`` asks for): ``name``,
  ``modified``, ``dist-tags`` and per version only the fields installers use (``npm_manifest.ABBREVIATED_FIELDS``)
  plus ``dist``. A packument of thousands of versions shrinks to a fraction.

``dist.tarball`` lies under the registry's own path (npm sends the token only to URLs under it), ``dist.shasum``
is the tarball's SHA-1 and ``dist.integrity`` its ``sha512-<base64>`` (left out for a public tarball whose
registry announced a SHA-1 only). ``latest`` always names a version: the tag when it is set, else the highest
release (pre-releases only when there is nothing else).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any
from urllib.parse import quote

from coffer.core.packages.npm_manifest import ABBREVIATED_FIELDS, DEPRECATED_KEY, MANIFEST_KEY, manifest_of
from coffer.core.packages.npm_names import is_prerelease, semver_key
from coffer.core.packages.package_models import Asset, PackageView, ResolvedVersion

#: the media types of the two shapes
ABBREVIATED = "application/vnd.npm.install-v1+json"
FULL = "application/json"

#: package-level fields of the full document, taken from the latest version's manifest
_TOP_LEVEL = ("description", "homepage", "repository", "bugs", "license", "keywords", "author", "maintainers")


def wants_abbreviated(accept: str | None) -> bool:
    """Whether the ``Accept`` header prefers the abbreviated document (npm: ``application/vnd.npm.install-v1+json;
    q=1.0, application/json; q=0.8, */*``). The full document otherwise, as the npm registry does."""
    if not accept or ABBREVIATED not in accept:
        return False
    best_abbreviated, best_full = 0.0, 0.0
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media == ABBREVIATED:
            best_abbreviated = max(best_abbreviated, q)
        elif media in (FULL, "*/*", "application/*"):
            best_full = max(best_full, q)
    return best_abbreviated > 0 and best_abbreviated >= best_full


def iso(epoch: float) -> str:
    """An instant as the registry writes it: ``2024-01-02T03:04:05.678Z``."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _tarball(resolved: ResolvedVersion) -> Asset | None:
    return next((a for a in resolved.assets if a.name.endswith(".tgz")), None)


def _dist(asset: Asset, tarball_base: str) -> dict[str, str]:
    dist = {"tarball": tarball_base + quote(asset.name)}
    if asset.blob.sha1:
        dist["shasum"] = asset.blob.sha1
    if asset.blob.sha512:
        dist["integrity"] = "sha512-" + base64.b64encode(bytes.fromhex(asset.blob.sha512)).decode("ascii")
    return dist


def _entry(
    manifest: dict[str, Any], asset: Asset, name: str, tarball_base: str, *, abbreviated: bool
) -> dict[str, Any]:
    entry = {k: manifest[k] for k in ABBREVIATED_FIELDS if k in manifest} if abbreviated else dict(manifest)
    if not abbreviated:
        entry["_id"] = f"{name}@{manifest['version']}"
    entry["dist"] = _dist(asset, tarball_base)
    return entry


def version_document(view: PackageView, name: str, tarball_base: str, wanted: str) -> dict[str, Any] | None:
    """One version's full manifest with its ``dist`` (``GET /<name>/<version or tag>``); None if absent."""
    number = tags_of(view).get(wanted, wanted)
    for resolved in view.versions:
        if resolved.version.version == number:
            asset = _tarball(resolved)
            if asset is None:
                return None
            return _entry(manifest_of(resolved.version), asset, name, tarball_base, abbreviated=False)
    return None


def latest_version(versions: list[str]) -> str | None:
    """The version ``latest`` names when no tag says: the highest release, else the highest pre-release."""
    releases = [v for v in versions if not is_prerelease(v)]
    pool = releases or versions
    return max(pool, key=semver_key) if pool else None


def tags_of(view: PackageView) -> dict[str, str]:
    """The view's tags with ``latest`` always set (when there is a version at all)."""
    tags = dict(view.tags)
    if "latest" not in tags:
        latest = latest_version([v.version.version for v in view.versions])
        if latest is not None:
            tags["latest"] = latest
    return tags


def document(view: PackageView, name: str, tarball_base: str, *, abbreviated: bool) -> dict[str, Any]:
    """The packument of package ``name`` (``@scope/name`` or ``name``); ``tarball_base`` is the absolute URL the
    tarballs' names are appended to. Versions without a tarball are left out."""
    versions: dict[str, Any] = {}
    times: dict[str, str] = {}
    manifests: dict[str, dict[str, Any]] = {}
    by_number: dict[str, ResolvedVersion] = {}
    for resolved in view.versions:
        asset = _tarball(resolved)
        if asset is None:
            continue
        number = resolved.version.version
        manifest = manifest_of(resolved.version)
        manifests[number] = manifest
        by_number[number] = resolved
        versions[number] = _entry(manifest, asset, name, tarball_base, abbreviated=abbreviated)
        times[number] = iso(resolved.version.published_time)
    tags = {t: v for t, v in tags_of(view).items() if v in versions}
    modified = iso(max((r.version.published_time for r in by_number.values()), default=0.0))
    if abbreviated:
        return {"name": name, "modified": modified, "dist-tags": tags, "versions": versions}
    doc: dict[str, Any] = {"_id": name, "_rev": revision(view), "name": name, "dist-tags": tags, "versions": versions}
    created = min((r.version.published_time for r in by_number.values()), default=0.0)
    doc["time"] = {"created": iso(created), "modified": modified, **times}
    latest = tags.get("latest")
    if latest is not None:
        manifest = manifests[latest]
        doc.update((k, manifest[k]) for k in _TOP_LEVEL if k in manifest)
        readme = by_number[latest].version.readme
        if readme:
            doc["readme"] = readme
    return doc


def revision(view: PackageView) -> str:
    """The full packument's ``_rev``: it changes whenever a version is added, removed or changed (its revision,
    its deprecation). A write of the document read (``npm deprecate`` sends it back) carries it, so that a write
    based on a stale read is refused instead of undoing another's change."""
    digest = hashlib.sha256()
    for r in view.versions:
        v = r.version
        digest.update(f"{v.version}\0{v.revision}\0{v.extra.get(DEPRECATED_KEY) or ''}\n".encode())
    return "1-" + digest.hexdigest()[:32]


def fingerprint(view: PackageView) -> tuple[object, ...]:
    """What the packument of ``view`` depends on, cheap to compute and compare: each version's number, revision,
    manifest (by hash: Python keeps a string's hash, so the registry's cached manifests cost nothing the second
    time), deprecation, time and files, and the tags. Two views with equal fingerprints render the same bytes, so a
    view reloaded by the read path's cache does not cost a new rendering."""
    versions = tuple(
        (
            r.version.version,
            r.version.revision,
            hash(r.version.extra.get(MANIFEST_KEY, "")),
            r.version.extra.get(DEPRECATED_KEY),
            r.version.published_time,
            hash(r.version.readme),
            tuple((a.name, a.blob.sha256, a.blob.sha512, a.blob.sha1) for a in r.assets),
        )
        for r in view.versions
    )
    return versions, tuple(sorted(view.tags.items()))


def render(view: PackageView, name: str, tarball_base: str, *, abbreviated: bool) -> bytes:
    """``document`` as compact UTF-8 JSON."""
    return json.dumps(
        document(view, name, tarball_base, abbreviated=abbreviated), separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
