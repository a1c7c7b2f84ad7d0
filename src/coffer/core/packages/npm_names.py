"""npm's rules for package names and versions, and how CodeArtifact names npm packages.

- A name is ``name`` or ``@scope/name``; the package APIs call the scope (without ``@``) the *namespace*.
- Names follow the npm registry's rules for new packages (validate-npm-package-name): at most 214 characters
  with the scope, lower case, URL-safe, not starting with ``.`` or ``_``, no spaces; reads also accept the
  upper-case names of old packages (``JSONStream``). Names are compared as given: npm itself does not fold case
  or punctuation.
- Versions are Semantic Versioning 2.0.0 (``1.2.3``, ``1.2.3-beta.1+build``), compared by semver precedence;
  a leading ``v`` or ``=`` is dropped, as ``semver.clean`` does when npm publishes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NAME_LENGTH = 214
_NAME_PART = re.compile(r"[a-z0-9~-][a-z0-9._~-]*", re.ASCII)
#: names published before npm required lower case (``JSONStream``, ``Base64``): still installed, never new
_LEGACY_PART = re.compile(r"[A-Za-z0-9~-][A-Za-z0-9._~-]*", re.ASCII)
_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
_BLACKLIST = frozenset({"node_modules", "favicon.ico"})


@dataclass(frozen=True)
class NpmName:
    """A package name split as CodeArtifact stores it: ``scope`` without ``@`` (None when unscoped)."""

    scope: str | None
    name: str

    @property
    def full(self) -> str:
        return full_name(self.scope, self.name)


def full_name(scope: str | None, name: str) -> str:
    """``@scope/name``, or ``name`` without a scope."""
    return f"@{scope}/{name}" if scope else name


def parse_name(text: str, *, legacy: bool = False) -> NpmName | None:
    """``name`` or ``@scope/name`` (also ``@scope%2fname`` as npm escapes it in URLs) split; None unless valid
    for a new package, or with ``legacy`` for an old one (upper case allowed: what reads accept)."""
    text = text.replace("%2f", "/").replace("%2F", "/")
    if not text or len(text) > MAX_NAME_LENGTH:
        return None
    scope: str | None = None
    name = text
    if text.startswith("@"):
        scope, sep, name = text[1:].partition("/")
        if not sep or not _valid_part(scope, legacy):
            return None
    if not _valid_part(name, legacy) or (scope is None and name in _BLACKLIST):
        return None
    return NpmName(scope, name)


def _valid_part(part: str, legacy: bool) -> bool:
    pattern = _LEGACY_PART if legacy else _NAME_PART
    return bool(pattern.fullmatch(part)) and not part.startswith((".", "_"))


def clean_version(text: str) -> str | None:
    """The version as npm publishes it (``v1.0.0`` -> ``1.0.0``); None if it is not semver."""
    text = text.strip().lstrip("=v").strip()
    return text if _SEMVER.fullmatch(text) else None


def _identifier_key(part: str) -> tuple[int, int, str]:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


def semver_key(version: str) -> tuple[object, ...]:
    """A sort key in semver precedence (build metadata ignored, a pre-release below its release); versions that
    are not semver sort first, by text."""
    m = _SEMVER.fullmatch(version)
    if m is None:
        return (0, version)
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    pre_key: tuple[object, ...] = (1,) if pre is None else (0, tuple(_identifier_key(p) for p in pre.split(".")))
    return (1, major, minor, patch, pre_key, version)


def is_prerelease(version: str) -> bool:
    m = _SEMVER.fullmatch(version)
    return m is not None and m[4] is not None


def tarball_name(name: str, version: str) -> str:
    """The file name npm gives a version's tarball: the unscoped name, ``-``, the version, ``.tgz``."""
    return f"{name}-{version}.tgz"
