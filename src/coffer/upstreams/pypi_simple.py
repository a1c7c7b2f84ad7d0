"""A client of any PEP 503/691 simple index: PyPI, a mirror, devpi, pypiserver, Artifactory or another Coffer.

- The project page is asked for as PEP 691 JSON, HTML accepted (``Accept`` with quality values). Either is parsed
  to the same ``UpstreamProject``: the file names, absolute URLs (relative ones resolved against the page's
  final URL, after redirects), SHA-256 (JSON ``hashes`` or the HTML ``#sha256=`` fragment), size and upload time
  (PEP 700), ``requires-python`` and the core metadata digest (PEP 658/714, either spelling). Files without a
  SHA-256, with a name that is not a valid distribution file name, or yanked (PEP 592), are left out.
- Timeouts: ``timeout`` seconds to connect, and between two reads. A page is read to at most
  ``MAX_PAGE_BYTES``, a file to the ``max_bytes`` given; larger answers are refused, not truncated.
- Files are fetched from the index's host or from public addresses only (not loopback, private or link-local
  ones, unless the index itself is on that host).
- Credentials in the index URL (``https://user:secret@host/simple/``) are sent as HTTP Basic authentication to
  that host only; no message carries them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

import httpx

from coffer.core.packages.package_store import PendingBlob
from coffer.core.packages.pypi_dists import DistributionError, parse_filename
from coffer.core.packages.pypi_names import normalize_name, normalize_version
from coffer.core.packages.upstreams import (
    UpstreamError,
    UpstreamFile,
    UpstreamProject,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

MAX_PAGE_BYTES = 64 * 1024 * 1024  # PyPI's largest project pages are a few MB
_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdefABCDEF")


def _without_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    auth = httpx.BasicAuth(parts.username or "", parts.password or "")
    return urlunsplit(parts._replace(netloc=netloc)), auth


def _upload_time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _sha256(value: object) -> str | None:
    """A SHA-256 hex digest, lowercased; None for anything else."""
    if isinstance(value, str) and len(value) == 64 and all(c in _HEX for c in value):
        return value.lower()
    return None


def _metadata_digest(value: object) -> str | None:
    if isinstance(value, dict):
        return _sha256(value.get("sha256"))
    if isinstance(value, str) and value.startswith("sha256="):
        return _sha256(value[len("sha256=") :])
    return None


def _file(filename: str, url: str, sha256: object, **fields: Any) -> UpstreamFile | None:
    digest = _sha256(sha256)
    if digest is None or urlsplit(url).scheme not in ("http", "https"):
        return None
    try:
        dist = parse_filename(filename)
    except DistributionError:
        return None
    return UpstreamFile(filename=filename, url=url, version=normalize_version(dist.version), sha256=digest, **fields)


def _join(page_url: str, href: str) -> str | None:
    """``href`` made absolute against the page, without its fragment; None for an address that does not parse."""
    try:
        return urldefrag(urljoin(page_url, href))[0]
    except ValueError:
        return None


class _Links(HTMLParser):
    """The anchors of a PEP 503 page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.links.append((self._current, "".join(self._text).strip()))
            self._current = None


def parse_json_page(name: str, page_url: str, body: bytes) -> UpstreamProject:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UpstreamUnavailableError(f"the index answered malformed JSON for {name}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise UpstreamUnavailableError(f"the index answered JSON that is not a PEP 691 project page for {name}")
    files: list[UpstreamFile] = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or entry.get("yanked") not in (None, False):
            continue
        filename, href, hashes = entry.get("filename"), entry.get("url"), entry.get("hashes")
        if not isinstance(filename, str) or not isinstance(href, str) or not isinstance(hashes, dict):
            continue
        size = entry.get("size")
        requires = entry.get("requires-python")
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        url = _join(page_url, href)
        if url is None:
            continue
        found = _file(
            filename,
            url,
            hashes.get("sha256"),
            size=size if isinstance(size, int) and size >= 0 else None,
            requires_python=requires if isinstance(requires, str) and requires else None,
            metadata_sha256=_metadata_digest(metadata),
            upload_time=_upload_time(entry.get("upload-time")),
        )
        if found is not None:
            files.append(found)
    display = data.get("name") if isinstance(data.get("name"), str) else name
    return UpstreamProject(name=normalize_name(name), display_name=str(display), files=tuple(files))


def parse_html_page(name: str, page_url: str, body: bytes) -> UpstreamProject:
    parser = _Links()
    try:
        parser.feed(body.decode("utf-8", "replace"))
        parser.close()
    except AssertionError as exc:  # html.parser's way of refusing some malformed markup
        raise UpstreamUnavailableError(f"the index answered malformed HTML for {name}: {exc}") from None
    files: list[UpstreamFile] = []
    for attrs, text in parser.links:
        href = attrs.get("href")
        if not href or "data-yanked" in attrs:
            continue
        try:
            url, fragment = urldefrag(urljoin(page_url, href))
        except ValueError:
            continue
        algo, _, digest = fragment.partition("=")
        filename = urlsplit(url).path.rsplit("/", 1)[-1] or text
        requires = attrs.get("data-requires-python")
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        found = _file(
            unquote(filename),
            url,
            digest if algo == "sha256" else None,
            requires_python=requires or None,
            metadata_sha256=_metadata_digest(metadata),
        )
        if found is not None:
            files.append(found)
    return UpstreamProject(name=normalize_name(name), display_name=name, files=tuple(files))


class SimpleIndex:
    """``UpstreamIndex`` for the simple index at ``url`` (ending in ``/``), serving ``connection``."""

    def __init__(self, connection: str, url: str, *, timeout: float, max_connections: int = 32) -> None:
        self._connection = connection
        self._base, auth = _without_credentials(url if url.endswith("/") else url + "/")
        base = urlsplit(self._base)
        self._origin = (base.scheme, base.netloc)
        self._hostname = base.hostname or ""
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=True,
            headers={"User-Agent": "coffer (external connection)"},
        )
        self._auth = auth

    @property
    def connection(self) -> str:
        return self._connection

    def close(self) -> None:
        self._client.close()

    def _auth_for(self, url: str) -> httpx.BasicAuth | None:
        # credentials go to the index's own origin only (scheme, host and port): never in clear to a plain-HTTP
        # link on the same host, never to a file host elsewhere
        parts = urlsplit(url)
        return self._auth if self._auth is not None and (parts.scheme, parts.netloc) == self._origin else None

    def project(self, name: str) -> UpstreamProject | None:
        url = f"{self._base}{name}/"
        with self._request(url, "the project page of " + name, headers={"Accept": _ACCEPT}) as response:
            if response.status_code == 404:
                return None
            self._check(response, "the project page of " + name)
            body = b"".join(self._read(response, MAX_PAGE_BYTES, "the project page of " + name))
            page_url = str(response.url)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == _JSON or content_type.endswith("+json") or content_type == "application/json":
            project = parse_json_page(name, page_url, body)
        else:
            project = parse_html_page(name, page_url, body)
        kept = tuple(f for f in project.files if self._may_fetch(f.url))
        return project if len(kept) == len(project.files) else dataclasses.replace(project, files=kept)

    def _may_fetch(self, url: str) -> bool:
        """A listed file is fetched from the index's own host, or from a host that is not a loopback, private or
        link-local address: a listing cannot make Coffer fetch from inside its own network (169.254.169.254, a
        database port on localhost) unless the index itself is there."""
        host = urlsplit(url).hostname or ""
        if host == self._hostname:
            return True
        if host == "localhost" or host.endswith(".localhost"):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True  # a DNS name: what it resolves to is the network's business
        return not (address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified)

    def download(self, url: str, sink: PendingBlob, max_bytes: int) -> None:
        filename = urlsplit(url).path.rsplit("/", 1)[-1]
        with self._request(url, filename) as response:
            self._check(response, filename)
            for chunk in self._read(response, max_bytes, filename):
                sink.write(chunk)

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _request(self, url: str, what: str, headers: dict[str, str] | None = None) -> _Guarded:
        if urlsplit(url).scheme not in ("http", "https"):
            raise UpstreamUnavailableError(f"{self._connection} lists {what} at a URL that is not http(s)")
        try:
            return _Guarded(self._client.stream("GET", url, headers=headers, auth=self._auth_for(url)), self, what)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._error(exc, what) from None

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code != 200:
            raise UpstreamUnavailableError(
                f"{self._connection} answered {response.status_code} {response.reason_phrase} for {what}"
            )

    def _read(self, response: httpx.Response, limit: int, what: str) -> Iterator[bytes]:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise UpstreamUnavailableError(f"{self._connection}: {what} is larger than {limit} bytes")
        seen = 0
        try:
            for chunk in response.iter_raw(_CHUNK) if _identity(response) else response.iter_bytes(_CHUNK):
                seen += len(chunk)
                if seen > limit:
                    raise UpstreamUnavailableError(f"{self._connection}: {what} is larger than {limit} bytes")
                yield chunk
        except httpx.HTTPError as exc:
            raise self._error(exc, what) from None

    def _error(self, exc: httpx.HTTPError | httpx.InvalidURL, what: str) -> UpstreamError:
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeoutError(f"{self._connection} did not answer in time for {what} (upstream timeout)")
        reason = type(exc).__name__
        return UpstreamUnavailableError(f"{self._connection} is unreachable for {what} ({reason})")


def _identity(response: httpx.Response) -> bool:
    return response.headers.get("content-encoding", "identity").lower() in ("", "identity")


class _Guarded:
    """``client.stream(...)`` whose entry maps httpx's errors to UpstreamError."""

    def __init__(self, stream: Any, index: SimpleIndex, what: str) -> None:
        self._stream = stream
        self._index = index
        self._what = what

    def __enter__(self) -> httpx.Response:
        try:
            response: httpx.Response = self._stream.__enter__()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._index._error(exc, self._what) from None
        return response

    def __exit__(self, *exc: object) -> None:
        self._stream.__exit__(*exc)
