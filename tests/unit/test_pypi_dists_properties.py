"""Property tests for the distribution file-name parser, the core-metadata parser and PyPI's name and version
rules (``coffer.core.packages.pypi_dists``, ``coffer.core.packages.pypi_names``): generated valid names parse back
to their parts and agree with ``packaging``; a forbidden character in any part is refused naming that part;
metadata header values come out as the email parser reads them."""

from __future__ import annotations

import email.parser
import email.policy
import io
import re
import tarfile
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from coffer.core.packages.package_names import normalize_name as format_name
from coffer.core.packages.package_names import normalize_version as format_version
from coffer.core.packages.pypi_dists import (
    DistFilename,
    DistributionError,
    parse_core_metadata,
    parse_filename,
    read_core_metadata,
)
from coffer.core.packages.pypi_names import canonical_version, is_valid_name, normalize_name, normalize_version

SETTINGS = settings(max_examples=max(200, settings().max_examples), deadline=None)  # a heavier profile still wins

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# every character a distribution file name may hold; anything else is refused wherever it stands
_FILENAME_CHARS = frozenset(_ALNUM + "._+!-")

numbers = st.integers(min_value=0, max_value=999).map(str)


def _joined(alphabet: str, inner: str, max_size: int = 12) -> st.SearchStrategy[str]:
    """One character of ``alphabet``, or two with up to ``max_size`` of ``inner`` between."""
    single = st.sampled_from(alphabet)
    pair = st.tuples(single, st.text(inner, max_size=max_size), single).map("".join)
    return single | pair


project_names = _joined(_ALNUM, _ALNUM + "._-")  # PEP 508
# as a wheel spells it: no '-', and (packaging's rule) no '__', which no escaped name holds
wheel_names = _joined(_ALNUM, _ALNUM + "._").filter(lambda name: "__" not in name)


@st.composite
def versions(draw: st.DrawFn) -> str:
    """PEP 440 versions in several spellings (upper case, implicit numbers, alternative pre-release words)."""
    text = ""
    if draw(st.booleans()):
        text += draw(numbers) + "!"
    text += ".".join(draw(st.lists(numbers, min_size=1, max_size=4)))
    if draw(st.booleans()):
        text += draw(st.sampled_from(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "RC", "A"]))
        text += draw(st.sampled_from(["", "0", "1", "12"]))
    if draw(st.booleans()):
        text += draw(st.sampled_from([".post", "post", ".POST", ".rev", ".r"])) + draw(numbers)
    if draw(st.booleans()):
        text += draw(st.sampled_from([".dev", "dev", ".DEV"])) + draw(numbers)
    if draw(st.booleans()):
        segments = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
        text += "+" + ".".join(draw(st.lists(segments, min_size=1, max_size=3)))
    return text


tags = st.lists(st.text(_ALNUM + "_", min_size=1, max_size=8), min_size=1, max_size=3).map(".".join)
# packaging also wants each Python tag to be an identifier (``py3``, ``cp311``; not ``3``)
python_tags = st.lists(
    st.tuples(st.sampled_from(_ALNUM[:52] + "_"), st.text(_ALNUM + "_", max_size=7)).map("".join),
    min_size=1,
    max_size=3,
).map(".".join)
build_tags = st.tuples(numbers, st.text(_ALNUM + "_.", max_size=5)).map("".join)


@st.composite
def wheels(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A valid wheel file name and its parts (name, version, build tag or None, python, abi, platform tags)."""
    parts = [draw(wheel_names), draw(versions())]
    if draw(st.booleans()):
        parts.append(draw(build_tags))
    parts += [draw(python_tags), draw(tags), draw(tags)]
    return "-".join(parts) + ".whl", parts


@SETTINGS
@given(wheels())
def test_a_valid_wheel_name_parses_back_to_its_parts(wheel: tuple[str, list[str]]) -> None:
    filename, parts = wheel
    dist = parse_filename(filename)
    assert dist == DistFilename(filename, "wheel", canonicalize_name(parts[0]), str(Version(parts[1])))
    name, version, _build, _tags = parse_wheel_filename(filename)  # packaging reads it the same way
    assert (dist.name, dist.version) == (str(name), str(version))


@SETTINGS
@given(wheels(), st.integers(min_value=0, max_value=20))
def test_a_wheel_name_holding_two_underscores_in_a_row_is_refused(wheel: tuple[str, list[str]], at: int) -> None:
    _filename, parts = wheel
    name = parts[0] if len(parts[0]) > 1 else parts[0] + "x"
    cut = 1 + at % (len(name) - 1)  # inside the name: it still starts and ends with a letter or digit
    parts[0] = name[:cut] + "__" + name[cut:]
    with pytest.raises(DistributionError, match=r"(?i)invalid project name"):
        parse_filename("-".join(parts) + ".whl")


@SETTINGS
@given(project_names, versions(), st.sampled_from([".tar.gz", ".zip"]))
def test_a_valid_sdist_name_parses_back_to_its_parts(name: str, version: str, suffix: str) -> None:
    filename = f"{name}-{version}{suffix}"
    dist = parse_filename(filename)
    assert dist == DistFilename(filename, "sdist", canonicalize_name(name), str(Version(version)))
    if suffix == ".tar.gz":  # packaging knows no .zip sdists
        parsed_name, parsed_version = parse_sdist_filename(filename)
        assert (dist.name, dist.version) == (str(parsed_name), str(parsed_version))


def _shown(char: str) -> str:
    return repr(char) if char.isascii() and char.isprintable() else f"U+{ord(char):04X}"


forbidden = st.characters(codec="utf-8").filter(lambda c: c not in _FILENAME_CHARS)
# where a character goes in a wheel's parts, and how the refusal names that part
_WHEEL_PARTS = [(0, "not a valid project name"), (1, "version"), (3, "Python tag"), (4, "ABI tag"), (5, "platform")]


@SETTINGS
@given(wheels(), st.sampled_from(_WHEEL_PARTS), forbidden, st.integers(min_value=0, max_value=20))
def test_a_forbidden_character_in_a_wheel_part_is_refused_naming_the_part(
    wheel: tuple[str, list[str]], where: tuple[int, str], bad: str, at: int
) -> None:
    _filename, parts = wheel
    position, what = where
    if len(parts) == 5:
        position = position if position < 2 else position - 1  # no build tag: the tags are 2..4
    part = parts[position]
    parts[position] = part[: at % (len(part) + 1)] + bad + part[at % (len(part) + 1) :]
    filename = "-".join(parts) + ".whl"
    with pytest.raises(DistributionError) as err:
        parse_filename(filename)
    message = str(err.value)
    assert message.startswith(f"Invalid distribution file name {filename!r}: "), message
    assert what in message, message
    assert _shown(bad) in message, message


@SETTINGS
@given(wheels(), build_tags, forbidden)
def test_a_forbidden_character_in_a_build_tag_is_refused_naming_it(
    wheel: tuple[str, list[str]], build: str, bad: str
) -> None:
    _filename, parts = wheel
    parts = [*parts[:2], build + bad, *parts[-3:]]
    filename = "-".join(parts) + ".whl"
    with pytest.raises(DistributionError) as err:
        parse_filename(filename)
    assert f"the build tag {build + bad!r}" in str(err.value)
    assert _shown(bad) in str(err.value)


@SETTINGS
@given(project_names, versions(), forbidden, st.booleans())
def test_a_forbidden_character_in_an_sdist_is_refused_naming_the_part(
    name: str, version: str, bad: str, in_name: bool
) -> None:
    if in_name:
        name, what = name[:1] + bad + name[1:], "not a valid project name"
    else:
        version, what = version + bad, "not a valid PEP 440 version"
    filename = f"{name}-{version}.tar.gz"
    with pytest.raises(DistributionError) as err:
        parse_filename(filename)
    message = str(err.value)
    assert message.startswith(f"Invalid distribution file name {filename!r}: "), message
    assert what in message and _shown(bad) in message, message


# --- core metadata ------------------------------------------------------------------------------------------

# a header value on one line: no line breaks (the email parser splits lines on CR and LF), no surrogates
header_values = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)
_FIELDS = {"Summary": "summary", "Home-page": "home_page", "License": "license"}


def _metadata(name: str, version: str, fields: dict[str, str], description: str = "") -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n\n" + description


def _as_the_email_parser_reads(text: str, key: str) -> str:
    value = email.parser.Parser(policy=email.policy.compat32).parsestr(text).get(key)
    return "" if value is None else str(value)


@SETTINGS
@given(project_names, versions(), st.fixed_dictionaries({k: header_values for k in _FIELDS}), header_values)
def test_metadata_header_values_are_read_as_the_email_parser_reads_them(
    name: str, version: str, fields: dict[str, str], description: str
) -> None:
    text = _metadata(name, version, fields, description)
    meta = parse_core_metadata(text.encode("utf-8"))
    assert (meta.name, meta.version, meta.metadata_version) == (name, version, "2.1")
    assert meta.raw == text.encode("utf-8")
    for key, attribute in _FIELDS.items():
        assert getattr(meta, attribute) == _as_the_email_parser_reads(text, key), key
    assert meta.description == email.parser.Parser(policy=email.policy.compat32).parsestr(text).get_payload()


@SETTINGS
@given(st.sampled_from(["Name", "Version"]), project_names, versions())
def test_metadata_without_name_or_version_is_refused(missing: str, name: str, version: str) -> None:
    text = "\n".join(line for line in _metadata(name, version, {}).splitlines() if not line.startswith(missing))
    with pytest.raises(DistributionError, match="Name and Version are required"):
        parse_core_metadata(text.encode("utf-8"))


@SETTINGS
@given(st.binary(min_size=1, max_size=20))
def test_metadata_that_is_not_utf8_is_refused(junk: bytes) -> None:
    raw = b"Name: demo\nVersion: 1.0\nSummary: \xff" + junk
    with pytest.raises(DistributionError, match="not UTF-8"):
        parse_core_metadata(raw)


def _wheel_bytes(directory: str, metadata: bytes) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{directory}.dist-info/METADATA", metadata)
        zf.writestr(f"{directory}.dist-info/WHEEL", b"Wheel-Version: 1.0\n")
    return out


def _sdist_bytes(directory: str, metadata: bytes) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        info = tarfile.TarInfo(f"{directory}/PKG-INFO")
        info.size = len(metadata)
        tf.addfile(info, io.BytesIO(metadata))
    return out


@SETTINGS
@given(wheel_names, versions(), header_values, st.booleans())
def test_read_core_metadata_finds_the_file_in_a_wheel_or_an_sdist(
    name: str, version: str, summary: str, is_wheel: bool
) -> None:
    raw = _metadata(name, version, {"Summary": summary}).encode("utf-8")
    directory = f"{name}-{version}"
    if is_wheel:
        dist = parse_filename(f"{directory}-py3-none-any.whl")
        file = _wheel_bytes(directory, raw)
    else:
        dist = parse_filename(f"{directory}.tar.gz")
        file = _sdist_bytes(directory, raw)
    assert read_core_metadata(file, dist) == parse_core_metadata(raw)


# --- names and versions ---------------------------------------------------------------------------------------


@SETTINGS
@given(st.text(max_size=30))
def test_names_normalize_as_pep_503_says(name: str) -> None:
    expected = re.sub(r"[-_.]+", "-", name).lower()
    assert normalize_name(name) == format_name("pypi", name) == expected
    assert normalize_name(expected) == expected
    assert is_valid_name(name) == bool(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name))


@SETTINGS
@given(versions() | st.text(max_size=20))
def test_versions_normalize_to_packaging_canonical_form_or_stay_as_given(version: str) -> None:
    try:
        expected: str | None = str(Version(version))
    except InvalidVersion:
        expected = None
    assert canonical_version(version) == expected
    kept = version.strip().lower() if expected is None else expected
    assert normalize_version(version) == format_version("pypi", version) == kept
    assert format_version("generic", version) == version and format_name("npm", version) == version
