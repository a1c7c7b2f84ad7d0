"""Policy variables, IAM User Guide "IAM policy elements: Variables and tags"."""

from __future__ import annotations

import pytest

from coffer.core.policy.variables import has_variables, resolve, resolve_text, tokenize

_CONTEXT = {"aws:username": ("alice",), "aws:principaltag/team": ("a", "b"), "aws:userid": ("AIDA*?",)}


def _lookup(key: str) -> tuple[str, ...] | None:
    return _CONTEXT.get(key.lower())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("arn:aws:s3:::bucket/home/${aws:username}/*", "arn:aws:s3:::bucket/home/alice/*"),
        ("${aws:UserName}", "alice"),  # key names are case-insensitive
        ("${aws:missing, 'nobody'}", "nobody"),  # default value
        ("${aws:username, 'nobody'}", "alice"),
        ("a${*}b${?}c${$}", "a*b?c$"),  # the three escapes
        ("${aws:missing}", None),
        ("${aws:principaltag/team}", None),  # multi-valued keys cannot be substituted
        ("plain", "plain"),
        ("${not closed", "${not closed"),
        ("${}", "${}"),
    ],
)
def test_resolve_text(text: str, expected: str | None) -> None:
    assert resolve_text(text, _lookup) == expected


def test_substituted_values_are_literal() -> None:
    assert resolve("${aws:userid}/*", _lookup) == (("AIDA*?", True), ("/*", False))


def test_tokenize_and_detection() -> None:
    assert tokenize("x${a:b}y") == (("text", "x", None), ("variable", "a:b", None), ("text", "y", None))
    assert has_variables("x${a:b}")
    assert not has_variables("x$a{b}")
