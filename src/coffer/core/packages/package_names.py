"""Package names and versions as each format compares them: one normalizer per format.

Every name and version the package service takes goes through ``normalize_ref`` / ``normalize_version`` on the way
in, so that the package endpoints and the API agree on what "the same package" is. A format with rules of its own
(pypi: ``pypi_names``) registers them in ``NORMALIZERS``; the others (npm, generic today) keep names and versions
as given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from coffer.core.packages import pypi_names
from coffer.core.packages.package_models import PackageRef


def _as_given(text: str) -> str:
    return text


@dataclass(frozen=True)
class Normalizer:
    """A format's rules: the name and the version under which two spellings are the same package (version)."""

    name: Callable[[str], str]
    version: Callable[[str], str]


AS_GIVEN = Normalizer(name=_as_given, version=_as_given)
NORMALIZERS: Mapping[str, Normalizer] = {
    "pypi": Normalizer(name=pypi_names.normalize_name, version=pypi_names.normalize_version),
}


def normalizer(fmt: str) -> Normalizer:
    return NORMALIZERS.get(fmt, AS_GIVEN)


def normalize_name(fmt: str, name: str) -> str:
    """The package name as the format compares names (pypi: PEP 503)."""
    return normalizer(fmt).name(name)


def normalize_version(fmt: str, version: str) -> str:
    """The version as the format compares versions (pypi: ``packaging``'s canonical form, e.g. ``1.0.0-RC1`` ->
    ``1.0.0rc1``; a version that is not PEP 440 is kept, stripped and lower-cased)."""
    return normalizer(fmt).version(version)


def normalize_ref(ref: PackageRef) -> PackageRef:
    """``ref`` with its name normalized and an empty namespace as None."""
    namespace = ref.namespace or None
    name = normalize_name(ref.format, ref.name)
    if namespace == ref.namespace and name == ref.name:
        return ref
    return PackageRef(repo=ref.repo, format=ref.format, namespace=namespace, name=name)
