"""Python distributions as Coffer reads them, as pure functions: distribution file names and the core metadata
inside wheels and sdists (names and versions follow ``pypi_names``).

Used by the PyPI endpoint (``coffer.formats.pypi``). Nothing here does I/O beyond reading an already opened
archive.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from dataclasses import dataclass
from typing import IO, Literal

from packaging.metadata import parse_email
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion

from coffer.core.packages.pypi_names import canonical_version, is_valid_name, normalize_name, same_version

MAX_METADATA_BYTES = 4 * 1024 * 1024  # a METADATA/PKG-INFO file larger than this is refused
MAX_SDIST_MEMBERS = 10_000  # how far into an sdist we look for PKG-INFO
METADATA_SUFFIX = ".metadata"  # PEP 658: <file-url>.metadata

DistKind = Literal["wheel", "sdist"]


class DistributionError(ValueError):
    """A distribution file (its name or contents) is not acceptable. The message is safe to show a client."""


@dataclass(frozen=True)
class DistFilename:
    filename: str
    kind: DistKind
    name: str  # normalized
    version: str  # PEP 440 normalized


MAX_FILENAME = 255  # bytes: the longest file name the usual file systems (and so pip's and uv's caches) can hold
WHEEL_SUFFIX = ".whl"
SDIST_SUFFIXES = (".tar.gz", ".zip")  # .zip: legacy sdists, still accepted as PyPI did before PEP 625

# The binary distribution format's grammar, character by character (each component is escaped by its writer, so
# none of them holds '-'): a tag is one or more tags of [A-Za-z0-9_] joined by '.' (a compressed tag set), a
# build tag starts with a digit, a version is PEP 440 text, a name is a PEP 508 project name. Nothing else: no
# '#', '?', '%', '/', quote, space, angle bracket or non-ASCII letter can reach a URL, a header or a file system.
_TAG = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_TAG_CHAR = re.compile(r"[A-Za-z0-9_.]")
_BUILD = re.compile(r"[0-9][A-Za-z0-9_.]*")
_VERSION_CHAR = re.compile(r"[A-Za-z0-9.!+_]")
_NAME_CHAR = re.compile(r"[A-Za-z0-9._-]")
_FILENAME_CHAR = re.compile(r"[A-Za-z0-9._+!-]")
_FILENAME = re.compile(r"[A-Za-z0-9._+!-]+")
_TAG_KINDS = ("Python", "ABI", "platform")


def _invalid(filename: str, why: str) -> DistributionError:
    return DistributionError(f"Invalid distribution file name {filename!r}: {why}")


def _shown(chars: set[str]) -> str:
    return ", ".join(repr(c) if c.isascii() and c.isprintable() else f"U+{ord(c):04X}" for c in sorted(chars))


def _holding(text: str, allowed: re.Pattern[str]) -> str:
    """`` (it holds '#', U+2215)`` for the characters of ``text`` outside ``allowed``; '' if there are none."""
    bad = {c for c in text if not allowed.fullmatch(c)}
    return f" (it holds {_shown(bad)})" if bad else ""


def _check_name(filename: str, name: str) -> None:
    if not is_valid_name(name):
        why = _holding(name, _NAME_CHAR)
        raise _invalid(filename, f"{name!r} is not a valid project name{why}")


def _check_version(filename: str, version: str) -> None:
    why = _holding(version, _VERSION_CHAR)
    if not why and canonical_version(version) is not None:
        return
    raise _invalid(filename, f"{version!r} is not a valid PEP 440 version{why}")


def _check_all(filename: str) -> None:
    """The rule every part follows, checked once more on the whole (a name that passes it is URL- and
    file-system-safe however it splits)."""
    if not _FILENAME.fullmatch(filename):
        raise _invalid(filename, f"it holds {_shown({c for c in filename if not _FILENAME_CHAR.fullmatch(c)})}")


def _parse_wheel(filename: str) -> DistFilename:
    """``{name}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl``"""
    parts = filename[: -len(WHEEL_SUFFIX)].split("-")
    if len(parts) not in (5, 6):
        raise _invalid(
            filename,
            "a wheel is named {name}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl "
            f"(5 or 6 parts separated by '-', not {len(parts)})",
        )
    _check_name(filename, parts[0])
    _check_version(filename, parts[1])
    if len(parts) == 6 and not _BUILD.fullmatch(parts[2]):
        why = _holding(parts[2], _TAG_CHAR)
        raise _invalid(filename, f"the build tag {parts[2]!r}{why} must start with a digit and hold only [A-Za-z0-9_.]")
    for kind, tag in zip(_TAG_KINDS, parts[-3:], strict=True):
        if not _TAG.fullmatch(tag):
            why = _holding(tag, _TAG_CHAR)
            raise _invalid(
                filename, f"the {kind} tag {tag!r}{why} must be one or more tags of [A-Za-z0-9_] separated by '.'"
            )
    _check_all(filename)
    try:  # packaging's reading of what the grammar above admits (tags, build number, name escaping)
        name, version, _build, _tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise _invalid(filename, str(exc)) from exc
    return DistFilename(filename, "wheel", str(name), str(version))


def _parse_sdist(filename: str, suffix: str) -> DistFilename:
    """``{name}-{version}.tar.gz`` (or the legacy ``.zip``); the name may hold '-' (older sdists), the version
    is what follows the last '-'."""
    name_part, sep, version_part = filename[: -len(suffix)].rpartition("-")
    if not sep:
        raise _invalid(filename, f"an sdist is named {{name}}-{{version}}{suffix}")
    _check_name(filename, name_part)
    _check_version(filename, version_part)
    _check_all(filename)
    try:
        name, version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion) as exc:
        raise _invalid(filename, str(exc)) from exc
    return DistFilename(filename, "sdist", str(name), str(version))


def parse_filename(filename: str) -> DistFilename:
    """Parse a wheel (``.whl``) or sdist (``.tar.gz``, ``.zip``) file name; DistributionError otherwise, naming
    the part at fault.

    The whole name is checked, not only what ``packaging`` reads from it: a wheel's tags follow the binary
    distribution format (PEP 427/491: tags of ``[A-Za-z0-9_]``, ``.``-separated compressed tag sets, a build tag
    that starts with a digit); the name is a PEP 508 project name and the version PEP 440 text (no whitespace,
    which ``Version`` would strip); so the whole is at most ``MAX_FILENAME`` bytes of ``[A-Za-z0-9._+!-]``. A
    file name that passes is safe in a URL path segment once percent-encoded, and in a file system."""
    if not filename or filename.startswith("."):
        raise DistributionError(f"Invalid file name {filename!r}")
    if len(filename.encode("utf-8", "surrogatepass")) > MAX_FILENAME:
        raise _invalid(filename, f"it is longer than {MAX_FILENAME} bytes")
    if filename.endswith(WHEEL_SUFFIX):
        return _parse_wheel(filename)
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            return _parse_sdist(filename, suffix)
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
