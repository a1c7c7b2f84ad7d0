"""Wildcard matching: ``*`` any run, ``?`` one character, everything else literal.

Cases from the IAM User Guide pages "IAM JSON policy elements: Action" (wildcards in actions, case-insensitive)
and "IAM JSON policy elements: Resource" (wildcards in ARNs, case-sensitive).
"""

from __future__ import annotations

import pytest

from coffer.core.policy.wildcards import compile_pattern, match_any, match_parts, wildcard_match


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "", True),
        ("*", "anything:at/all", True),
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("a*", "a", True),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?c", "abbc", False),
        ("??", "ab", True),
        ("*/*", "a/b/c", True),
        ("*\n*", "x\ny", True),
        # regular-expression metacharacters are literal
        ("a.c", "a.c", True),
        ("a.c", "abc", False),
        ("a+", "a+", True),
        ("a+", "aa", False),
        ("f(x)", "f(x)", True),
        ("f(x)", "fx", False),
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("a|b", "a", False),
        ("^a$", "^a$", True),
        ("a{2}", "aa", False),
        ("a\\d", "a\\d", True),
        ("a\\d", "a1", False),
        ("pkg-1.0.*", "pkg-1.0.tar.gz", True),
        ("pkg-1.0.*", "pkg-1x0.tar.gz", False),
    ],
)
def test_wildcard_match(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # "IAM JSON policy elements: Action": action names are case-insensitive
        ("codeartifact:GetAuthorizationToken", "codeartifact:getauthorizationtoken", True),
        ("CodeArtifact:Get*", "codeartifact:GetAuthorizationToken", True),
        ("iam:*AccessKey*", "iam:ListAccessKeys", True),
        ("s3:?etObject", "S3:GETOBJECT", True),
        ("s3:Get*", "s3:PutObject", False),
    ],
)
def test_ignore_case(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value, ignore_case=True) is expected
    assert match_any((pattern, "nope:Nothing"), value, ignore_case=True) is expected


def test_case_sensitive_by_default() -> None:
    # "IAM JSON policy elements: Resource": resource ARNs are case-sensitive
    assert not wildcard_match("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/key")
    assert wildcard_match("arn:aws:s3:::Bucket/*", "arn:aws:s3:::Bucket/key")


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (
            "arn:aws:codeartifact:*:111122223333:domain/my-domain",
            "arn:aws:codeartifact:us-east-1:111122223333:domain/my-domain",
            True,
        ),
        # a wildcard in one of the first five segments does not cross a colon
        ("arn:aws:codeartifact:*:domain/x", "arn:aws:codeartifact:us-east-1:111122223333:domain/x", True),
        ("arn:aws:codeartifact:*:*:domain/x", "arn:aws:codeartifact:us-east-1:111122223333:domain/x", True),
        ("arn:aws:codeartifact:*:*:domain/x", "arn:aws:codeartifact:us-east-1:111122223333:extra:domain/x", False),
        ("arn:aws:codeartifact:us-*:111122223333:*", "arn:aws:codeartifact:us-east-1:111122223333:x:y", True),
        # the resource segment may contain colons
        ("arn:aws:logs:*:*:log-group:*", "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s", True),
        ("arn:aws:codeartifact:??-east-1:*:*", "arn:aws:codeartifact:us-east-1:111122223333:domain/x", True),
        ("arn:aws:codeartifact:?:*:*", "arn:aws:codeartifact:us-east-1:111122223333:domain/x", False),
    ],
)
def test_arn_segments(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value, arn=True) is expected


def test_match_any_and_empty() -> None:
    assert match_any(("a", "b*"), "bcd")
    assert not match_any(("a", "b*"), "cd")
    assert match_any(("x", "*"), "anything")
    assert not match_any((), "anything")


def test_literal_parts_keep_wildcards_literal() -> None:
    parts = (("home/", False), ("a*b?", True), ("/*", False))
    assert match_parts(parts, "home/a*b?/file")
    assert not match_parts(parts, "home/axxbz/file")
    assert match_parts(parts, "HOME/A*B?/x", ignore_case=True)


def test_compiled_patterns_are_cached() -> None:
    assert compile_pattern("cache-me-*") is compile_pattern("cache-me-*")
    wildcard_match("cache-me-*", "warm-up")
    before = compile_pattern.cache_info().hits
    for _ in range(10):
        wildcard_match("cache-me-*", "cache-me-now")
    assert compile_pattern.cache_info().hits >= before + 10
