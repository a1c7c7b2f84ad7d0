"""Condition operators, one table per family.

Cases follow the IAM User Guide pages "IAM JSON policy elements: Condition operators", "Single-valued vs.
multivalued context keys" (ForAllValues/ForAnyValue) and "IAM JSON policy elements: Condition" (AND/OR logic).
"""

from __future__ import annotations

from typing import Any

import pytest

from coffer.core.policy.conditions import (
    Condition,
    condition_matches,
    conditions_match,
    parse_conditions,
    parse_operator,
)
from coffer.core.policy.policy_errors import MalformedPolicyDocumentError

Ctx = tuple[str, ...] | None


def check(operator: str, policy_value: Any, context_values: Ctx, key: str = "aws:Test") -> bool:
    conds = parse_conditions({operator: {key: policy_value}}, allow_variables=True)
    lookup_table = {} if context_values is None else {key.lower(): context_values}
    lookup_table["aws:username"] = ("alice",)
    return conditions_match(conds, lambda k: lookup_table.get(k.lower()))


Case = tuple[str, Any, Ctx, bool]

STRING_CASES: list[Case] = [
    # "Condition operators" page: StringEquals "aws:PrincipalTag/job-category": "iamuser-admin"
    ("StringEquals", "iamuser-admin", ("iamuser-admin",), True),
    ("StringEquals", "iamuser-admin", ("IAMUSER-ADMIN",), False),
    ("StringEquals", "a*", ("abc",), False),  # no wildcards in StringEquals
    ("StringEquals", "a*", ("a*",), True),
    ("StringEquals", ["x", "y"], ("y",), True),  # values of one key OR
    ("StringEquals", "x", None, False),  # missing key: false
    ("StringNotEquals", "x", ("y",), True),
    ("StringNotEquals", ["x", "y"], ("y",), False),  # NOR over values
    ("StringNotEquals", "x", None, True),  # missing key: negated operators are true
    ("StringEqualsIgnoreCase", "IamUser-Admin", ("iamuser-admin",), True),
    ("StringNotEqualsIgnoreCase", "IamUser-Admin", ("iamuser-admin",), False),
    ("StringNotEqualsIgnoreCase", "IamUser-Admin", ("other",), True),
    # "Condition operators" page: StringLike "s3:prefix": ["", "home/", "home/${aws:username}/"]
    ("StringLike", ["", "home/", "home/${aws:username}/"], ("home/alice/",), True),
    ("StringLike", ["", "home/", "home/${aws:username}/"], ("",), True),
    ("StringLike", ["", "home/", "home/${aws:username}/"], ("home/bob/",), False),
    ("StringLike", "home/*", ("home/a/b",), True),
    ("StringLike", "v?.?", ("v1.2",), True),
    ("StringLike", "v?.?", ("v1x2",), False),  # "." is literal
    ("StringLike", "Home/*", ("home/a",), False),  # case-sensitive
    ("StringNotLike", "home/*", ("home/a",), False),
    ("StringNotLike", "home/*", ("other",), True),
    ("StringNotLike", "home/*", None, True),
    # spec §4: the managed policy's GetServiceBearerToken condition
    ("StringEquals", "codeartifact.amazonaws.com", ("codeartifact.amazonaws.com",), True),
    ("StringEquals", "codeartifact.amazonaws.com", ("s3.amazonaws.com",), False),
]

NUMERIC_CASES: list[Case] = [
    # "Condition operators" page: NumericLessThanEquals "s3:max-keys": "10"
    ("NumericLessThanEquals", "10", ("10",), True),
    ("NumericLessThanEquals", "10", ("11",), False),
    ("NumericLessThan", "10", ("9.5",), True),
    ("NumericLessThan", "10", ("10",), False),
    ("NumericGreaterThan", "10", ("10.01",), True),
    ("NumericGreaterThanEquals", 10, ("10",), True),  # a JSON number as the policy value
    ("NumericEquals", "1e3", ("1000",), True),
    ("NumericEquals", "43200", ("43200",), True),
    ("NumericEquals", "43200", ("900",), False),
    ("NumericNotEquals", ["1", "2"], ("3",), True),
    ("NumericNotEquals", ["1", "2"], ("2",), False),
    ("NumericEquals", "1", ("one",), False),  # unreadable context value never matches
    ("NumericNotEquals", "1", ("one",), False),
    ("NumericLessThan", "1", None, False),
    ("NumericNotEquals", "1", None, True),
]

DATE_CASES: list[Case] = [
    # "Condition operators" page: DateGreaterThan "aws:TokenIssueTime": "2020-01-01T00:00:01Z"
    ("DateGreaterThan", "2020-01-01T00:00:01Z", ("2020-01-01T00:00:02Z",), True),
    ("DateGreaterThan", "2020-01-01T00:00:01Z", ("2020-01-01T00:00:01Z",), False),
    ("DateGreaterThanEquals", "2020-01-01T00:00:01Z", ("2020-01-01T00:00:01Z",), True),
    ("DateLessThan", "2020-01-01", ("2019-12-31T23:59:59Z",), True),
    ("DateLessThanEquals", "2020-01-01T00:00:00+00:00", ("1577836800",), True),  # epoch form
    ("DateEquals", "1577836800", ("2020-01-01T00:00:00Z",), True),
    ("DateEquals", "2020-01-01T02:00:00+02:00", ("2020-01-01T00:00:00Z",), True),  # offsets honoured
    ("DateNotEquals", "2020-01-01T00:00:00Z", ("2020-01-02T00:00:00Z",), True),
    ("DateNotEquals", "2020-01-01T00:00:00Z", ("2020-01-01T00:00:00Z",), False),
    ("DateLessThan", "2020-01-01T00:00:00Z", ("yesterday",), False),
    ("DateLessThan", "2020-01-01T00:00:00Z", None, False),
]

BOOL_BINARY_CASES: list[Case] = [
    # "Condition operators" page: Bool "aws:SecureTransport": "true"
    ("Bool", "true", ("true",), True),
    ("Bool", "true", ("TRUE",), True),
    ("Bool", "true", ("false",), False),
    ("Bool", True, ("true",), True),  # a JSON boolean as the policy value
    ("Bool", "false", ("false",), True),
    ("Bool", "true", None, False),
    # "Condition operators" page: BinaryEquals "key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", ("QmluYXJ5VmFsdWVJbkJhc2U2NA==",), True),
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", ("QmluYXJ5",), False),
    ("BinaryEquals", "QmluYXJ5", ("not base64!",), False),
]

IP_CASES: list[Case] = [
    # "Condition operators" page: IpAddress "aws:SourceIp": "203.0.113.0/24" and the IPv6 example
    ("IpAddress", "203.0.113.0/24", ("203.0.113.7",), True),
    ("IpAddress", "203.0.113.0/24", ("203.0.114.7",), False),
    ("IpAddress", ["203.0.113.0/24", "2001:DB8:1234:5678::/64"], ("2001:db8:1234:5678::1",), True),
    ("IpAddress", "203.0.113.0/24", ("2001:db8::1",), False),  # family mismatch
    ("IpAddress", "203.0.113.9", ("203.0.113.9",), True),  # bare address is /32
    ("IpAddress", "203.0.113.0/24", ("not-an-ip",), False),
    ("NotIpAddress", "203.0.113.0/24", ("198.51.100.1",), True),
    ("NotIpAddress", "203.0.113.0/24", ("203.0.113.1",), False),
    ("NotIpAddress", "203.0.113.0/24", None, True),
]

ARN_CASES: list[Case] = [
    # "Condition operators" page: ArnLike "aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"
    ("ArnLike", "arn:aws:sns:*:123456789012:*", ("arn:aws:sns:us-east-1:123456789012:topic",), True),
    ("ArnLike", "arn:aws:sns:*:123456789012:*", ("arn:aws:sns:us-east-1:999999999999:topic",), False),
    ("ArnEquals", "arn:aws:sns:*:123456789012:*", ("arn:aws:sns:us-east-1:123456789012:topic",), True),
    ("ArnEquals", "arn:aws:sns:us-east-1:123456789012:t", ("arn:aws:sns:us-east-1:123456789012:t",), True),
    ("ArnLike", "arn:aws:iam::*:role/${aws:username}", ("arn:aws:iam::1:role/alice",), True),
    ("ArnNotLike", "arn:aws:sns:*:123456789012:*", ("arn:aws:sns:us-east-1:123456789012:t",), False),
    ("ArnNotEquals", "arn:aws:sns:*:123456789012:*", ("arn:aws:sns:us-east-1:1:t",), True),
    ("ArnNotLike", "arn:aws:sns:*:1:*", None, True),
    ("ArnLike", "arn:aws:sns:*:1:*", None, False),
]

NULL_CASES: list[Case] = [
    # "Condition operators" page: Null "aws:TokenIssueTime": "true" -> key absent (long-term credentials)
    ("Null", "true", None, True),
    ("Null", "true", ("2020-01-01T00:00:00Z",), False),
    ("Null", "false", ("2020-01-01T00:00:00Z",), True),
    ("Null", "false", None, False),
    ("Null", "true", (), True),  # an empty value set counts as absent
]

IF_EXISTS_CASES: list[Case] = [
    # "Condition operators" page, "...IfExists condition operators": StringLikeIfExists ec2:InstanceType
    ("StringLikeIfExists", ["t1.*", "t2.*", "m3.*"], ("t2.micro",), True),
    ("StringLikeIfExists", ["t1.*", "t2.*", "m3.*"], ("c5.large",), False),
    ("StringLikeIfExists", ["t1.*", "t2.*", "m3.*"], None, True),
    ("StringEqualsIfExists", "x", None, True),
    ("NumericLessThanIfExists", "5", None, True),
    ("NumericLessThanIfExists", "5", ("7",), False),
    ("DateGreaterThanIfExists", "2020-01-01", None, True),
    ("BoolIfExists", "true", None, True),
    ("BoolIfExists", "true", ("false",), False),
    ("IpAddressIfExists", "10.0.0.0/8", None, True),
    ("ArnLikeIfExists", "arn:aws:sns:*:1:*", None, True),
    ("BinaryEqualsIfExists", "QQ==", None, True),
    ("StringNotEqualsIfExists", "x", ("x",), False),
]

SET_CASES: list[Case] = [
    # "Single-valued vs. multivalued context keys": ForAllValues:StringEquals "aws:TagKeys"
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ("environment",), True),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ("environment", "cost-center"), True),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], ("environment", "dept"), False),
    ("ForAllValues:StringEquals", ["environment", "cost-center"], (), True),  # empty set: true
    ("ForAllValues:StringEquals", ["environment", "cost-center"], None, True),  # missing: true
    ("ForAnyValue:StringEquals", ["environment", "cost-center"], ("dept", "environment"), True),
    ("ForAnyValue:StringEquals", ["environment", "cost-center"], ("dept",), False),
    ("ForAnyValue:StringEquals", ["environment", "cost-center"], (), False),  # empty set: false
    ("ForAnyValue:StringEquals", ["environment", "cost-center"], None, False),  # missing: false
    ("ForAnyValue:StringEqualsIfExists", ["environment"], None, True),
    ("ForAllValues:StringLike", ["env*"], ("env1", "env2"), True),
    ("ForAllValues:StringNotEquals", ["secret"], ("a", "b"), True),
    ("ForAllValues:StringNotEquals", ["secret"], ("a", "secret"), False),
    ("ForAnyValue:StringNotEquals", ["secret"], ("secret", "a"), True),
    ("ForAnyValue:StringNotEquals", ["secret"], ("secret",), False),
    ("ForAllValues:NumericLessThan", "10", ("1", "2"), True),
    ("ForAllValues:NumericLessThan", "10", ("1", "x"), False),  # unreadable value fails ForAllValues
    # without a set prefix a multivalued key matches when any value does (none, for negated operators)
    ("StringEquals", "b", ("a", "b"), True),
    ("StringNotEquals", "b", ("a", "b"), False),
]


@pytest.mark.parametrize(
    ("operator", "policy_value", "context_values", "expected"),
    STRING_CASES
    + NUMERIC_CASES
    + DATE_CASES
    + BOOL_BINARY_CASES
    + IP_CASES
    + ARN_CASES
    + NULL_CASES
    + IF_EXISTS_CASES
    + SET_CASES,
)
def test_operator(operator: str, policy_value: Any, context_values: Ctx, expected: bool) -> None:
    assert check(operator, policy_value, context_values) is expected


def test_condition_keys_are_case_insensitive() -> None:
    assert check("StringEquals", "x", ("x",), key="AWS:SourceVpce")
    conds = parse_conditions({"StringEquals": {"aws:SOURCEVPCE": "x"}}, allow_variables=False)
    assert condition_matches(conds[0], lambda k: {"aws:sourcevpce": ("x",)}.get(k.lower()))


def test_keys_in_one_operator_and_together() -> None:
    # "IAM JSON policy elements: Condition": "The condition keys are evaluated using a logical AND"
    conds = parse_conditions({"StringEquals": {"aws:A": "1", "aws:B": "2"}}, allow_variables=False)
    both = {"aws:a": ("1",), "aws:b": ("2",)}
    one = {"aws:a": ("1",), "aws:b": ("3",)}
    assert conditions_match(conds, lambda k: both.get(k.lower()))
    assert not conditions_match(conds, lambda k: one.get(k.lower()))


def test_operators_and_together() -> None:
    conds = parse_conditions({"StringEquals": {"aws:A": "1"}, "NumericLessThan": {"aws:B": "5"}}, allow_variables=False)
    assert conditions_match(conds, lambda k: {"aws:a": ("1",), "aws:b": ("4",)}.get(k.lower()))
    assert not conditions_match(conds, lambda k: {"aws:a": ("1",), "aws:b": ("6",)}.get(k.lower()))
    assert conditions_match((), lambda k: None)


def test_variables_only_when_enabled() -> None:
    conds = parse_conditions({"StringEquals": {"aws:A": "${aws:username}"}}, allow_variables=False)
    assert conds == (Condition("StringEquals", "aws:A", ("${aws:username}",), False),)
    table = {"aws:a": ("${aws:username}",), "aws:username": ("alice",)}
    assert conditions_match(conds, lambda k: table.get(k.lower()))
    assert check("StringEquals", "${aws:username}", ("alice",))
    assert check("StringEqualsIgnoreCase", "${aws:username}", ("ALICE",))
    assert not check("StringEquals", "${aws:nobody}", ("",))  # unresolvable value matches nothing
    assert check("StringEquals", "${aws:nobody, 'x'}", ("x",))


@pytest.mark.parametrize(
    ("name", "base", "if_exists", "set_operator", "negated"),
    [
        ("StringEquals", "StringEquals", False, None, False),
        ("StringNotLikeIfExists", "StringNotLike", True, None, True),
        ("ForAllValues:StringLike", "StringLike", False, "ForAllValues", False),
        ("ForAnyValue:NotIpAddressIfExists", "NotIpAddress", True, "ForAnyValue", True),
    ],
)
def test_parse_operator(name: str, base: str, if_exists: bool, set_operator: str | None, negated: bool) -> None:
    op = parse_operator(name)
    assert (op.base, op.if_exists, op.set_operator, op.negated) == (base, if_exists, set_operator, negated)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"StringEqualz": {"aws:A": "x"}}, "Invalid Condition type : StringEqualz"),
        ({"NullIfExists": {"aws:A": "true"}}, "Invalid Condition type : NullIfExists"),
        ({"ForSomeValues:StringEquals": {"aws:A": "x"}}, "Invalid Condition type"),
        ({"stringequals": {"aws:A": "x"}}, "Invalid Condition type"),
        ({"StringEquals": "x"}, "Syntax errors in policy"),
        ({"StringEquals": {"aws:A": []}}, "has no value"),
        ({"StringEquals": {"aws:A": [None]}}, "bad value"),
        ({"StringEquals": {"aws:A": {"x": "y"}}}, "bad value"),
        ({"StringEquals": {"SourceIp": "x"}}, "Actions/Conditions must be prefaced by a vendor"),
        ({"NumericEquals": {"aws:A": "ten"}}, "Invalid Condition value for NumericEquals aws:A: ten"),
        ({"DateEquals": {"aws:A": "someday"}}, "Invalid Condition value"),
        ({"IpAddress": {"aws:A": "300.0.0.1/8"}}, "Invalid Condition value"),
        ({"Bool": {"aws:A": "yes"}}, "Invalid Condition value"),
        ({"Null": {"aws:A": "maybe"}}, "Invalid Condition value"),
        ({"BinaryEquals": {"aws:A": "!!"}}, "Invalid Condition value"),
        ([], "Syntax errors in policy"),
    ],
)
def test_invalid_conditions(block: Any, message: str) -> None:
    with pytest.raises(MalformedPolicyDocumentError, match=message.replace("(", r"\(")):
        parse_conditions(block, allow_variables=True)
