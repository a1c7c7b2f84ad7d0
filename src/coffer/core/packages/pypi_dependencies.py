"""A Python distribution's direct dependencies as ListPackageVersionDependencies reports them: the
``Requires-Dist`` fields of its core metadata (METADATA of a wheel, PKG-INFO of an sdist).

Each requirement (PEP 508) becomes one ``Dependency``:

- ``package``: the project name, normalized (PEP 503), as the package APIs name PyPI packages;
- ``dependency_type``: ``Requires-Dist``, the one value the CodeArtifact model documents for pypi (an optional
  dependency is one whose marker names an ``extra``; the marker says so, not the type);
- ``version_requirement``: the requirement after its name, in packaging's canonical spelling: the extras it
  asks of the dependency, the specifier and the environment marker, e.g. ``[socks]<3,>=2.0; extra == "net"``
  (so ``package`` + ``version_requirement`` is the requirement again). Empty for a bare name.

A field that is not a valid requirement is skipped (installers cannot use it either); metadata that cannot be
parsed at all gives no dependencies.
"""

from __future__ import annotations

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from coffer.core.packages.package_models import Dependency

REQUIRES_DIST = "Requires-Dist"


def requirement_dependency(text: str) -> Dependency | None:
    """One ``Requires-Dist`` value as a dependency; None if it is not a valid PEP 508 requirement."""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    rest = str(req)[len(req.name) :].strip()
    return Dependency(package=canonicalize_name(req.name), dependency_type=REQUIRES_DIST, version_requirement=rest)


def requires_dist(raw: bytes) -> list[Dependency]:
    """The dependencies named by the ``Requires-Dist`` fields of core metadata ``raw``, in file order."""
    try:
        fields, _unparsed = parse_email(raw)
    except (ValueError, UnicodeDecodeError):
        return []
    found = (requirement_dependency(text) for text in fields.get("requires_dist") or ())
    return [d for d in found if d is not None]
