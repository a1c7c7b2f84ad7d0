"""IAM wildcard matching: ``*`` is any run of characters, ``?`` exactly one, everything else is literal.

Patterns are compiled to regular expressions once (every other character goes through ``re.escape``) and kept in
LRU caches, so the hot path of an authorization check is a dictionary hit and one ``fullmatch``.

A pattern is a tuple of *parts* ``(text, literal)``: ``literal`` parts come from policy-variable substitution and
match their text exactly, even ``*`` and ``?``. A plain policy string is the single part ``((text, False),)``.

ARN mode follows IAM's ``ArnLike`` rule: when the pattern has all six colon-separated components, each of the first
five is matched on its own (a wildcard there never crosses a ``:``); the sixth, the resource, may contain colons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Parts = tuple[tuple[str, bool], ...]

_WILDCARD_CHARS = frozenset("*?")
_ARN_SEGMENTS = 6


def has_wildcards(text: str) -> bool:
    """True if ``text`` contains ``*`` or ``?``."""
    return "*" in text or "?" in text


def _is_arn_pattern(parts: Parts) -> bool:
    return sum(text.count(":") for text, _ in parts) >= _ARN_SEGMENTS - 1


def _to_regex(parts: Parts, arn: bool) -> str:
    out: list[str] = []
    colons = 0
    segmented = arn and _is_arn_pattern(parts)
    for text, literal in parts:
        for char in text:
            inner = segmented and colons < _ARN_SEGMENTS - 1
            if char == ":":
                colons += 1
            if literal or char not in _WILDCARD_CHARS:
                out.append(re.escape(char))
            elif char == "*":
                out.append("[^:]*" if inner else ".*")
            else:
                out.append("[^:]" if inner else ".")
    return "".join(out)


@lru_cache(maxsize=8192)
def compile_parts(parts: Parts, arn: bool = False) -> re.Pattern[str]:
    """The compiled, anchored-by-``fullmatch`` regex for a pattern (cached)."""
    return re.compile(_to_regex(parts, arn), re.DOTALL)


@lru_cache(maxsize=8192)
def compile_pattern(pattern: str, arn: bool = False) -> re.Pattern[str]:
    """The compiled regex for one plain policy string (cached)."""
    return compile_parts(((pattern, False),), arn)


@lru_cache(maxsize=4096)
def compile_any(patterns: tuple[str, ...], ignore_case: bool = False, arn: bool = False) -> re.Pattern[str]:
    """One regex matching any of ``patterns`` (cached); with ``ignore_case`` the patterns are lower-cased,
    so the caller must lower-case the value too (see :func:`match_any`)."""
    alternatives = []
    for pattern in patterns:
        text = pattern.lower() if ignore_case else pattern
        alternatives.append("(?:" + _to_regex(((text, False),), arn) + ")")
    return re.compile("|".join(alternatives) if alternatives else "(?!)", re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False, arn: bool = False) -> bool:
    """Whether ``value`` matches the IAM wildcard ``pattern``.

    ``ignore_case`` compares lower-cased forms (how IAM matches actions); ``arn`` turns on segment-wise ARN matching.
    """
    if pattern == "*":
        return True
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    if not has_wildcards(pattern):
        return pattern == value
    return compile_pattern(pattern, arn).fullmatch(value) is not None


def _always(_: str) -> bool:
    return True


class _RegexMatcher:
    """A picklable ``value -> bool`` around one compiled pattern."""

    __slots__ = ("_fullmatch", "_pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern
        self._fullmatch = pattern.fullmatch

    def __call__(self, value: str) -> bool:
        return self._fullmatch(value) is not None

    def __reduce__(self) -> tuple[type[_RegexMatcher], tuple[re.Pattern[str]]]:
        return (_RegexMatcher, (self._pattern,))


@lru_cache(maxsize=4096)
def any_matcher(patterns: tuple[str, ...], ignore_case: bool = False, arn: bool = False) -> Callable[[str], bool]:
    """A predicate telling whether a value matches any of ``patterns`` (cached; parsers keep one per statement).

    With ``ignore_case`` the predicate expects an already lower-cased value: lower-case it once per request.
    Literal-only patterns become a set lookup, a ``*`` a constant, everything else one alternation regex.
    """
    texts = tuple(pattern.lower() for pattern in patterns) if ignore_case else patterns
    if "*" in texts:
        return _always
    if not any(has_wildcards(text) for text in texts):
        return frozenset(texts).__contains__
    return _RegexMatcher(compile_any(texts, False, arn))


def match_any(patterns: tuple[str, ...], value: str, *, ignore_case: bool = False, arn: bool = False) -> bool:
    """Whether ``value`` matches at least one of ``patterns`` (one cached regex for the whole tuple)."""
    return any_matcher(patterns, ignore_case, arn)(value.lower() if ignore_case else value)


def match_parts(parts: Parts, value: str, *, ignore_case: bool = False, arn: bool = False) -> bool:
    """Whether ``value`` matches a pattern made of parts (used after policy-variable substitution)."""
    if ignore_case:
        parts = tuple((text.lower(), literal) for text, literal in parts)
        value = value.lower()
    return compile_parts(parts, arn).fullmatch(value) is not None
