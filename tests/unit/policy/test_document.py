"""Parsing and validation, IAM User Guide "IAM JSON policy element reference" and "Grammar of the IAM JSON
policy language"; messages as IAM's MalformedPolicyDocument errors word them where known."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coffer.core.policy import (
    DEFAULT_MAX_SIZE,
    Condition,
    MalformedPolicyDocumentError,
    PolicyDocument,
    PrincipalSpec,
    Statement,
    parse_policy,
    policy_size,
)
from coffer.core.shared.errors import CofferError

ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
# spec §4: the statement AWS's managed policies grant for GetAuthorizationToken
BEARER = {
    "Effect": "Allow",
    "Action": "sts:GetServiceBearerToken",
    "Resource": "*",
    "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
}


def doc(*statements: dict[str, Any], **top: Any) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17", **top}
    if statements:
        body["Statement"] = list(statements)
    return json.dumps(body)


def test_error_shape() -> None:
    error = MalformedPolicyDocumentError("x")
    assert isinstance(error, CofferError)
    assert (error.code, error.status, error.message) == ("MalformedPolicyDocument", 400, "x")


def test_managed_policy_statement() -> None:
    parsed = parse_policy(doc(BEARER), "identity")
    assert parsed == PolicyDocument(
        kind="identity",
        statements=(
            Statement(
                effect="Allow",
                action=("sts:GetServiceBearerToken",),
                resource=("*",),
                condition=(Condition("StringEquals", "sts:AWSServiceName", ("codeartifact.amazonaws.com",)),),
            ),
        ),
        version="2012-10-17",
    )


def test_single_statement_object_and_optional_version() -> None:
    parsed = parse_policy(json.dumps({"Id": "p1", "Statement": ALLOW_ALL}), "identity")
    assert parsed.version is None and parsed.id == "p1" and len(parsed.statements) == 1


def test_all_elements() -> None:
    statement = {
        "Sid": "Everything",
        "Effect": "Deny",
        "NotAction": ["codeartifact:Get*", "sts:GetServiceBearerToken"],
        "NotResource": "arn:aws:codeartifact:*:111122223333:domain/${aws:username}",
        "NotPrincipal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/Admin"]},
        "Condition": {"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"sts:DurationSeconds": 900}},
    }
    parsed = parse_policy(doc(statement), "resource").statements[0]
    assert parsed.sid == "Everything" and parsed.effect == "Deny"
    assert parsed.action is None and parsed.not_action == ("codeartifact:Get*", "sts:GetServiceBearerToken")
    assert parsed.resource is None and parsed.resource_variables
    assert parsed.not_principal == PrincipalSpec(aws=("111122223333", "arn:aws:iam::111122223333:role/Admin"))
    assert parsed.condition == (
        Condition("Bool", "aws:SecureTransport", ("false",)),
        Condition("NumericLessThan", "sts:DurationSeconds", ("900",)),
    )


def test_variables_need_2012_version() -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"}
    assert parse_policy(doc(statement), "identity").statements[0].resource_variables
    old = json.dumps({"Version": "2008-10-17", "Statement": statement})
    assert not parse_policy(old, "identity").statements[0].resource_variables


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": "111122223333"},
        {"AWS": "arn:aws:iam::111122223333:root"},
        {"AWS": "arn:aws:iam::111122223333:user/division/alice"},
        {"AWS": "arn:aws:iam::111122223333:role/Builder"},
        {"AWS": "arn:aws:sts::111122223333:assumed-role/Builder/ci-42"},
        {"AWS": "AIDACKCEVSQ6C2EXAMPLE"},
        {"Service": "codeartifact.amazonaws.com"},
        {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    ],
)
def test_principal_forms(principal: Any) -> None:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "codeartifact:*", "Resource": "*"}
    assert parse_policy(doc(statement), "resource").statements[0].principal is not None
    trust = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    assert parse_policy(doc(trust), "trust").statements[0].principal is not None


def test_resource_policy_resource_is_optional() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "codeartifact:ReadFromRepository"}
    assert parse_policy(doc(statement), "resource").statements[0].resource is None


STATEMENT_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("identity", {"Action": "*", "Resource": "*"}, "Missing required field Effect"),
    ("identity", {"Effect": "allow", "Action": "*", "Resource": "*"}, "Invalid effect: allow"),
    ("identity", {"Effect": "Allow", "Resource": "*"}, "Policy statement must contain actions."),
    ("identity", {"Effect": "Allow", "Action": [], "Resource": "*"}, "Policy statement must contain actions."),
    ("identity", {"Effect": "Allow", "Action": "*"}, "Policy statement must contain resources."),
    ("identity", {"Effect": "Allow", "Action": "*", "Resource": []}, "Policy statement must contain resources."),
    ("identity", {**ALLOW_ALL, "NotAction": "s3:*"}, "cannot contain both Action and NotAction"),
    ("identity", {**ALLOW_ALL, "NotResource": "*"}, "cannot contain both Resource and NotResource"),
    ("identity", {**ALLOW_ALL, "Principal": "*"}, "Has prohibited field Principal"),
    ("session", {**ALLOW_ALL, "NotPrincipal": {"AWS": "*"}}, "Has prohibited field NotPrincipal"),
    ("resource", ALLOW_ALL, "Missing required field Principal"),
    ("trust", {"Effect": "Allow", "Action": "sts:AssumeRole"}, "Missing required field Principal"),
    ("trust", {**ALLOW_ALL, "Principal": "*"}, "Has prohibited field Resource"),
    ("resource", {**ALLOW_ALL, "Principal": "*", "NotPrincipal": "*"}, "both Principal and NotPrincipal"),
    ("identity", {**ALLOW_ALL, "Foo": 1}, "Unknown field Foo"),
    ("identity", {**ALLOW_ALL, "effect": "Allow"}, "Unknown field effect"),
    ("identity", {**ALLOW_ALL, "Action": "GetObject"}, "Actions/Conditions must be prefaced by a vendor"),
    ("identity", {**ALLOW_ALL, "Action": ":GetObject"}, "Actions/Conditions must be prefaced by a vendor"),
    ("identity", {**ALLOW_ALL, "Action": "s3*:GetObject"}, "Action vendors must not contain wildcards."),
    ("identity", {**ALLOW_ALL, "Action": "s 3:GetObject"}, "Vendor s 3 is not valid"),
    ("identity", {**ALLOW_ALL, "Action": "s3:"}, "Action s3: is not valid"),
    ("identity", {**ALLOW_ALL, "Action": 5}, "Syntax errors in policy."),
    ("identity", {**ALLOW_ALL, "Action": ["s3:Get*", None]}, "Syntax errors in policy."),
    ("identity", {**ALLOW_ALL, "Resource": "bucket"}, 'Resource bucket must be in ARN format or "*".'),
    ("identity", {**ALLOW_ALL, "Resource": "arn:aws:s3"}, "must be in ARN format"),
    ("identity", {**ALLOW_ALL, "Resource": "arn:aws:s*:::b"}, "Resource vendor must be fully qualified"),
    ("identity", {**ALLOW_ALL, "Sid": "has space"}, "Statement IDs (SID) must be alpha-numeric."),
    ("identity", {**ALLOW_ALL, "Sid": 7}, "Syntax errors in policy."),
    ("identity", {**ALLOW_ALL, "Condition": {"StringEqualz": {"aws:A": "x"}}}, "Invalid Condition type"),
    ("resource", {**ALLOW_ALL, "Principal": "111122223333"}, "Invalid principal in policy"),
    ("resource", {**ALLOW_ALL, "Principal": {}}, "Invalid principal in policy"),
    ("resource", {**ALLOW_ALL, "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"}}, "Invalid principal"),
    ("resource", {**ALLOW_ALL, "Principal": {"AWS": "bob"}}, 'Invalid principal in policy: "AWS":"bob"'),
    ("resource", {**ALLOW_ALL, "Principal": {"Service": "*"}}, 'Invalid principal in policy: "SERVICE":"*"'),
    ("resource", {**ALLOW_ALL, "Principal": {"Group": "x"}}, "Invalid principal in policy"),
    ("resource", {**ALLOW_ALL, "Principal": {"AWS": []}}, "Invalid principal in policy"),
    (
        "trust",
        {"Effect": "Allow", "Action": "sts:AssumeRole", "NotPrincipal": "*"},
        "Has prohibited field NotPrincipal",
    ),
]


@pytest.mark.parametrize(("kind", "statement", "message"), STATEMENT_ERRORS)
def test_statement_errors(kind: Any, statement: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPolicyDocumentError) as raised:
        parse_policy(doc(statement), kind)
    assert message in raised.value.message


def test_resource_sid_may_contain_spaces() -> None:
    statement = {**ALLOW_ALL, "Principal": "*", "Sid": "Allow read for all"}
    assert parse_policy(doc(statement), "resource").statements[0].sid == "Allow read for all"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "This policy contains invalid Json"),
        ("{", "This policy contains invalid Json"),
        ("{'Statement': []}", "This policy contains invalid Json"),
        ('{"Statement": [], "Version": NaN}', "This policy contains invalid Json"),
        ("[" * 3000 + "]" * 3000, "This policy contains invalid Json"),
        ("[]", "Syntax errors in policy."),
        ('"policy"', "Syntax errors in policy."),
        ('{"Version": "2012-10-17"}', "Missing required field Statement"),
        ('{"Version": "2012-10-18", "Statement": []}', "The policy must contain a valid version string"),
        ('{"Version": 2012, "Statement": []}', "The policy must contain a valid version string"),
        ('{"Id": 1, "Statement": []}', "Syntax errors in policy."),
        ('{"Statement": "x"}', "Syntax errors in policy."),
        ('{"Statement": ["x"]}', "Syntax errors in policy."),
        ('{"Statement": [], "Foo": 1}', "Unknown field Foo"),
        ('{"Statement": [], "Statement": []}', "Duplicate key Statement"),
    ],
)
def test_document_errors(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocumentError) as raised:
        parse_policy(text, "identity", max_size=100_000)
    assert message in raised.value.message


def test_duplicate_sid() -> None:
    with pytest.raises(MalformedPolicyDocumentError, match=r"Statement IDs \(SID\) in a single policy must be unique"):
        parse_policy(doc({**ALLOW_ALL, "Sid": "A"}, {**ALLOW_ALL, "Sid": "A"}), "identity")
    assert len(parse_policy(doc({**ALLOW_ALL, "Sid": ""}, {**ALLOW_ALL, "Sid": ""}), "identity").statements) == 2


def test_empty_statement_list_is_valid() -> None:
    assert parse_policy('{"Statement": []}', "identity").statements == ()


def test_size_limits() -> None:
    assert DEFAULT_MAX_SIZE == {"identity": 6144, "resource": 7168, "trust": 2048, "session": 2048}
    padded = doc({**ALLOW_ALL, "Resource": "arn:aws:s3:::" + "b" * 6200})
    with pytest.raises(MalformedPolicyDocumentError, match="Cannot exceed quota for PolicySize: 6144"):
        parse_policy(padded, "identity")
    assert parse_policy(padded, "identity", max_size=10240).statements
    with pytest.raises(MalformedPolicyDocumentError, match=r"PolicySize: 10$"):
        parse_policy(doc(ALLOW_ALL), "identity", max_size=10)


def test_iam_size_ignores_whitespace() -> None:
    text = doc(ALLOW_ALL)
    spaced = json.dumps(json.loads(text), indent=40)
    assert policy_size(spaced, "identity") == policy_size(text, "identity") < len(spaced)
    assert policy_size(spaced, "resource") == len(spaced)
    assert parse_policy(spaced, "identity", max_size=policy_size(text, "identity")).statements


def test_not_a_string() -> None:
    with pytest.raises(MalformedPolicyDocumentError):
        parse_policy(b'{"Statement": []}', "identity")  # type: ignore[arg-type]
    with pytest.raises(MalformedPolicyDocumentError):
        parse_policy('{"Statement": []}', "group")  # type: ignore[arg-type]
