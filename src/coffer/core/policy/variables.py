"""Policy variables (``${aws:username}``) in Resource elements and string/ARN condition values.

Grammar (IAM User Guide, "IAM policy elements: Variables and tags"): ``${key}`` is replaced by the single value of
``key`` in the request context; ``${key, 'default'}`` falls back to ``default`` when the key is absent; ``${*}``,
``${?}`` and ``${$}`` stand for a literal ``*``, ``?`` and ``$``. Substituted text always matches literally.
A key that is absent (or multi-valued) with no default makes that value match nothing.
Variables are only honoured in policies with ``"Version": "2012-10-17"``; the parser decides that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from coffer.core.policy.wildcards import Parts

Lookup = Callable[[str], "tuple[str, ...] | None"]

_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_DEFAULT = re.compile(r"\s*'([^']*)'\s*")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

# token kinds: text keeps wildcard meaning, literal matches exactly, variable is looked up
_Token = tuple[str, str, "str | None"]


def has_variables(text: str) -> bool:
    """Whether ``text`` contains something that looks like a policy variable."""
    return "${" in text and _VARIABLE.search(text) is not None


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[_Token, ...]:
    """Split ``text`` into ("text"|"literal"|"variable", value, default) tokens (cached)."""
    tokens: list[_Token] = []
    pos = 0
    for found in _VARIABLE.finditer(text):
        inner = found.group(1)
        stripped = inner.strip()
        token: _Token | None = None
        if stripped in _ESCAPES:
            token = ("literal", _ESCAPES[stripped], None)
        else:
            key, comma, rest = inner.partition(",")
            key = key.strip()
            if key and not comma:
                token = ("variable", key, None)
            elif key and (default := _DEFAULT.fullmatch(rest)) is not None:
                token = ("variable", key, default.group(1))
        if token is None:
            continue  # not a well-formed variable: the characters stay plain text
        if found.start() > pos:
            tokens.append(("text", text[pos : found.start()], None))
        tokens.append(token)
        pos = found.end()
    if pos < len(text):
        tokens.append(("text", text[pos:], None))
    return tuple(tokens)


def resolve(text: str, lookup: Lookup) -> Parts | None:
    """Substitute the variables of ``text``; None when one of them has no value and no default."""
    parts: list[tuple[str, bool]] = []
    for kind, value, default in tokenize(text):
        if kind == "text":
            parts.append((value, False))
        elif kind == "literal":
            parts.append((value, True))
        else:
            found = lookup(value)
            if found is not None and len(found) == 1:
                parts.append((found[0], True))
            elif default is not None:
                parts.append((default, True))
            else:
                return None
    return tuple(parts)


def resolve_text(text: str, lookup: Lookup) -> str | None:
    """Like :func:`resolve` but joined into one plain string (for exact-comparison operators)."""
    parts = resolve(text, lookup)
    return None if parts is None else "".join(value for value, _ in parts)
