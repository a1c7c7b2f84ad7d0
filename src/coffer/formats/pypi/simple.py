"""The simple repository API: one dict (PEP 691's JSON shape) rendered as PEP 503 HTML or PEP 691 JSON.

Covers PEP 700 (api-version 1.1, ``versions``, ``size``, ``upload-time``), PEP 658/714 (``core-metadata`` and
``data-core-metadata``, with the older ``dist-info-metadata`` spellings for older clients), ``requires-python``
and sha256 hashes. Versions Coffer does not list (not Published) never reach the index, so nothing is yanked.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

from coffer.core.packages.package_models import Package, ResolvedVersion
from coffer.core.packages.pypi_names import normalize_name

API_VERSION = "1.1"

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
_LATEST = {"application/vnd.pypi.simple.latest+json": JSON_V1, "application/vnd.pypi.simple.latest+html": HTML_V1}
# Server preference when a client likes several equally: plain HTML first (the default), then the PEP 691 types.
OFFERED: tuple[str, ...] = (TEXT_HTML, HTML_V1, JSON_V1)
CONTENT_TYPES = {TEXT_HTML: "text/html; charset=utf-8", HTML_V1: HTML_V1, JSON_V1: JSON_V1}

Page = dict[str, Any]


def href_segment(text: str) -> str:
    """``text`` as one URL path segment: percent-encoded (UTF-8) but for RFC 3986's unreserved characters
    (``A-Za-z0-9-._~``), which ``quote`` never encodes. ``safe=""`` deliberately: '/' must not split a segment,
    '#', '?' and '%' must not end or escape it, and '+' (a local version, ``1.0+local``) and '!' (an epoch) are
    sent as ``%2B``/``%21`` so that no client or proxy can read them as anything but themselves (a '+' in a
    path is a space to some object stores). The server decodes the path before routing, so ``%2B`` and a raw
    '+' name the same file."""
    return quote(text, safe="")


# --- content negotiation -----------------------------------------------------------------------------------


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for item in header.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        media = media.lower()
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        ranges.append((_LATEST.get(media, media), q))
    return ranges


@functools.lru_cache(maxsize=256)  # clients send the same few headers: pip's, uv's, a browser's
def choose_media_type(accept: str | None) -> str | None:
    """The representation to send for an ``Accept`` header (quality values honoured, the most specific range
    deciding for each type); ``text/html`` when absent; None when nothing offered is acceptable (406)."""
    if accept is None or not accept.strip():
        return TEXT_HTML
    ranges = _parse_accept(accept)
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for preference, offered in enumerate(OFFERED):
        major = offered.split("/", 1)[0]
        match: tuple[int, float] | None = None  # (specificity, q)
        for media, q in ranges:
            if media == offered:
                specificity = 2
            elif media == f"{major}/*":
                specificity = 1
            elif media == "*/*":
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0]:
                match = (specificity, q)
        if match is None or match[1] <= 0:
            continue
        key = (match[1], match[0], -preference)
        if best is None or key > best:
            best, chosen = key, offered
    return chosen


# --- the one source ------------------------------------------------------------------------------------------


def _upload_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def project_list(packages: Iterable[Package]) -> Page:
    """PEP 691 project list; ``name`` is the display name, links use the normalized one."""
    return {
        "meta": {"api-version": API_VERSION},
        "projects": [{"name": p.display_name or p.ref.name} for p in packages],
    }


def project_page(name: str, versions: Sequence[ResolvedVersion]) -> Page:
    """PEP 691 project detail. File URLs are relative to the page (``<version>/<filename>``, each segment
    percent-encoded by ``href_segment``)."""
    files: list[dict[str, Any]] = []
    ordered = sorted(versions, key=lambda rv: _version_key(rv.version.version))
    for rv in ordered:
        pv = rv.version
        for asset in sorted(rv.assets, key=lambda a: a.name):
            entry: dict[str, Any] = {
                "filename": asset.name,
                "url": f"{href_segment(pv.version)}/{href_segment(asset.name)}",
                "hashes": {"sha256": asset.blob.sha256},
            }
            if pv.requires_python:
                entry["requires-python"] = pv.requires_python
            metadata: dict[str, str] | bool = {"sha256": asset.metadata_sha256} if asset.metadata_sha256 else False
            entry["core-metadata"] = metadata
            entry["dist-info-metadata"] = metadata
            entry["size"] = asset.blob.size
            entry["upload-time"] = _upload_time(asset.created_at)
            files.append(entry)
    return {
        "meta": {"api-version": API_VERSION},
        "name": normalize_name(name),
        "versions": [rv.version.version for rv in ordered],
        "files": files,
    }


# --- renderings ----------------------------------------------------------------------------------------------


def render_json(page: Page) -> bytes:
    return json.dumps(page, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _head(title: str, page: Page) -> list[str]:
    return [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{html.escape(page["meta"]["api-version"])}">',
        f"    <title>{html.escape(title)}</title>",
        "  </head>",
        "  <body>",
    ]


def render_html(page: Page) -> bytes:
    """PEP 503 HTML of a project list or a project page."""
    if "projects" in page:
        lines = _head("Simple index", page)
        for project in page["projects"]:
            href = html.escape(href_segment(normalize_name(project["name"])) + "/")
            lines.append(f'    <a href="{href}">{html.escape(project["name"])}</a><br/>')
    else:
        title = f"Links for {page['name']}"
        lines = _head(title, page)
        lines.append(f"    <h1>{html.escape(title)}</h1>")
        for f in page["files"]:
            # the url is percent-encoded already (project_page); the fragment is hex
            attrs = [f'href="{html.escape(f["url"] + "#sha256=" + f["hashes"]["sha256"])}"']
            if f.get("requires-python"):
                attrs.append(f'data-requires-python="{html.escape(f["requires-python"])}"')
            metadata = f.get("core-metadata")
            if isinstance(metadata, dict):
                value = html.escape("sha256=" + metadata["sha256"])
                attrs.append(f'data-dist-info-metadata="{value}"')
                attrs.append(f'data-core-metadata="{value}"')
            lines.append(f"    <a {' '.join(attrs)}>{html.escape(f['filename'])}</a><br/>")
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")


def render(page: Page, media_type: str) -> bytes:
    return render_json(page) if media_type == JSON_V1 else render_html(page)
