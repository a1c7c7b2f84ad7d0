"""Property tests: parse_policy fails only with MalformedPolicyDocumentError, and whatever it accepts
evaluates without raising."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coffer.core.policy import (
    MalformedPolicyDocumentError,
    PolicyDocument,
    Principal,
    RequestContext,
    evaluate,
    parse_policy,
)

KINDS = st.sampled_from(["identity", "resource", "trust", "session"])
FIELDS = [
    "Version", "Id", "Statement", "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
    "Principal", "NotPrincipal", "Condition", "AWS", "Service",
]  # fmt: skip
OPERATORS = [
    "StringEquals", "StringNotLike", "ForAllValues:StringLike", "ForAnyValue:StringEqualsIfExists",
    "NumericLessThan", "DateGreaterThan", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnLike",
    "Null", "NullIfExists", "Bogus",
]  # fmt: skip
ATOMS = [
    "*", "2012-10-17", "2008-10-17", "Allow", "Deny", "s3:GetObject", "codeartifact:*", "sts:Get*", "arn:aws:s3:::b/*",
    "arn:aws:codeartifact:*:111122223333:domain/d", "111122223333", "arn:aws:iam::111122223333:root",
    "arn:aws:sts::111122223333:assumed-role/R/s", "codeartifact.amazonaws.com", "aws:SourceIp", "10.0.0.0/8",
    "true", "2020-01-01T00:00:00Z", "${aws:username}", "${aws:x, 'y'}", "QQ==", "1e3", "",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(ATOMS),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(FIELDS + OPERATORS), st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


def _policy_shaped() -> st.SearchStrategy[dict[str, Any]]:
    strings = st.one_of(st.sampled_from(ATOMS), st.lists(st.sampled_from(ATOMS), max_size=3), json_values)
    condition = st.dictionaries(
        st.sampled_from(OPERATORS),
        st.dictionaries(st.sampled_from(["aws:SourceIp", "aws:username", "sts:x", "bad"]), strings, max_size=2),
        max_size=2,
    )
    principal = st.one_of(
        st.just("*"),
        st.dictionaries(st.sampled_from(["AWS", "Service", "Federated", "Other"]), strings, max_size=2),
        json_values,
    )
    statement = st.fixed_dictionaries(
        {},
        optional={
            "Sid": st.one_of(st.sampled_from(["", "A", "B", "with space"]), json_values),
            "Effect": st.sampled_from(["Allow", "Deny", "allow"]),
            "Action": strings,
            "NotAction": strings,
            "Resource": strings,
            "NotResource": strings,
            "Principal": principal,
            "NotPrincipal": principal,
            "Condition": st.one_of(condition, json_values),
        },
    )
    return st.fixed_dictionaries(
        {"Statement": st.one_of(statement, st.lists(statement, max_size=3), json_values)},
        optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17", "2012"]), "Id": json_values},
    )


def _parse_or_reject(text: str, kind: Any) -> PolicyDocument | None:
    try:
        return parse_policy(text, kind, max_size=100_000)
    except MalformedPolicyDocumentError:
        return None


CONTEXTS = [
    RequestContext(
        Principal.from_arn("arn:aws:sts::111122223333:assumed-role/R/s"),
        "codeartifact:GetAuthorizationToken",
        "arn:aws:codeartifact:us-east-1:111122223333:domain/d",
        {"aws:SourceIp": ("10.1.2.3",), "sts:x": ("a", "b")},
    ),
    RequestContext(Principal.service("codeartifact.amazonaws.com"), "s3:GetObject", "arn:aws:s3:::b/k", {}),
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, kind=KINDS)
def test_arbitrary_json_only_raises_malformed(value: Any, kind: Any) -> None:
    _parse_or_reject(json.dumps(value), kind)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200), kind=KINDS)
def test_arbitrary_text_only_raises_malformed(text: str, kind: Any) -> None:
    _parse_or_reject(text, kind)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(value=_policy_shaped(), kind=KINDS)
def test_policy_shaped_input_parses_or_is_malformed_and_evaluates(value: dict[str, Any], kind: Any) -> None:
    parsed = _parse_or_reject(json.dumps(value), kind)
    event("accepted" if parsed is not None else "rejected")
    if parsed is None:
        return
    for ctx in CONTEXTS:
        if kind in ("resource", "trust"):
            evaluate(ctx, [], parsed, resource_account="999999999999")
        else:
            evaluate(ctx, [parsed], session_policies=[parsed])


def _mostly_valid(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    actions = st.lists(st.sampled_from(["*", "s3:GetObject", "codeartifact:*", "sts:Get*", "Codeartifact:Get?uth*"]))
    resources = st.lists(
        st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:aws:codeartifact:*:111122223333:domain/${aws:username}"])
    )
    keys = st.sampled_from(["aws:SourceIp", "aws:username", "sts:x", "aws:Missing"])
    strings = st.lists(st.sampled_from(["*", "a", "${aws:username}", "arn:aws:s3:::*", "10.*"]), min_size=1)
    addresses = st.lists(st.sampled_from(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]), min_size=1)
    string_ops = st.sampled_from(
        ["StringEquals", "StringNotLike", "ForAllValues:StringLike", "ForAnyValue:StringEqualsIfExists",
         "ArnLike", "StringEqualsIgnoreCase"]
    )  # fmt: skip
    ip_ops = st.sampled_from(["IpAddress", "NotIpAddressIfExists", "ForAnyValue:IpAddress"])
    condition = st.one_of(
        st.dictionaries(string_ops, st.dictionaries(keys, strings), max_size=3),
        st.dictionaries(ip_ops, st.dictionaries(keys, addresses), max_size=2),
    )
    fields: dict[str, st.SearchStrategy[Any]] = {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": actions.map(lambda items: items or ["*"]),
        "Resource": resources.map(lambda items: items or ["*"]),
    }
    if kind == "resource":
        fields["Principal"] = st.one_of(
            st.just("*"),
            st.fixed_dictionaries({"AWS": st.sampled_from(["*", "111122223333", "arn:aws:iam::111122223333:role/R"])}),
            st.fixed_dictionaries({"Service": st.just("codeartifact.amazonaws.com")}),
        )
    statement = st.fixed_dictionaries(fields, optional={"Condition": condition})
    return st.fixed_dictionaries(
        {"Version": st.sampled_from(["2012-10-17", "2008-10-17"]), "Statement": st.lists(statement, max_size=4)}
    )


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(identity=_mostly_valid("identity"), resource=_mostly_valid("resource"))
def test_valid_policies_evaluate(identity: dict[str, Any], resource: dict[str, Any]) -> None:
    identity_doc = parse_policy(json.dumps(identity), "identity", max_size=100_000)
    resource_doc = parse_policy(json.dumps(resource), "resource", max_size=100_000)
    deny_all = parse_policy('{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}', "identity")
    for ctx in CONTEXTS:
        for account in (None, "111122223333", "999999999999"):
            with_session = evaluate(ctx, [identity_doc], resource_doc, account, session_policies=[identity_doc])
            without_session = evaluate(ctx, [identity_doc], resource_doc, account)
            assert with_session.allowed == (with_session.reason.name == "ALLOWED")
            # session policies only ever take permissions away
            assert without_session.allowed or not with_session.allowed
            # "Policy evaluation logic": an explicit deny in an identity-based policy always wins
            denied = evaluate(ctx, [identity_doc, deny_all], resource_doc, account)
            assert denied.reason.name == "EXPLICIT_DENY_IDENTITY"
            assert not denied.allowed
