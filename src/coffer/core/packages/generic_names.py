"""CodeArtifact's generic format: the rules of its asset names, and what sets it apart from the other formats.

A generic package is a namespace (required), a name, versions and, per version, one or more assets of any content,
published with PublishPackageVersion only (``generic_publishing``). Names, namespaces and versions are compared
as given (no normalization, so nothing is registered in ``package_names``); the API model's patterns
(``[^#/\\s]+``, 1 to 255 characters) are checked by the endpoint. Asset names follow the rules of AWS's user guide
(Generic packages overview), checked here:

- Unicode letters and digits (categories Lu, Ll, Lt, Lm, Lo, Nl and Nd) and the characters ``~!@^&()-_+[]{};,.``;
- the space, the one whitespace allowed, but not first, not last and never two in a row;
- not ``.`` or ``..``; 1 to 255 characters (the model's ``AssetName``).

Unlike a PyPI file name, an asset name is scoped to its version: ``app.zip`` may have other content in each
version, and no name history is kept across versions (a version deleted and published again may hold other
bytes). Generic packages are never read through upstreams (AWS: "They can only be obtained from the repository to
which they were published").
"""

from __future__ import annotations

import unicodedata
from typing import Final

from coffer.core.shared.errors import ValidationError

GENERIC: Final = "generic"
MAX_ASSET_NAME: Final = 255
_SPECIALS_TEXT: Final = "~!@^&()-_+[]{};,."  # in the user guide's order, as messages show them
ASSET_NAME_SPECIALS: Final = frozenset(_SPECIALS_TEXT)
LETTER_CATEGORIES: Final = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd"})


def _allowed(char: str) -> bool:
    return char in ASSET_NAME_SPECIALS or char == " " or unicodedata.category(char) in LETTER_CATEGORIES


def asset_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an asset of a generic package version, or None when it can."""
    if not name:
        return "an asset name must not be empty"
    if len(name) > MAX_ASSET_NAME:
        return f"an asset name must be at most {MAX_ASSET_NAME} characters long"
    if name in (".", ".."):
        return "an asset cannot be named . or .."
    bad = next((c for c in name if not _allowed(c)), None)
    if bad is not None:
        shown = repr(bad) if bad.isprintable() else f"U+{ord(bad):04X}"
        return (
            f"it contains {shown}: asset names may hold Unicode letters and digits, spaces and the characters "
            f"{_SPECIALS_TEXT}"
        )
    if name[0] == " " or name[-1] == " ":
        return "an asset name cannot begin or end with a space"
    if "  " in name:
        return "an asset name cannot contain two spaces in a row"
    return None


def check_asset_name(name: str) -> None:
    """ValidationError naming the rule ``name`` breaks, if any (``asset_name_problem``)."""
    problem = asset_name_problem(name)
    if problem is not None:
        raise ValidationError(f"Invalid asset name {name[:MAX_ASSET_NAME]!r}: {problem}")


__all__ = [
    "ASSET_NAME_SPECIALS",
    "GENERIC",
    "LETTER_CATEGORIES",
    "MAX_ASSET_NAME",
    "asset_name_problem",
    "check_asset_name",
]
