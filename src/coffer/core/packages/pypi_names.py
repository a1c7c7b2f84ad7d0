"""PyPI's rules for project names and versions: PEP 508 names, PEP 503 normalization, PEP 440 versions, all
through ``packaging``.

The one place these rules live: the package service normalizes with them (through ``package_names``), the
distribution parser (``pypi_dists``) and the PyPI endpoint (``coffer.formats.pypi``) check and compare with them.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# re.ASCII: with IGNORECASE alone, [A-Z] also matches U+0130, U+0131, U+017F and U+212A (the Kelvin sign)
_VALID_NAME = re.compile(r"([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])", re.IGNORECASE | re.ASCII)


def is_valid_name(name: str) -> bool:
    """PEP 508 project name."""
    return bool(_VALID_NAME.fullmatch(name))


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name: lower case, runs of ``-_.`` become one ``-``."""
    return canonicalize_name(name)


def canonical_version(version: str) -> str | None:
    """``packaging``'s canonical spelling of a PEP 440 version (``1.0.0-RC1`` -> ``1.0.0rc1``, ``v2.0`` -> ``2.0``;
    a local version keeps its ``+local``); None if ``version`` is not PEP 440."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return None


def normalize_version(version: str) -> str:
    """The version as versions are stored and compared: its canonical spelling; a version that is not PEP 440 is
    kept, stripped and in lower case (the endpoint decides whether to accept it)."""
    canonical = canonical_version(version)
    return version.strip().lower() if canonical is None else canonical


def same_version(a: str, b: str) -> bool:
    """Whether two version strings denote the same PEP 440 version (``1.0`` == ``1.0.0``); False if either is not
    PEP 440."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False
