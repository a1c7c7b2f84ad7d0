"""Python packaging rules Coffer applies, as pure functions: names, versions, distribution file names and the
core metadata inside wheels and sdists.

Used by the PyPI endpoint (``coffer.formats.pypi``) and by the package service (names must be normalized the
same way everywhere). Nothing here does I/O beyond reading an already opened archive.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from dataclasses import dataclass
from typing import IO, Literal

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

MAX_METADATA_BYTES = 4 * 1024 * 1024  # a METADATA/PKG-INFO file larger than this is refused
MAX_SDIST_MEMBERS = 10_000  # how far into an sdist we look for PKG-INFO
METADATA_SUFFIX = ".metadata"  # PEP 658: <file-url>.metadata

_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

DistKind = Literal["wheel", "sdist"]


class DistributionError(ValueError):
    """A distribution file (its name or contents) is not acceptable. The message is safe to show a client."""


def is_valid_name(name: str) -> bool:
    """PEP 508 project name."""
    return bool(_VALID_NAME.match(name))


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name: lower case, runs of ``-_.`` become one ``-``."""
    return canonicalize_name(name)


def normalize_version(version: str) -> str:
    """PEP 440 normalized form of a version (``1.0-Alpha1`` -> ``1.0a1``); DistributionError if invalid."""
    try:
        return str(Version(version))
    except InvalidVersion as exc:
        raise DistributionError(f"Invalid version {version!r}: it is not a valid PEP 440 version") from exc


def same_version(a: str, b: str) -> bool:
    """Whether two version strings denote the same PEP 440 version (``1.0`` == ``1.0.0``)."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


@dataclass(frozen=True)
class DistFilename:
    filename: str
    kind: DistKind
    name: str  # normalized
    version: str  # PEP 440 normalized


def parse_filename(filename: str) -> DistFilename:
    """Parse a wheel (``.whl``) or sdist (``.tar.gz``, ``.zip``) file name; DistributionError otherwise."""
    if not filename or "/" in filename or "\\" in filename or filename.startswith(".") or "\x00" in filename:
        raise DistributionError(f"Invalid file name {filename!r}")
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return DistFilename(filename, "wheel", str(name), str(version))
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return DistFilename(filename, "sdist", str(name), str(version))
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise DistributionError(f"Invalid distribution file name {filename!r}: {exc}") from exc
    raise DistributionError(f"Invalid distribution file extension in {filename!r}: use .whl, .tar.gz or .zip")


@dataclass(frozen=True)
class CoreMetadata:
    """The fields of a distribution's core metadata that Coffer stores and checks."""

    raw: bytes  # the file exactly as found (served as the PEP 658 metadata file for wheels)
    metadata_version: str
    name: str  # as written
    version: str  # as written
    summary: str = ""
    home_page: str = ""
    license: str = ""
    requires_python: str | None = None
    description: str = ""
    description_content_type: str = ""
    source_url: str = ""  # a Project-URL labelled Source / Repository / Source Code


def parse_core_metadata(raw: bytes) -> CoreMetadata:
    """Parse METADATA / PKG-INFO text (RFC 822 style, UTF-8). DistributionError if Name or Version is missing."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DistributionError("Invalid core metadata: it is not UTF-8") from exc
    fields, _unparsed = parse_email(text)
    name = fields.get("name")
    version = fields.get("version")
    if not name or not version:
        raise DistributionError("Invalid core metadata: Name and Version are required")
    if not is_valid_name(name):
        raise DistributionError(f"Invalid core metadata: {name!r} is not a valid project name")
    urls = fields.get("project_urls") or {}
    source = next(
        (url for label, url in urls.items() if label.strip().lower() in {"source", "repository", "source code"}),
        "",
    )
    return CoreMetadata(
        raw=raw,
        metadata_version=fields.get("metadata_version") or "",
        name=name,
        version=version,
        summary=fields.get("summary") or "",
        home_page=fields.get("home_page") or "",
        license=fields.get("license") or fields.get("license_expression") or "",
        requires_python=fields.get("requires_python") or None,
        description=fields.get("description") or "",
        description_content_type=fields.get("description_content_type") or "",
        source_url=source,
    )


def _read_limited(stream: IO[bytes], declared: int, what: str) -> bytes:
    if declared > MAX_METADATA_BYTES:
        raise DistributionError(f"{what} is larger than {MAX_METADATA_BYTES} bytes")
    data = stream.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise DistributionError(f"{what} is larger than {MAX_METADATA_BYTES} bytes")
    return data


def _wheel_metadata(file: IO[bytes], dist: DistFilename) -> bytes:
    try:
        with zipfile.ZipFile(file) as zf:
            candidates = [
                info
                for info in zf.infolist()
                if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA") and not info.is_dir()
            ]
            if not candidates:
                raise DistributionError(f"Invalid wheel {dist.filename!r}: no .dist-info/METADATA file")
            if len(candidates) > 1:
                wanted = [
                    c
                    for c in candidates
                    if normalize_name(c.filename.split("/")[0][: -len(".dist-info")].rsplit("-", 1)[0]) == dist.name
                ]
                if len(wanted) != 1:
                    raise DistributionError(f"Invalid wheel {dist.filename!r}: more than one .dist-info directory")
                candidates = wanted
            info = candidates[0]
            with zf.open(info) as member:
                return _read_limited(member, info.file_size, "METADATA")
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise DistributionError(f"Invalid wheel {dist.filename!r}: not a readable zip archive") from exc


def _sdist_metadata(file: IO[bytes], dist: DistFilename) -> bytes:
    if dist.filename.endswith(".zip"):
        try:
            with zipfile.ZipFile(file) as zf:
                for info in zf.infolist():
                    if info.filename.count("/") == 1 and info.filename.endswith("/PKG-INFO"):
                        with zf.open(info) as member:
                            return _read_limited(member, info.file_size, "PKG-INFO")
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
            raise DistributionError(f"Invalid sdist {dist.filename!r}: not a readable zip archive") from exc
        raise DistributionError(f"Invalid sdist {dist.filename!r}: no PKG-INFO file")
    try:
        with tarfile.open(fileobj=file, mode="r:gz") as tf:
            for count, entry in enumerate(tf):
                if count >= MAX_SDIST_MEMBERS:
                    break
                parts = entry.name.lstrip("./").split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO" and entry.isfile():
                    extracted = tf.extractfile(entry)
                    if extracted is None:
                        break
                    with extracted:
                        return _read_limited(extracted, entry.size, "PKG-INFO")
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise DistributionError(f"Invalid sdist {dist.filename!r}: not a readable .tar.gz archive") from exc
    raise DistributionError(f"Invalid sdist {dist.filename!r}: no PKG-INFO file")


def read_core_metadata(file: IO[bytes], dist: DistFilename) -> CoreMetadata:
    """Extract and parse the core metadata of a distribution from its (seekable) file: ``*.dist-info/METADATA``
    of a wheel, ``<name>-<version>/PKG-INFO`` of an sdist."""
    file.seek(0)
    raw = _wheel_metadata(file, dist) if dist.kind == "wheel" else _sdist_metadata(file, dist)
    return parse_core_metadata(raw)


def check_consistent(dist: DistFilename, meta: CoreMetadata, form_name: str, form_version: str) -> None:
    """The project name and version given with an upload, the file name and the file's own metadata must agree."""
    if not is_valid_name(form_name):
        raise DistributionError(f"Invalid project name {form_name!r}")
    if normalize_name(form_name) != dist.name:
        raise DistributionError(
            f"Start filename for {form_name!r} with {dist.name.replace('-', '_')!r}: "
            f"the file name {dist.filename!r} is for another project"
        )
    if not same_version(form_version, dist.version):
        raise DistributionError(
            f"Version in filename should be {form_version!r} not {dist.version!r}: "
            f"the file name {dist.filename!r} is for another version"
        )
    if normalize_name(meta.name) != dist.name:
        raise DistributionError(f"The file's metadata names project {meta.name!r}, not {form_name!r}")
    if not same_version(meta.version, dist.version):
        raise DistributionError(f"The file's metadata has version {meta.version!r}, not {form_version!r}")
