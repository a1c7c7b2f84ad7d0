"""An npm version's manifest (its ``package.json`` as the registry keeps it) and what the package core takes
from it.

A version of an npm package keeps its manifest in ``PackageVersion.extra[MANIFEST_KEY]`` as JSON, without the
fields the registry owns (``dist``, ``_id``, ``readme``, ``_attachments`` ...): the packument (``dist`` from the
stored tarball) and the package APIs are rendered from it. ``DEPRECATED_KEY`` holds the deprecation message
(``npm deprecate``) apart, so that deprecating rewrites one key, not the manifest.

The same functions serve a published version (``formats/npm`` publish), a version a public registry lists
(``upstreams/npm_registry``) and a fetched one (``package_fetching``), so the three agree.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from coffer.core.packages.npm_names import parse_name
from coffer.core.packages.package_models import Dependency, PackageRef, PackageVersion, RepoRef

MANIFEST_KEY = "npm:manifest"
DEPRECATED_KEY = "npm:deprecated"

#: fields the registry writes (or that only the publish request carries): never kept in the manifest
_REGISTRY_FIELDS = frozenset({"dist", "_id", "_rev", "readme", "readmeFilename", "_attachments", "deprecated"})

#: the fields of the abbreviated ("corgi") document, as the npm registry serves them
ABBREVIATED_FIELDS = (
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "engines",
    "cpu",
    "os",
    "libc",
    "funding",
    "license",
    "_hasShrinkwrap",
    "hasInstallScript",
)

#: ListPackageVersionDependencies: the manifest's dependency maps and CodeArtifact's type for each
DEPENDENCY_TYPES = (
    ("dependencies", "regular"),
    ("devDependencies", "dev"),
    ("peerDependencies", "peer"),
    ("optionalDependencies", "optional"),
)

_INSTALL_SCRIPTS = ("preinstall", "install", "postinstall")


def sri_digests(integrity: object, *, strict: bool = False) -> dict[str, str]:
    """The hex digests of a Subresource Integrity string (``dist.integrity``: ``sha512-<base64> sha1-<base64>``)
    by algorithm, the first of each. Items that are not base64 are skipped, or with ``strict`` a ValueError."""
    found: dict[str, str] = {}
    if not isinstance(integrity, str):
        return found
    for item in integrity.split():
        algorithm, sep, value = item.partition("-")
        if not sep or algorithm in found:
            continue
        try:
            found[algorithm] = base64.b64decode(value.partition("?")[0], validate=True).hex()
        except (binascii.Error, ValueError):
            if strict:
                raise ValueError(f"dist.integrity {item!r} is not valid base64") from None
    return found


#: the fields of a manifest that decide what installing a version does: a publish takes them from the tarball's
#: own package.json (what is installed), not from the document sent beside it
INSTALL_FIELDS = (
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bundleDependencies",
    "bundledDependencies",
    "bin",
    "os",
    "cpu",
    "libc",
    "engines",
)


def with_packed_fields(manifest: Mapping[str, Any], packed: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` (sent with a publish) with the install fields of ``packed`` (the tarball's package.json), and
    ``hasInstallScript`` when either declares install scripts: a packument never hides a dependency or an
    install script the tarball has ("manifest confusion")."""
    merged = {k: v for k, v in manifest.items() if k not in INSTALL_FIELDS}
    merged.update((k, packed[k]) for k in INSTALL_FIELDS if k in packed)
    for source in (manifest, packed):
        scripts = source.get("scripts")
        if isinstance(scripts, dict) and any(s in scripts for s in _INSTALL_SCRIPTS):
            merged["hasInstallScript"] = True
    return merged


def stored_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as a version keeps it: without the registry's fields, and with ``hasInstallScript`` set
    when it has install scripts (the abbreviated document tells installers so)."""
    kept = {k: v for k, v in manifest.items() if k not in _REGISTRY_FIELDS}
    scripts = kept.get("scripts")
    if isinstance(scripts, dict) and any(s in scripts for s in _INSTALL_SCRIPTS):
        kept.setdefault("hasInstallScript", True)
    return kept


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _repository_url(value: object) -> str:
    if isinstance(value, dict):
        return _text(value.get("url"))
    return _text(value)


def _licenses(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    value = manifest.get("license")
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return (value["type"],)
    legacy = manifest.get("licenses")
    if isinstance(legacy, list):
        return tuple(x["type"] for x in legacy if isinstance(x, dict) and isinstance(x.get("type"), str))
    return ()


def npm_version(
    ref: PackageRef,
    version: str,
    manifest: Mapping[str, Any],
    *,
    when: float,
    readme: str = "",
    deprecated: str | None = None,
    origin_repository: RepoRef | None,
    origin_external: str | None = None,
) -> PackageVersion:
    """The ``PackageVersion`` of one npm version: the package APIs' fields from its manifest (description,
    homepage, repository, license), the manifest itself in ``extra``."""
    kept = stored_manifest(manifest)
    extra = {MANIFEST_KEY: json.dumps(kept, separators=(",", ":"), ensure_ascii=False)}
    if deprecated:
        extra[DEPRECATED_KEY] = deprecated
    return PackageVersion(
        package=ref,
        version=version,
        display_version=version,
        status="Published",
        revision="",
        published_time=when,
        summary=_text(kept.get("description")),
        home_page=_text(kept.get("homepage")),
        source_code_repository=_repository_url(kept.get("repository")),
        licenses=_licenses(kept),
        readme=readme,
        readme_content_type="text/markdown" if readme else "",
        origin_repository=origin_repository,
        origin_external=origin_external,
        extra=extra,
    )


def manifest_of(version: PackageVersion) -> dict[str, Any]:
    """The version's manifest (name and version always set), with its deprecation message if any."""
    raw = version.extra.get(MANIFEST_KEY)
    manifest: dict[str, Any] = {}
    if raw:
        try:
            loaded = json.loads(raw)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            manifest = loaded
    ref = version.package
    manifest["name"] = f"@{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    manifest["version"] = version.version
    deprecated = version.extra.get(DEPRECATED_KEY)
    if deprecated:
        manifest["deprecated"] = deprecated
    return manifest


def dependencies(version: PackageVersion) -> list[Dependency]:
    """The direct dependencies the manifest names, map by map (regular, dev, peer, optional), each in the
    order the manifest gives. A dependency on a scoped package carries its scope as the namespace."""
    manifest = manifest_of(version)
    found: list[Dependency] = []
    for field, kind in DEPENDENCY_TYPES:
        deps = manifest.get(field)
        if not isinstance(deps, dict):
            continue
        for name, requirement in deps.items():
            parsed = parse_name(name, legacy=True) if isinstance(name, str) else None
            if parsed is None:
                continue
            found.append(
                Dependency(
                    package=parsed.name,
                    namespace=parsed.scope,
                    dependency_type=kind,
                    version_requirement=requirement if isinstance(requirement, str) else "",
                )
            )
    return found
