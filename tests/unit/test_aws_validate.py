"""Validation against the model's constraints, with AWS's exact messages, and the Java pattern translation."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import botocore.model
import pytest

from coffer.aws.java_regex import compile_java_pattern, java_pattern_to_python
from coffer.aws.restjson_model import ServiceSpec, build_service, load_service
from coffer.aws.restjson_parse import parse_request
from coffer.aws.shapes import shape_walk
from coffer.aws.validate import check_structure, validate_input
from coffer.core.shared.errors import ValidationError

DOMAIN_PATTERN = r"[a-z][a-z0-9\-]{0,48}[a-z0-9]"
FORMATS = "[npm, pypi, maven, nuget, generic, ruby, swift, cargo]"


@pytest.fixture(scope="module")
def service() -> ServiceSpec:
    return load_service()


def message(service: ServiceSpec, operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        validate_input(service.operations[operation], params)
    assert info.value.reason == "FIELD_VALIDATION_FAILED"
    assert info.value.code == "ValidationException" and info.value.status == 400
    return info.value.message


def test_duration_above_the_maximum(service: ServiceSpec) -> None:
    assert message(service, "GetAuthorizationToken", {"domain": "acme", "durationSeconds": 86400}) == (
        "1 validation error detected: Value '86400' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200"
    )


def test_negative_duration(service: ServiceSpec) -> None:
    assert message(service, "GetAuthorizationToken", {"domain": "acme", "durationSeconds": -1}) == (
        "1 validation error detected: Value '-1' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0"
    )


@pytest.mark.parametrize("duration", [0, 1, 899, 900, 43200])
def test_durations_the_model_allows(service: ServiceSpec, duration: int) -> None:
    # 1..899 is refused by the service layer, not by the model
    validate_input(service.operations["GetAuthorizationToken"], {"domain": "acme", "durationSeconds": duration})


def test_domain_with_upper_case_fails_the_pattern(service: ServiceSpec) -> None:
    assert message(service, "GetAuthorizationToken", {"domain": "Acme"}) == (
        "1 validation error detected: Value 'Acme' at 'domain' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {DOMAIN_PATTERN}"
    )


def test_one_letter_domain_fails_length_and_pattern(service: ServiceSpec) -> None:
    # AWS reports every constraint a value fails, one entry each
    assert message(service, "GetAuthorizationToken", {"domain": "a"}) == (
        "2 validation errors detected: "
        "Value 'a' at 'domain' failed to satisfy constraint: Member must have length greater than or equal to 2; "
        "Value 'a' at 'domain' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {DOMAIN_PATTERN}"
    )


def test_long_domain(service: ServiceSpec) -> None:
    domain = "a" * 51
    assert message(service, "GetAuthorizationToken", {"domain": domain}) == (
        f"2 validation errors detected: Value '{domain}' at 'domain' failed to satisfy constraint: Member must have "
        f"length less than or equal to 50; Value '{domain}' at 'domain' failed to satisfy constraint: Member must "
        f"satisfy regular expression pattern: {DOMAIN_PATTERN}"
    )


@pytest.mark.parametrize("domain", ["ab", "a1", "my-domain", "a" * 50, "a-" * 24 + "b0"])
def test_good_domains(service: ServiceSpec, domain: str) -> None:
    validate_input(service.operations["GetAuthorizationToken"], {"domain": domain})


@pytest.mark.parametrize("domain", ["-ab", "ab-", "a_b", "ab\n", "\nab", "a b", "ąb", "AB"])
def test_bad_domains_are_refused(service: ServiceSpec, domain: str) -> None:
    assert "regular expression pattern" in message(service, "GetAuthorizationToken", {"domain": domain})


def test_missing_required_member(service: ServiceSpec) -> None:
    assert message(service, "GetAuthorizationToken", {}) == (
        "1 validation error detected: Value null at 'domain' failed to satisfy constraint: Member must not be null"
    )


def test_two_errors_in_model_order(service: ServiceSpec) -> None:
    assert message(service, "CreateRepository", {"repository": None, "domain": "Acme"}) == (
        "2 validation errors detected: "
        "Value 'Acme' at 'domain' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {DOMAIN_PATTERN}; "
        "Value null at 'repository' failed to satisfy constraint: Member must not be null"
    )


def test_account_id(service: ServiceSpec) -> None:
    assert message(service, "GetAuthorizationToken", {"domain": "acme", "domainOwner": "12345678901x"}) == (
        "1 validation error detected: Value '12345678901x' at 'domainOwner' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [0-9]{12}"
    )


def test_enum(service: ServiceSpec) -> None:
    assert message(service, "ListPackages", {"domain": "acme", "repository": "repo", "format": "rpm"}) == (
        "1 validation error detected: Value 'rpm' at 'format' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {FORMATS}"
    )


def test_enum_is_case_sensitive(service: ServiceSpec) -> None:
    assert "enum value set" in message(service, "ListPackages", {"domain": "acme", "repository": "r1", "format": "NPM"})


def test_integer_range(service: ServiceSpec) -> None:
    assert message(service, "ListPackages", {"domain": "acme", "repository": "repo", "maxResults": 0}) == (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_nested_required_member_path(service: ServiceSpec) -> None:
    params = {"domain": "acme", "repository": "repo", "upstreams": [{"repositoryName": "up"}, {}]}
    assert message(service, "CreateRepository", params) == (
        "1 validation error detected: Value null at 'upstreams.2.member.repositoryName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_nested_pattern_path(service: ServiceSpec) -> None:
    params = {
        "domain": "acme",
        "repository": "repo",
        "tags": [{"key": "k", "value": "v"}, {"key": "", "value": "\x00"}],
    }
    assert message(service, "CreateRepository", params) == (
        "3 validation errors detected: "
        "Value '' at 'tags.2.member.key' failed to satisfy constraint: Member must have length greater than or "
        "equal to 1; "
        "Value '' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: \\P{C}+; "
        "Value '\x00' at 'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: \\P{C}*"
    )


def test_list_length(service: ServiceSpec) -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(201)]
    text = message(service, "CreateRepository", {"domain": "acme", "repository": "repo", "tags": tags})
    assert text.startswith("1 validation error detected: Value '[{key=k0, value=v}, {key=k1, value=v}, ")
    assert text.endswith("' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200")


def test_list_of_scalars_reports_once(service: ServiceSpec) -> None:
    params = {
        "domain": "acme",
        "repository": "repo",
        "format": "npm",
        "package": "p",
        "versions": ["1.0", "a b", "", "c#d"],
    }
    assert message(service, "DeletePackageVersions", params) == (
        "1 validation error detected: Value '[1.0, a b, , c#d]' at 'versions' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must satisfy regular expression pattern: [^#/\\s]+, "
        "Member must have length greater than or equal to 1]"
    )


def test_map_keys_and_values(service: ServiceSpec) -> None:
    params = {"domain": "acme", "packageGroup": "/npm/*", "restrictions": {"PUBLISH": "ALLOW", "PULL": "NEVER"}}
    assert message(service, "UpdatePackageGroupOriginConfiguration", params) == (
        "2 validation errors detected: "
        "Value '{PUBLISH=ALLOW, PULL=NEVER}' at 'restrictions' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must satisfy enum value set: [EXTERNAL_UPSTREAM, INTERNAL_UPSTREAM, PUBLISH]]; "
        "Value '{PUBLISH=ALLOW, PULL=NEVER}' at 'restrictions' failed to satisfy constraint: Map value must "
        "satisfy constraint: [Member must satisfy enum value set: [ALLOW, ALLOW_SPECIFIC_REPOSITORIES, BLOCK, "
        "INHERIT]]"
    )


def test_policy_document_allows_whitespace_but_not_other_controls(service: ServiceSpec) -> None:
    op = service.operations["PutDomainPermissionsPolicy"]
    validate_input(op, {"domain": "acme", "policyDocument": '{\n\t"Version": "2012-10-17"\r\n}'})
    text = message(service, "PutDomainPermissionsPolicy", {"domain": "acme", "policyDocument": "{\x07}"})
    assert text.endswith("Member must satisfy regular expression pattern: [\\P{C}\\s]+")


def test_asset_names_and_package_groups(service: ServiceSpec) -> None:
    asset = {
        "domain": "acme",
        "repository": "repo",
        "format": "generic",
        "namespace": "ns",
        "package": "p",
        "packageVersion": "1",
        "assetName": "name with spaces, ünïcode ✓.tar.gz",
        "assetContent": b"x",
        "assetSHA256": "0" * 64,
    }
    validate_input(service.operations["PublishPackageVersion"], asset)
    text = message(service, "PublishPackageVersion", {**asset, "assetName": "bad\u200bname"})  # U+200B is Cf
    assert "at 'assetName'" in text
    group = {"domain": "acme", "packageGroup": "/npm/*"}
    validate_input(service.operations["DescribePackageGroup"], group)
    for bad in ("/npm/ *", "/npm/\u3000", "/npm/\x7f"):
        assert "[^\\p{C}\\p{IsWhitespace}]+" in message(service, "DescribePackageGroup", {**group, "packageGroup": bad})


def test_type_errors_in_programmatic_params(service: ServiceSpec) -> None:
    assert message(service, "GetAuthorizationToken", {"domain": 5, "durationSeconds": "900"}) == (
        "2 validation errors detected: "
        "Value '5' at 'domain' failed to satisfy constraint: Member must be of type string; "
        "Value '900' at 'durationSeconds' failed to satisfy constraint: Member must be of type long"
    )
    assert "Member must be of type long" in message(
        service, "GetAuthorizationToken", {"domain": "acme", "durationSeconds": True}
    )


def test_parse_then_validate_like_the_endpoint(service: ServiceSpec) -> None:
    op = service.operations["GetAuthorizationToken"]
    params = parse_request(op, query=[("domain", "Acme"), ("duration", "86400")])
    with pytest.raises(ValidationError) as info:
        validate_input(op, params)
    assert info.value.message == (
        "2 validation errors detected: Value 'Acme' at 'domain' failed to satisfy constraint: Member must satisfy "
        f"regular expression pattern: {DOMAIN_PATTERN}; Value '86400' at 'durationSeconds' failed to satisfy "
        "constraint: Member must have value less than or equal to 43200"
    )


def test_sensitive_values_are_not_echoed() -> None:
    model = {
        "version": "2.0",
        "metadata": {"apiVersion": "1", "endpointPrefix": "s", "protocol": "rest-json", "signingName": "s"},
        "operations": {
            "Op": {"name": "Op", "http": {"method": "POST", "requestUri": "/"}, "input": {"shape": "In"}},
        },
        "shapes": {
            "Secret": {"type": "string", "min": 8, "sensitive": True},
            "Creds": {"type": "structure", "members": {"user": {"shape": "Name"}}, "sensitive": True},
            "Name": {"type": "string", "min": 3},
            "In": {"type": "structure", "members": {"password": {"shape": "Secret"}, "creds": {"shape": "Creds"}}},
        },
    }
    spec = build_service(botocore.model.ServiceModel(model, service_name="s"))
    with pytest.raises(ValidationError) as info:
        validate_input(spec.operations["Op"], {"password": "short", "creds": {"user": "ab"}})
    assert info.value.message == (
        "2 validation errors detected: "
        "Value at 'password' failed to satisfy constraint: Member must have length greater than or equal to 8; "
        "Value at 'creds.user' failed to satisfy constraint: Member must have length greater than or equal to 3"
    )
    assert "short" not in info.value.message


def test_fast_path_and_walk_agree_on_examples(service: ServiceSpec) -> None:
    op = service.operations["CreateRepository"]
    assert op.input is not None
    shape = op.input.shape
    good = {"domain": "acme", "repository": "repo", "upstreams": [{"repositoryName": "up"}], "tags": []}
    bad = {"domain": "acme", "repository": "repo", "upstreams": [None]}
    assert shape.is_valid(good) and check_structure(shape, good) == []
    assert not shape.is_valid(bad) and check_structure(shape, bad) != []


# --------------------------------------------------------------------------------------------------------------
# Java patterns


def all_patterns(service: ServiceSpec) -> set[str]:
    found: set[str] = set()
    for op in service.operations.values():
        for plan in (op.input, op.output):
            if plan is not None:
                found.update(s.pattern_source for s in shape_walk(plan.shape) if s.pattern_source is not None)
    return found


def test_every_model_pattern_compiles(service: ServiceSpec) -> None:
    patterns = all_patterns(service)
    assert len(patterns) >= 10
    assert {r"\P{C}+", r"[^\p{C}\p{IsWhitespace}]+", r"[\P{C}\s]+"} <= patterns  # Java-only syntax is in there
    for pattern in patterns:
        compiled = compile_java_pattern(pattern)
        assert isinstance(compiled, re.Pattern)
        if "\\p" not in pattern and "\\P" not in pattern:
            assert java_pattern_to_python(pattern) == pattern  # plain patterns are left alone


SAMPLES = ["", "a", "abc", " ", "a b", "\t", "\n", "\x00", "\x7f", "\x85", "\xa0", "\u200b", "\u3000", "名", "😀",
           "\ud800", "\ue000", "\U000e0001", "é", "\u0301", "-#/", "\uffff"]  # fmt: skip


def is_other(char: str) -> bool:
    return unicodedata.category(char).startswith("C")


def test_not_other_category() -> None:
    one_or_more = compile_java_pattern(r"\P{C}+")
    any_number = compile_java_pattern(r"\P{C}*")
    for text in SAMPLES:
        expected = not any(is_other(c) for c in text)
        assert bool(one_or_more.fullmatch(text)) == (expected and text != ""), repr(text)
        assert bool(any_number.fullmatch(text)) == expected, repr(text)


def test_not_other_or_java_whitespace() -> None:
    pattern = compile_java_pattern(r"[\P{C}\s]+")
    for text in SAMPLES:
        expected = text != "" and all(not is_other(c) or c in " \t\n\x0b\f\r" for c in text)
        assert bool(pattern.fullmatch(text)) == expected, repr(text)


def test_neither_other_nor_unicode_whitespace() -> None:
    pattern = compile_java_pattern(r"[^\p{C}\p{IsWhitespace}]+")
    white = set("\t\n\x0b\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}
    for text in SAMPLES:
        expected = text != "" and all(not is_other(c) and c not in white for c in text)
        assert bool(pattern.fullmatch(text)) == expected, repr(text)


def test_java_shorthands_are_ascii() -> None:
    assert compile_java_pattern(r"\s+").fullmatch(" \t\n\x0b\f\r")
    assert not compile_java_pattern(r"\s").fullmatch("\xa0")  # Java's \s is ASCII unless UNICODE_CHARACTER_CLASS
    assert not compile_java_pattern(r"\d").fullmatch("٣")
    assert not compile_java_pattern(r"\w").fullmatch("é")
    assert compile_java_pattern(r"[^#/\s]+").fullmatch("a\xa0b")
    assert not compile_java_pattern(r"(?i)abc").fullmatch("ABΓ")


@pytest.mark.parametrize(
    ("java", "matches", "refuses"),
    [
        (r"\p{L}+", ["abcé名"], ["a1", ""]),
        (r"\p{IsL}\p{Nd}", ["a1"], ["11"]),
        (r"\p{Lu}\p{Ll}*", ["Abc"], ["abc"]),
        (r"[\p{L}0-9_-]+", ["ab_9-é"], ["a b"]),
        (r"\P{L}", ["1"], ["a"]),
        (r"[^\P{L}]", ["a"], ["1"]),
        (r"\p{Alpha}+", ["abc"], ["é"]),
        (r"\x41\u0042\x{43}\t", ["ABC\t"], ["abc\t"]),
        (r"(?<word>a+)b\z", ["aab"], ["aab\n"]),
        (r"a\Z", ["a"], ["a\n"]),  # zero-width: matches() must still consume the whole input
        (r"[a\-z]+", ["a-z"], ["b"]),
        (r"[\]a]+", ["]a"], ["b"]),
        (r"\h\v", [" \n"], ["  "]),
        (r"\p{IsWhite_Space}", ["\u3000"], ["a"]),
    ],
)
def test_pattern_translation(java: str, matches: list[str], refuses: list[str]) -> None:
    pattern = compile_java_pattern(java)
    for text in matches:
        assert pattern.fullmatch(text), (java, text)
    for text in refuses:
        assert not pattern.fullmatch(text), (java, text)


@pytest.mark.parametrize("java", [r"[a-z&&[^b]]", r"\p{InGreek}", r"\p{IsLatin}", r"\Qa.b\E", r"[a", "a\\", r"\k<x>"])
def test_untranslatable_patterns_fail_loudly(java: str) -> None:
    with pytest.raises(ValueError):
        compile_java_pattern(java)
