"""Evaluation, after the IAM User Guide pages "Policy evaluation logic", "Cross-account policy evaluation logic",
"Session policies" and "AWS JSON policy elements: Principal" / "NotAction" / "NotResource" / "NotPrincipal"."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coffer.core.policy import (
    Decision,
    DecisionReason,
    PolicyDocument,
    Principal,
    RequestContext,
    evaluate,
    parse_policy,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
DOMAIN = f"arn:aws:codeartifact:us-east-1:{ACCOUNT}:domain/my-domain"
REPO = f"arn:aws:codeartifact:us-east-1:{ACCOUNT}:repository/my-domain/pypi-store"
GET_TOKEN = "codeartifact:GetAuthorizationToken"
BEARER = "sts:GetServiceBearerToken"
READ = "codeartifact:ReadFromRepository"

ALICE = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICEEXAMPLE0001")
ROOT = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:root")
SESSION = Principal.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/ci-42", "AROABUILDEREXAMPLE01:ci-42")
ROLE = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:role/team/Builder")
BOB = Principal.from_arn(f"arn:aws:iam::{OTHER}:user/bob")
FOREIGN_SESSION = Principal.from_arn(f"arn:aws:sts::{OTHER}:assumed-role/Builder/ci-42")
SERVICE = Principal.service("codeartifact.amazonaws.com")

ALLOWED = DecisionReason.ALLOWED
NO_IDENTITY = DecisionReason.NO_IDENTITY_ALLOW
NO_RESOURCE = DecisionReason.NO_RESOURCE_ALLOW
NO_SESSION = DecisionReason.NO_SESSION_ALLOW
DENY_IDENTITY = DecisionReason.EXPLICIT_DENY_IDENTITY
DENY_RESOURCE = DecisionReason.EXPLICIT_DENY_RESOURCE
DENY_SESSION = DecisionReason.EXPLICIT_DENY_SESSION


def policy(kind: Any, *statements: dict[str, Any], version: str | None = "2012-10-17") -> PolicyDocument:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body["Version"] = version
    return parse_policy(json.dumps(body), kind)


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def identity(*statements: dict[str, Any]) -> PolicyDocument:
    return policy("identity", *statements)


def resource_policy(*statements: dict[str, Any]) -> PolicyDocument:
    return policy("resource", *statements)


def ctx(
    who: Principal = ALICE, action: str = GET_TOKEN, resource: str = DOMAIN, **context: tuple[str, ...]
) -> RequestContext:
    return RequestContext(who, action, resource, {key.replace("__", ":"): value for key, value in context.items()})


Statements = list[dict[str, Any]]


def reason(decision: Decision) -> DecisionReason:
    assert decision.allowed == (decision.reason is ALLOWED)
    return decision.reason


# --- spec §4: GetAuthorizationToken needs two permissions ---

MANAGED = identity(
    allow(GET_TOKEN, DOMAIN),
    {
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
    },
)


@pytest.mark.parametrize(
    ("request_context", "expected"),
    [
        (ctx(action=GET_TOKEN), ALLOWED),
        (
            ctx(action="sts:GetServiceBearerToken", resource="*", sts__AWSServiceName=("codeartifact.amazonaws.com",)),
            ALLOWED,
        ),
        (
            ctx(action="sts:GetServiceBearerToken", resource="*", STS__awsservicename=("codeartifact.amazonaws.com",)),
            ALLOWED,
        ),
        (ctx(action="sts:GetServiceBearerToken", resource="*", sts__AWSServiceName=("s3.amazonaws.com",)), NO_IDENTITY),
        (ctx(action="sts:GetServiceBearerToken", resource="*"), NO_IDENTITY),  # key missing
        (ctx(action=GET_TOKEN, resource=DOMAIN.replace("my-domain", "other")), NO_IDENTITY),
        (ctx(action="codeartifact:getauthorizationtoken"), ALLOWED),  # actions are case-insensitive
        (ctx(resource=DOMAIN.replace("my-domain", "My-Domain")), NO_IDENTITY),  # resources are not
    ],
)
def test_managed_policy(request_context: RequestContext, expected: DecisionReason) -> None:
    assert reason(evaluate(request_context, [MANAGED])) is expected


# --- "Policy evaluation logic": deny wins, default deny, identity OR resource within an account ---

SAME_ACCOUNT_CASES = [
    # (identity statements, resource statements or None, expected)
    ([], None, NO_IDENTITY),  # implicit deny
    ([allow()], None, ALLOWED),
    ([allow(), deny(GET_TOKEN)], None, DENY_IDENTITY),
    ([deny(GET_TOKEN), allow()], None, DENY_IDENTITY),
    ([allow("codeartifact:Get*")], None, ALLOWED),
    ([allow("codeartifact:List*")], None, NO_IDENTITY),
    ([], [allow(Principal={"AWS": ALICE.arn})], ALLOWED),  # resource policy alone suffices
    ([allow()], [allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"})], ALLOWED),
    ([], [allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"})], NO_IDENTITY),
    ([allow()], [deny(Principal="*")], DENY_RESOURCE),
    ([allow()], [deny(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"})], ALLOWED),
    ([deny()], [allow(Principal="*")], DENY_IDENTITY),
    ([], [allow(Principal="*"), deny(GET_TOKEN, Principal="*")], DENY_RESOURCE),
]


@pytest.mark.parametrize(("identity_statements", "resource_statements", "expected"), SAME_ACCOUNT_CASES)
def test_same_account(
    identity_statements: list[dict[str, Any]],
    resource_statements: list[dict[str, Any]] | None,
    expected: DecisionReason,
) -> None:
    docs = [identity(*identity_statements)] if identity_statements else []
    resource = resource_policy(*resource_statements) if resource_statements is not None else None
    assert reason(evaluate(ctx(), docs, resource)) is expected
    assert reason(evaluate(ctx(), docs, resource, resource_account=ACCOUNT)) is expected


def test_deny_in_any_of_several_identity_policies_wins() -> None:
    assert reason(evaluate(ctx(), [identity(allow()), identity(deny(GET_TOKEN))])) is DENY_IDENTITY
    assert reason(evaluate(ctx(), [identity(allow("s3:*")), identity(allow(GET_TOKEN))])) is ALLOWED


# --- "Cross-account policy evaluation logic": both sides must allow ---

CROSS = ctx(BOB)
GRANT_BOB = allow(GET_TOKEN, DOMAIN, Principal={"AWS": BOB.arn})
GRANT_OTHER_ACCOUNT = allow(GET_TOKEN, DOMAIN, Principal={"AWS": OTHER})


@pytest.mark.parametrize(
    ("identity_statements", "resource_statements", "expected"),
    [
        ([allow()], None, NO_RESOURCE),
        ([allow()], [], NO_RESOURCE),
        ([], [GRANT_BOB], NO_IDENTITY),
        ([allow()], [GRANT_BOB], ALLOWED),
        ([allow()], [GRANT_OTHER_ACCOUNT], ALLOWED),
        ([allow()], [allow(Principal={"AWS": f"arn:aws:iam::{OTHER}:root"})], ALLOWED),
        ([allow()], [allow(Principal={"AWS": ACCOUNT})], NO_RESOURCE),  # names the owner, not bob
        ([allow("s3:*")], [GRANT_BOB], NO_IDENTITY),
        ([allow(), deny(GET_TOKEN)], [GRANT_BOB], DENY_IDENTITY),
        ([allow()], [GRANT_BOB, deny(Principal={"AWS": OTHER})], DENY_RESOURCE),
    ],
)
def test_cross_account(
    identity_statements: list[dict[str, Any]],
    resource_statements: list[dict[str, Any]] | None,
    expected: DecisionReason,
) -> None:
    docs = [identity(*identity_statements)] if identity_statements else []
    resource = resource_policy(*resource_statements) if resource_statements is not None else None
    assert reason(evaluate(CROSS, docs, resource, resource_account=ACCOUNT)) is expected


def test_resource_account_none_means_same_account() -> None:
    assert reason(evaluate(CROSS, [identity(allow())], None)) is ALLOWED
    assert reason(evaluate(CROSS, [identity(allow())], None, resource_account=OTHER)) is ALLOWED


# --- NotAction / NotResource ("IAM JSON policy elements: NotAction" and "NotResource") ---


PAYROLL = {
    "Effect": "Allow",
    "Action": "s3:*",
    "NotResource": ["arn:aws:s3:::hrbucket/Payroll", "arn:aws:s3:::hrbucket/Payroll/*"],
}


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        # NotAction page: Allow everything except IAM
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "s3:GetObject", "arn:aws:s3:::b/k", ALLOWED),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "iam:CreateUser", "*", NO_IDENTITY),
        ({"Effect": "Allow", "NotAction": ["iam:*", "s3:*"], "Resource": "*"}, "S3:GetObject", "*", NO_IDENTITY),
        # NotResource page: everything in S3 except the HR payroll folder
        (
            PAYROLL,
            "s3:GetObject",
            "arn:aws:s3:::hrbucket/Public",
            ALLOWED,
        ),
        (
            PAYROLL,
            "s3:GetObject",
            "arn:aws:s3:::hrbucket/Payroll/salaries.csv",
            NO_IDENTITY,
        ),
    ],
)
def test_not_action_not_resource(
    statement: dict[str, Any], action: str, resource: str, expected: DecisionReason
) -> None:
    assert reason(evaluate(ctx(action=action, resource=resource), [identity(statement)])) is expected


def test_deny_with_not_action_and_not_resource() -> None:
    # NotAction page: "Deny NotAction iam:* ... when not using MFA" style guard
    guard = {
        "Effect": "Deny",
        "NotAction": "iam:*",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
    docs = [identity(allow(), guard)]
    assert reason(evaluate(ctx(action="s3:GetObject"), docs)) is DENY_IDENTITY
    assert reason(evaluate(ctx(action="s3:GetObject", aws__MultiFactorAuthPresent=("true",)), docs)) is ALLOWED
    assert reason(evaluate(ctx(action="iam:ListUsers"), docs)) is ALLOWED
    only_here = identity(
        allow(), {"Effect": "Deny", "Action": "*", "NotResource": f"arn:aws:codeartifact:*:{ACCOUNT}:*"}
    )
    assert reason(evaluate(ctx(), [only_here])) is ALLOWED
    assert reason(evaluate(ctx(resource="arn:aws:s3:::b"), [only_here])) is DENY_IDENTITY


# --- Principal forms ("AWS JSON policy elements: Principal") ---


@pytest.mark.parametrize(
    ("principal", "who", "matches"),
    [
        ("*", ALICE, True),
        ("*", SERVICE, True),
        ({"AWS": "*"}, BOB, True),
        ({"AWS": ACCOUNT}, ALICE, True),  # an account id means every principal of the account
        ({"AWS": ACCOUNT}, SESSION, True),
        ({"AWS": ACCOUNT}, ROOT, True),
        ({"AWS": ACCOUNT}, BOB, False),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ALICE, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, BOB, False),
        ({"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}, ALICE, False),  # other partition
        ({"AWS": ALICE.arn}, ALICE, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/Alice"}, ALICE, False),
        ({"AWS": [BOB.arn, ALICE.arn]}, ALICE, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Builder"}, SESSION, True),  # a role matches its sessions
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/Builder"}, SESSION, True),  # paths are not in session ARNs
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/Builder"}, ROLE, True),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"}, SESSION, False),
        ({"AWS": f"arn:aws:iam::{OTHER}:role/Builder"}, SESSION, False),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Builder"}, FOREIGN_SESSION, False),
        ({"AWS": SESSION.arn}, SESSION, True),
        ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/other"}, SESSION, False),
        ({"AWS": "AIDAALICEEXAMPLE0001"}, ALICE, True),  # unique ids
        ({"AWS": "AROABUILDEREXAMPLE01"}, SESSION, True),
        ({"AWS": "AROABUILDEREXAMPLE01"}, ALICE, False),
        ({"Service": "codeartifact.amazonaws.com"}, SERVICE, True),
        ({"Service": "s3.amazonaws.com"}, SERVICE, False),
        ({"Service": "codeartifact.amazonaws.com"}, ALICE, False),
        ({"AWS": ACCOUNT}, SERVICE, False),
        ({"Federated": "cognito-identity.amazonaws.com"}, ALICE, False),
    ],
)
def test_principal_matching(principal: Any, who: Principal, matches: bool) -> None:
    resource = resource_policy(allow(Principal=principal))
    expected = ALLOWED if matches else NO_IDENTITY
    assert reason(evaluate(ctx(who), [], resource)) is expected


@pytest.mark.parametrize(
    ("not_principal", "who", "denied"),
    [
        # "AWS JSON policy elements: NotPrincipal": deny everyone except the listed principals
        ({"AWS": [ALICE.arn, f"arn:aws:iam::{ACCOUNT}:root"]}, ALICE, False),
        ({"AWS": ALICE.arn}, BOB, True),
        ({"AWS": ACCOUNT}, ALICE, False),
        ({"AWS": ACCOUNT}, BOB, True),
        ({"AWS": SESSION.arn}, SESSION, False),
        ({"Service": "codeartifact.amazonaws.com"}, SERVICE, False),
        ({"Service": "codeartifact.amazonaws.com"}, ALICE, True),
    ],
)
def test_not_principal(not_principal: Any, who: Principal, denied: bool) -> None:
    resource = resource_policy(allow(Principal="*"), deny(NotPrincipal=not_principal))
    expected = DENY_RESOURCE if denied else ALLOWED
    assert (
        reason(evaluate(ctx(who), [identity(allow())], resource, resource_account=who.account_id or None)) is expected
    )


def test_not_principal_allow() -> None:
    resource = resource_policy(allow(NotPrincipal={"AWS": BOB.arn}))
    assert reason(evaluate(ctx(ALICE), [], resource)) is ALLOWED
    assert reason(evaluate(ctx(BOB), [identity(allow())], resource, ACCOUNT)) is NO_RESOURCE


def test_root_has_implicit_identity_permissions() -> None:
    assert reason(evaluate(ctx(ROOT), [])) is ALLOWED
    assert reason(evaluate(ctx(ROOT), [], resource_policy(deny(Principal={"AWS": ACCOUNT})))) is DENY_RESOURCE
    foreign_root = Principal.from_arn(f"arn:aws:iam::{OTHER}:root")
    assert reason(evaluate(ctx(foreign_root), [], None, ACCOUNT)) is NO_RESOURCE
    assert reason(evaluate(ctx(foreign_root), [], resource_policy(GRANT_OTHER_ACCOUNT), ACCOUNT)) is ALLOWED


def test_service_principal_needs_the_resource_policy_only() -> None:
    grant = resource_policy(allow(Principal={"Service": "codeartifact.amazonaws.com"}))
    assert reason(evaluate(ctx(SERVICE), [], grant, ACCOUNT)) is ALLOWED
    assert reason(evaluate(ctx(SERVICE), [], None, ACCOUNT)) is NO_IDENTITY


# --- "Session policies": they intersect with identity-based permissions ---


@pytest.mark.parametrize(
    ("identity_statements", "session", "resource_statements", "expected"),
    [
        ([allow()], None, None, ALLOWED),  # no session policies at all
        ([allow()], [], None, NO_SESSION),  # session policies given, none allows
        ([allow()], [[allow(GET_TOKEN)]], None, ALLOWED),
        ([allow()], [[allow("s3:*")]], None, NO_SESSION),
        ([allow()], [[allow("s3:*")], [allow("codeartifact:*")]], None, ALLOWED),
        ([allow("s3:*")], [[allow()]], None, NO_IDENTITY),  # session policies grant nothing themselves
        ([allow()], [[allow(), deny(GET_TOKEN)]], None, DENY_SESSION),
        ([deny()], [[deny()]], None, DENY_IDENTITY),
        # resource policy naming the role: limited by the session policy
        ([], [[allow("s3:*")]], [allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Builder"})], NO_SESSION),
        ([], [[allow()]], [allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Builder"})], ALLOWED),
        ([], [[allow("s3:*")]], [allow(Principal={"AWS": ACCOUNT})], NO_SESSION),
        # resource policy naming the session ARN itself: not limited by the session policy
        ([], [[allow("s3:*")]], [allow(Principal={"AWS": SESSION.arn})], ALLOWED),
        ([], [], [allow(Principal={"AWS": SESSION.arn})], ALLOWED),
        ([], [], [allow(Principal={"AWS": SESSION.arn}), deny(Principal="*")], DENY_RESOURCE),
    ],
)
def test_session_policies(
    identity_statements: list[dict[str, Any]],
    session: list[list[dict[str, Any]]] | None,
    resource_statements: list[dict[str, Any]] | None,
    expected: DecisionReason,
) -> None:
    docs = [identity(*identity_statements)] if identity_statements else []
    sessions = None if session is None else [policy("session", *statements) for statements in session]
    resource = resource_policy(*resource_statements) if resource_statements is not None else None
    assert reason(evaluate(ctx(SESSION), docs, resource, ACCOUNT, sessions)) is expected


def test_cross_account_session() -> None:
    resource = resource_policy(allow(Principal={"AWS": FOREIGN_SESSION.arn}))
    who = ctx(FOREIGN_SESSION)
    assert reason(evaluate(who, [identity(allow())], resource, ACCOUNT, [policy("session", allow())])) is ALLOWED
    assert reason(evaluate(who, [identity(allow())], resource, ACCOUNT, [])) is NO_SESSION
    assert reason(evaluate(who, [], resource, ACCOUNT, [policy("session", allow())])) is NO_IDENTITY


# --- policy variables ("IAM policy elements: Variables and tags") ---


def test_resource_variables() -> None:
    home = identity(allow("s3:*", "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"))
    own = ctx(action="s3:GetObject", resource="arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt")
    other = ctx(action="s3:GetObject", resource="arn:aws:s3:::amzn-s3-demo-bucket/home/bob/notes.txt")
    assert reason(evaluate(own, [home])) is ALLOWED
    assert reason(evaluate(other, [home])) is NO_IDENTITY
    # aws:username is absent for a role session: the resource matches nothing
    session_ctx = ctx(SESSION, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/ci-42/x")
    assert reason(evaluate(session_ctx, [home])) is NO_IDENTITY
    # without Version 2012-10-17 the variable is plain text
    legacy = policy("identity", allow("s3:*", "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"), version=None)
    assert reason(evaluate(own, [legacy])) is NO_IDENTITY
    literal = ctx(action="s3:GetObject", resource="arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/x")
    assert reason(evaluate(literal, [legacy])) is ALLOWED


def test_resource_variable_values_are_literal() -> None:
    doc = identity(allow("s3:*", "arn:aws:s3:::b/${aws:userid}"))
    who = Principal(f"arn:aws:iam::{ACCOUNT}:user/star", ACCOUNT, "user", "AIDA*")
    assert reason(evaluate(RequestContext(who, "s3:GetObject", "arn:aws:s3:::b/AIDA*"), [doc])) is ALLOWED
    assert reason(evaluate(RequestContext(who, "s3:GetObject", "arn:aws:s3:::b/AIDAX"), [doc])) is NO_IDENTITY


def test_derived_context_keys() -> None:
    request = ctx(SESSION)
    assert request.get("aws:PrincipalAccount") == (ACCOUNT,)
    assert request.get("AWS:PRINCIPALARN") == (f"arn:aws:iam::{ACCOUNT}:role/Builder",)
    assert request.get("aws:PrincipalType") == ("AssumedRole",)
    assert request.get("aws:username") is None
    assert ctx(ALICE).get("aws:username") == ("alice",)
    assert ctx(ROOT).get("aws:userid") == (ACCOUNT,)
    overridden = RequestContext(ALICE, GET_TOKEN, DOMAIN, {"aws:PrincipalAccount": "999999999999"})  # type: ignore[dict-item]
    assert overridden.get("aws:principalaccount") == ("999999999999",)


def test_condition_on_principal_account() -> None:
    doc = resource_policy(allow(Principal="*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}))
    assert reason(evaluate(ctx(ALICE), [], doc)) is ALLOWED
    assert reason(evaluate(ctx(BOB), [identity(allow())], doc, ACCOUNT)) is NO_RESOURCE


def test_trust_policy_evaluates_without_resource() -> None:
    trust = policy("trust", {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    request = ctx(ALICE, "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/Builder")
    assert reason(evaluate(request, [], trust)) is ALLOWED


def test_principal_from_arn() -> None:
    assert (SESSION.kind, SESSION.role_name, SESSION.partition) == ("assumed-role", "Builder", "aws")
    assert (ROLE.kind, ROLE.role_name) == ("role", "Builder")
    assert (ROOT.kind, ALICE.kind, ALICE.role_name) == ("root", "user", None)
    assert (SERVICE.kind, SERVICE.account_id) == ("service", "")
    for bad in [
        "alice",
        "arn:aws:s3:::b",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/OnlyRole",
        f"arn:aws:iam::{ACCOUNT}:group/g",
    ]:
        with pytest.raises(ValueError):
            Principal.from_arn(bad)


# --- hot path: parse once, evaluate without compiling anything ---


def test_evaluation_compiles_nothing_after_parsing() -> None:
    from coffer.core.policy import wildcards

    doc = identity(allow(["codeartifact:Get*", "codeartifact:Read?romRepository"], "arn:aws:codeartifact:*:*:domain/*"))
    res = resource_policy(allow(Principal={"AWS": ACCOUNT}, Condition={"StringLike": {"aws:PrincipalArn": "arn:*"}}))
    request = ctx()
    assert reason(evaluate(request, [doc], res)) is ALLOWED
    caches = (wildcards.compile_parts, wildcards.compile_any, wildcards.compile_pattern, wildcards.any_matcher)
    misses = [cache.cache_info().misses for cache in caches]
    for _ in range(50):
        evaluate(request, [doc], res)
        evaluate(ctx(ALICE, READ, REPO), [doc], res)
    assert [cache.cache_info().misses for cache in caches] == misses


def test_documents_survive_pickling() -> None:
    import pickle

    doc = resource_policy(
        allow(["codeartifact:Get*", "s3:GetObject"], "arn:aws:codeartifact:*:*:domain/*", Principal={"AWS": ACCOUNT})
    )
    copy = pickle.loads(pickle.dumps(doc))
    assert copy == doc
    assert reason(evaluate(ctx(), [], copy)) is ALLOWED
