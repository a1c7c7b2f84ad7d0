"""What an npm tarball holds that the registry reads: its ``package.json`` and its README.

npm packs a package as a gzipped tar whose entries sit under one top directory (``package/`` from ``npm pack``;
some old tarballs use another name). The manifest is that directory's ``package.json``; the README is its
``README``, ``README.md``, ``readme.markdown`` ... (any case), as the npm registry shows it.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from typing import IO, Any

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_README_BYTES = 4 * 1024 * 1024
#: how much of an archive is read looking for them: a tarball is decompressed as it is read, so these bound the
#: work a small, highly compressed tarball can cause (a "zip bomb")
MAX_SCANNED_BYTES = 256 * 1024 * 1024
MAX_SCANNED_MEMBERS = 20_000


class TarballError(ValueError):
    """The bytes are not an npm tarball (not gzip, not tar, no top-level package.json, an unreadable manifest)."""


@dataclass(frozen=True)
class TarballContents:
    manifest: dict[str, Any]
    readme: str
    readme_filename: str


def _is_readme(base: str) -> bool:
    stem, _, ext = base.partition(".")
    return stem.lower() == "readme" and ext.lower() in ("", "md", "markdown", "txt", "rst", "mkd")


def read_tarball(file: IO[bytes]) -> TarballContents:
    """The manifest and README of the tarball read from ``file`` (streamed: the archive is read once, in
    order, and only until both are found, or ``MAX_SCANNED_BYTES`` / ``MAX_SCANNED_MEMBERS`` are passed).
    TarballError if it has no readable top-level ``package.json`` there."""
    manifest: dict[str, Any] | None = None
    readme, readme_filename = "", ""
    try:
        with tarfile.open(fileobj=file, mode="r|gz") as archive:
            for count, member in enumerate(archive):
                if manifest is not None and readme:
                    break  # both found: the rest is never decompressed
                if count >= MAX_SCANNED_MEMBERS or member.offset_data + member.size > MAX_SCANNED_BYTES:
                    break
                if not member.isfile():
                    continue
                _top, sep, base = member.name.lstrip("./").partition("/")
                if not sep or "/" in base:
                    continue
                if base == "package.json" and manifest is None:
                    manifest = _manifest(archive, member)
                elif _is_readme(base) and not readme and member.size <= MAX_README_BYTES:
                    readme = _read(archive, member).decode("utf-8", "replace")
                    readme_filename = base
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise TarballError(f"not a gzipped tar archive: {exc}") from None
    if manifest is None:
        raise TarballError("the tarball has no package.json in its top directory")
    return TarballContents(manifest=manifest, readme=readme, readme_filename=readme_filename)


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    extracted = archive.extractfile(member)
    return b"" if extracted is None else extracted.read()


def _manifest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    if member.size > MAX_MANIFEST_BYTES:
        raise TarballError(f"package.json is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        loaded = json.loads(_read(archive, member))
    except ValueError as exc:
        raise TarballError(f"package.json is not JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise TarballError("package.json is not a JSON object")
    return loaded
