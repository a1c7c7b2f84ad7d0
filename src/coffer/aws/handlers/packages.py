"""CodeArtifact package operations: params into ``PackageService`` calls, results into the model's output shapes.

``PACKAGE_HANDLERS`` is merged into ``coffer.aws.handlers.codeartifact.HANDLERS``.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import Asset, Dependency, Package, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_names import normalize_name
from coffer.core.packages.version_batches import VersionsResult
from coffer.core.shared.errors import ResourceNotFoundError

if TYPE_CHECKING:
    from coffer.aws.handlers.codeartifact import CodeArtifactServices, Handler, Params, Result

_HEADER_SAFE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c%")
_HEADER_QUOTE_SAFE = "".join(sorted(_HEADER_SAFE))


class BlobBody:
    """A streamed response body of known length: the endpoint sends ``Content-Length`` and then the chunks.
    ``close()`` releases the underlying file when the client goes away early."""

    def __init__(self, chunks: Iterator[bytes], content_length: int) -> None:
        self._chunks = chunks
        self.content_length = content_length

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def header_text(value: str) -> str:
    """A header value any HTTP stack can carry: printable ASCII as it is; anything else (non-ASCII, controls)
    makes the whole value percent-encoded as UTF-8, ``%`` included, so that it decodes unambiguously."""
    if _HEADER_SAFE.issuperset(value):
        return value
    return quote(value, safe=_HEADER_QUOTE_SAFE)


# --- params -----------------------------------------------------------------------------------------------


def _repo(c: Caller, p: Params, name_key: str = "repository") -> RepoRef:
    return RepoRef(domain_owner=p.get("domainOwner") or c.account_id, domain=p["domain"], name=p[name_key])


def _package(c: Caller, p: Params, name_key: str = "repository") -> PackageRef:
    return PackageRef(
        repo=_repo(c, p, name_key), format=p["format"], namespace=p.get("namespace") or None, name=p["package"]
    )


# --- shapes -----------------------------------------------------------------------------------------------


def origin_configuration(pkg: Package) -> Result:
    return {"restrictions": {"publish": pkg.publish, "upstream": pkg.upstream}}


def package_summary(pkg: Package) -> Result:
    return {
        "format": pkg.ref.format,
        "namespace": pkg.ref.namespace,
        "package": pkg.ref.name,
        "originConfiguration": origin_configuration(pkg),
    }


def package_description(pkg: Package) -> Result:
    return {
        "format": pkg.ref.format,
        "namespace": pkg.ref.namespace,
        "name": pkg.ref.name,
        "originConfiguration": origin_configuration(pkg),
    }


def package_dependency(d: Dependency) -> Result:
    return {
        "namespace": d.namespace,
        "package": d.package,
        "dependencyType": d.dependency_type,
        "versionRequirement": d.version_requirement or None,
    }


def version_origin(v: PackageVersion) -> Result:
    if v.origin_external is not None:  # fetched through an external connection
        return {"domainEntryPoint": {"externalConnectionName": v.origin_external}, "originType": "EXTERNAL"}
    entry = v.origin_repository or v.package.repo
    return {"domainEntryPoint": {"repositoryName": entry.name}, "originType": "INTERNAL"}


def version_summary(v: PackageVersion) -> Result:
    return {"version": v.version, "revision": v.revision, "status": v.status, "origin": version_origin(v)}


def version_description(pkg: Package, v: PackageVersion) -> Result:
    return {
        "format": v.package.format,
        "namespace": v.package.namespace,
        "packageName": v.package.name,
        "displayName": pkg.display_name or v.package.name,
        "version": v.version,
        "summary": v.summary,
        "homePage": v.home_page,
        "sourceCodeRepository": v.source_code_repository,
        "publishedTime": v.published_time,
        "licenses": [{"name": name} for name in v.licenses],
        "revision": v.revision,
        "status": v.status,
        "origin": version_origin(v),
    }


def asset_summary(a: Asset) -> Result:
    return {"name": a.name, "size": a.blob.size, "hashes": a.hashes}


def versions_result(r: VersionsResult) -> Result:
    return {
        "successfulVersions": {v: {"revision": rev, "status": status} for v, (rev, status) in r.successful.items()},
        "failedVersions": {v: {"errorCode": code, "errorMessage": msg} for v, (code, msg) in r.failed.items()},
    }


def _version_header(ref: PackageRef, v: PackageVersion) -> Result:
    return {
        "format": ref.format,
        "namespace": ref.namespace,
        "package": v.package.name,
        "version": v.version,
        "versionRevision": v.revision,
    }


# --- handlers ---------------------------------------------------------------------------------------------


def list_packages(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    items, token = s.packages.list_packages(
        c,
        _repo(c, p),
        p.get("format"),
        p.get("namespace"),
        p.get("packagePrefix"),
        p.get("maxResults"),
        p.get("nextToken"),
        publish=p.get("publish"),
        upstream=p.get("upstream"),
    )
    return {"packages": [package_summary(pkg) for pkg in items], "nextToken": token}


def describe_package(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"package": package_description(s.packages.describe_package(c, _package(c, p)))}


def delete_package(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"deletedPackage": package_summary(s.packages.delete_package(c, _package(c, p)))}


def list_package_versions(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    ref = _package(c, p)
    versions, token = s.packages.list_versions(c, ref, p.get("status"), p.get("maxResults"), p.get("nextToken"))
    if p.get("originType") not in (None, "INTERNAL"):
        versions, token = [], None  # every version in Coffer was published to a repository of its domain
    return {
        "defaultDisplayVersion": s.packages.default_display_version(c, ref),
        "format": ref.format,
        "namespace": ref.namespace,
        "package": normalize_name(ref.format, ref.name),
        "versions": [version_summary(v) for v in versions],
        "nextToken": token,
    }


def describe_package_version(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    pkg, version = s.packages.describe_version_detail(c, _package(c, p), p["packageVersion"])
    return {"packageVersion": version_description(pkg, version)}


def list_package_version_assets(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    ref = _package(c, p)
    version, assets, token = s.packages.list_assets_page(
        c, ref, p["packageVersion"], p.get("maxResults"), p.get("nextToken")
    )
    return {**_version_header(ref, version), "assets": [asset_summary(a) for a in assets], "nextToken": token}


def get_package_version_asset(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    version, asset = s.packages.get_asset(c, _package(c, p), p["packageVersion"], p["asset"])
    wanted = p.get("packageVersionRevision")
    if wanted is not None and wanted != version.revision:
        raise ResourceNotFoundError(
            f"Package version {p['packageVersion']} has no revision {wanted}", wanted, "package-version"
        )
    return {
        "asset": BlobBody(s.packages.read_blob(asset.blob.sha256), asset.blob.size),
        "assetName": header_text(asset.name),
        "packageVersion": header_text(version.version),
        "packageVersionRevision": header_text(version.revision),
    }


def get_package_version_readme(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    ref = _package(c, p)
    version = s.packages.get_readme(c, ref, p["packageVersion"])
    return {**_version_header(ref, version), "readme": version.readme}


def publish_package_version(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    """The asset's bytes are ``assetContent``, the request body as it streams (the endpoint's ``StreamedBody``)."""
    ref = _package(c, p)
    version, asset = s.packages.publish_generic(
        c,
        ref,
        p["packageVersion"],
        p["assetName"],
        p["assetSHA256"],
        p["assetContent"],
        unfinished=bool(p.get("unfinished")),
    )
    return {
        "format": ref.format,
        "namespace": ref.namespace,
        "package": ref.name,
        "version": version.display_version,
        "versionRevision": version.revision,
        "status": version.status,
        "asset": asset_summary(asset),
    }


def put_package_origin_configuration(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    restrictions = p["restrictions"]
    pkg = s.packages.put_origin_configuration(c, _package(c, p), restrictions["publish"], restrictions["upstream"])
    return {"originConfiguration": origin_configuration(pkg)}


def list_package_version_dependencies(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    ref = _package(c, p)
    version, dependencies, token = s.packages.list_dependencies(c, ref, p["packageVersion"], p.get("nextToken"))
    return {
        **_version_header(ref, version),
        "dependencies": [package_dependency(d) for d in dependencies],
        "nextToken": token,
    }


def update_package_versions_status(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    result = s.packages.update_status(
        c,
        _package(c, p),
        list(p["versions"]),
        p["targetStatus"],
        p.get("expectedStatus"),
        version_revisions=p.get("versionRevisions"),
    )
    return versions_result(result)


def delete_package_versions(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    result = s.packages.delete_versions(c, _package(c, p), list(p["versions"]), p.get("expectedStatus"))
    return versions_result(result)


def dispose_package_versions(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    result = s.packages.dispose_versions(
        c,
        _package(c, p),
        list(p["versions"]),
        p.get("expectedStatus"),
        version_revisions=p.get("versionRevisions"),
    )
    return versions_result(result)


def copy_package_versions(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    result = s.packages.copy_versions(
        c,
        _package(c, p, "sourceRepository"),
        _repo(c, p, "destinationRepository"),
        list(p.get("versions") or ()),
        bool(p.get("allowOverwrite")),
        bool(p.get("includeFromUpstream")),
        version_revisions=p.get("versionRevisions"),
    )
    return versions_result(result)


PACKAGE_HANDLERS: dict[str, Handler] = {
    "ListPackages": list_packages,
    "DescribePackage": describe_package,
    "PutPackageOriginConfiguration": put_package_origin_configuration,
    "DeletePackage": delete_package,
    "ListPackageVersions": list_package_versions,
    "DescribePackageVersion": describe_package_version,
    "ListPackageVersionAssets": list_package_version_assets,
    "GetPackageVersionAsset": get_package_version_asset,
    "GetPackageVersionReadme": get_package_version_readme,
    "PublishPackageVersion": publish_package_version,
    "ListPackageVersionDependencies": list_package_version_dependencies,
    "UpdatePackageVersionsStatus": update_package_versions_status,
    "DeletePackageVersions": delete_package_versions,
    "DisposePackageVersions": dispose_package_versions,
    "CopyPackageVersions": copy_package_versions,
}
