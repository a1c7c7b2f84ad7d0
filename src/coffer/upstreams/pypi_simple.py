"""A client of any PEP 503/691 simple index: PyPI, a mirror, devpi, pypiserver, Artifactory or another Coffer.

- The project page is asked for as PEP 691 JSON, HTML accepted (``Accept`` with quality values). Either is parsed
  to the same ``UpstreamProject``: the file names, absolute URLs (relative ones resolved against the page's
  final URL, after redirects), SHA-256 (JSON ``hashes`` or the HTML ``#sha256=`` fragment), size and upload time
  (PEP 700), ``requires-python`` and the core metadata digest (PEP 658/714, either spelling). Files without a
  SHA-256, with a name that is not a valid distribution file name, or yanked (PEP 592), are left out.
- Timeouts and size limits (a page to at most ``MAX_PAGE_BYTES``, a file to the ``max_bytes`` given), where
  files may be fetched from, and the credentials of the index URL (HTTP Basic, to the index's own origin only)
  are every client's (``http_index``).
"""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from coffer.core.packages.pypi_dists import DistributionError, parse_filename
from coffer.core.packages.pypi_names import normalize_name, normalize_version
from coffer.core.packages.upstreams import UpstreamFile, UpstreamProject, UpstreamUnavailableError
from coffer.upstreams.http_index import HttpIndex, hex_digest, iso_timestamp

MAX_PAGE_BYTES = 64 * 1024 * 1024  # PyPI's largest project pages are a few MB
_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


def _sha256(value: object) -> str | None:
    """A SHA-256 hex digest, lowercased; None for anything else."""
    return hex_digest(value, 64)


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
            upload_time=iso_timestamp(entry.get("upload-time")),
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


class SimpleIndex(HttpIndex):
    """``UpstreamIndex`` for the simple index at ``url`` (ending in ``/``), serving ``connection``."""

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
