"""A client of any npm registry: registry.npmjs.org, a mirror (Verdaccio, Artifactory, Nexus) or another Coffer.

- A package is asked for by its full name (``left-pad``, ``@scope/name``, sent as ``@scope%2fname`` as npm
  does), as ``application/json``: the full packument, not the abbreviated one, because the versions keep their
  whole manifests and the ``time`` map (release-age gates need it). Packuments of tens of MB are normal: one is
  read to at most ``MAX_PACKUMENT_BYTES``.
- It is parsed to an ``UpstreamProject`` (``parse_packument``): a tarball per version, named as npm names it
  (``npm_names.tarball_name``), at ``dist.tarball`` (a relative URL resolved against the registry), with the
  SHA-512 of ``dist.integrity`` (an SRI string) and the SHA-1 of ``dist.shasum``, uploaded at ``time[version]``;
  the dist-tags that point at a listed version; per version the manifest as a version keeps it
  (``npm_manifest.stored_manifest``) and its deprecation message. Versions that are not semver as npm publishes
  them, or whose tarball has neither digest, are left out.
- Credentials in the registry URL go to the registry's own origin only: ``https://user:secret@host/`` as HTTP
  Basic, ``https://:TOKEN@host/`` (no user name) as ``Authorization: Bearer TOKEN`` (npm's ``_authToken``).
  Timeouts, size limits and where tarballs may be fetched from are every client's (``http_index``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from coffer.core.packages.npm_manifest import DEPRECATED_KEY, MANIFEST_KEY, sri_digests, stored_manifest
from coffer.core.packages.npm_names import clean_version, tarball_name
from coffer.core.packages.upstreams import UpstreamFile, UpstreamProject, UpstreamUnavailableError
from coffer.upstreams.http_index import HttpIndex, hex_digest, iso_timestamp

MAX_PACKUMENT_BYTES = 200 * 1024 * 1024  # the largest public packuments are some tens of MB
_ACCEPT = "application/json"  # the full packument (npm's install Accept would get the abbreviated one)
#: one part of a name as the registry may hold it: today's rules, and the capitals of packages published before
#: names had to be lower case (``JSONStream``); never a path step (``.``, ``..``) or a ``/``
_NAME_PART = re.compile(r"[A-Za-z0-9~-][A-Za-z0-9._~-]*", re.ASCII)


def request_path(name: str) -> str | None:
    """The path of the package's packument under the registry URL (``@scope%2fname`` for a scoped name); None
    for a name no registry can hold."""
    scope, sep, rest = name[1:].partition("/") if name.startswith("@") else (None, "", name)
    if scope is not None and (not sep or not _NAME_PART.fullmatch(scope)):
        return None
    if not _NAME_PART.fullmatch(rest):
        return None
    return f"@{scope}%2f{rest}" if scope is not None else rest


def _file(
    unscoped: str, number: object, manifest: object, registry_url: str, times: Mapping[str, Any]
) -> UpstreamFile | None:
    if not isinstance(number, str) or clean_version(number) != number or not isinstance(manifest, dict):
        return None
    dist = manifest.get("dist")
    if not isinstance(dist, dict) or not isinstance(dist.get("tarball"), str) or not dist["tarball"]:
        return None
    try:
        url = urljoin(registry_url, dist["tarball"])
    except ValueError:
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    sri = sri_digests(dist.get("integrity"))
    sha512 = hex_digest(sri.get("sha512"), 128) or ""
    sha1 = hex_digest(dist.get("shasum"), 40) or hex_digest(sri.get("sha1"), 40) or ""
    if not sha512 and not sha1:
        return None
    return UpstreamFile(
        filename=tarball_name(unscoped, number),
        url=url,
        version=number,
        sha256="",
        sha512=sha512,
        sha1=sha1,
        upload_time=iso_timestamp(times.get(number)),
    )


def _version_extra(manifest: Mapping[str, Any]) -> dict[str, str]:
    """What a version keeps in ``PackageVersion.extra``: the manifest as ``npm_manifest.npm_version`` stores it,
    and the deprecation message when there is one."""
    extra = {MANIFEST_KEY: json.dumps(stored_manifest(manifest), separators=(",", ":"), ensure_ascii=False)}
    deprecated = manifest.get("deprecated")
    if isinstance(deprecated, str) and deprecated:
        extra[DEPRECATED_KEY] = deprecated
    return extra


def parse_packument(
    name: str, registry_url: str, body: bytes, *, may_fetch: Callable[[str], bool] | None = None
) -> UpstreamProject:
    """The project of the full packument ``body`` of package ``name`` (its full name), tarball URLs resolved
    against ``registry_url``; ``may_fetch`` leaves out the tarballs whose URL it refuses."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError included
        raise UpstreamUnavailableError(f"the registry answered malformed JSON for {name}: {exc}") from None
    versions = data.get("versions", {}) if isinstance(data, dict) else None
    if not isinstance(versions, dict):
        raise UpstreamUnavailableError(f"the registry answered JSON that is not a packument for {name}")
    times = data.get("time")
    if not isinstance(times, dict):
        times = {}
    unscoped = name.rpartition("/")[2]
    files: list[UpstreamFile] = []
    extra: dict[str, Mapping[str, str]] = {}
    for number, manifest in versions.items():
        found = _file(unscoped, number, manifest, registry_url, times)
        if found is None or (may_fetch is not None and not may_fetch(found.url)):
            continue
        files.append(found)
        extra[found.version] = _version_extra(manifest)
    tags = data.get("dist-tags")
    listed = {
        tag: version
        for tag, version in (tags.items() if isinstance(tags, dict) else ())
        if isinstance(tag, str) and tag and isinstance(version, str) and version in extra
    }
    return UpstreamProject(name=name, display_name=name, files=tuple(files), tags=listed, version_extra=extra)


class _BearerToken(httpx.Auth):
    """``Authorization: Bearer <token>``, as npm sends its ``_authToken``."""

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request


class NpmRegistry(HttpIndex):
    """``UpstreamIndex`` for the npm registry at ``url`` (ending in ``/``), serving ``connection``."""

    def __init__(
        self,
        connection: str,
        url: str,
        *,
        timeout: float,
        max_connections: int = 32,
        transport: httpx.BaseTransport | None = None,
        max_packument_bytes: int = MAX_PACKUMENT_BYTES,
    ) -> None:
        super().__init__(connection, url, timeout=timeout, max_connections=max_connections, transport=transport)
        self._max_packument_bytes = max_packument_bytes

    def _credentials(self, username: str | None, password: str | None) -> httpx.Auth | None:
        """A password without a user name is a token (``https://:TOKEN@host/``); else HTTP Basic."""
        if not username and password:
            return _BearerToken(password)
        return super()._credentials(username, password)

    def project(self, name: str) -> UpstreamProject | None:
        path = request_path(name)
        if path is None:
            return None
        what = "the packument of " + name
        with self._request(self._base + path, what, headers={"Accept": _ACCEPT}) as response:
            if response.status_code == 404:
                return None
            self._check(response, what)
            body = b"".join(self._read(response, self._max_packument_bytes, what))
        return parse_packument(name, self._base, body, may_fetch=self._may_fetch)
