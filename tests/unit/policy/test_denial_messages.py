"""AccessDenied texts (spec §2 and §4; AWS's "Troubleshoot access denied error messages" page)."""

from __future__ import annotations

import json

import pytest

from coffer.core.policy import (
    Decision,
    DecisionReason,
    Principal,
    RequestContext,
    denial_message,
    evaluate,
    parse_policy,
)

USER = "arn:aws:iam::111122223333:user/alice"
ACTION = "codeartifact:GetAuthorizationToken"
DOMAIN = "arn:aws:codeartifact:us-east-1:111122223333:domain/my-domain"
PREFIX = f"User: {USER} is not authorized to perform: {ACTION} on resource: {DOMAIN}"


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (
            DecisionReason.NO_IDENTITY_ALLOW,
            f"{PREFIX} because no identity-based policy allows the codeartifact:GetAuthorizationToken action",
        ),
        (
            DecisionReason.NO_RESOURCE_ALLOW,
            f"{PREFIX} because no resource-based policy allows the codeartifact:GetAuthorizationToken action",
        ),
        (
            DecisionReason.NO_SESSION_ALLOW,
            f"{PREFIX} because no session policy allows the codeartifact:GetAuthorizationToken action",
        ),
        (DecisionReason.EXPLICIT_DENY_IDENTITY, f"{PREFIX} with an explicit deny in an identity-based policy"),
        (DecisionReason.EXPLICIT_DENY_RESOURCE, f"{PREFIX} with an explicit deny in a resource-based policy"),
        (DecisionReason.EXPLICIT_DENY_SESSION, f"{PREFIX} with an explicit deny in a session policy"),
    ],
)
def test_messages(reason: DecisionReason, text: str) -> None:
    assert denial_message(USER, ACTION, DOMAIN, Decision(False, reason)) == text


def test_spec_example_exactly() -> None:
    # spec §2, verbatim apart from the placeholders
    decision = evaluate(RequestContext(Principal.from_arn(USER), ACTION, DOMAIN), [])
    assert denial_message(USER, ACTION, DOMAIN, decision) == (
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
        "codeartifact:GetAuthorizationToken on resource: "
        "arn:aws:codeartifact:us-east-1:111122223333:domain/my-domain "
        "because no identity-based policy allows the codeartifact:GetAuthorizationToken action"
    )


def test_resource_star() -> None:
    # "Troubleshoot access denied error messages" example form, resource "*"
    deny = parse_policy(json.dumps({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}), "identity")
    decision = evaluate(RequestContext(Principal.from_arn(USER), "sts:GetServiceBearerToken", "*"), [deny])
    assert denial_message(USER, "sts:GetServiceBearerToken", "*", decision) == (
        f"User: {USER} is not authorized to perform: sts:GetServiceBearerToken on resource: * "
        "with an explicit deny in an identity-based policy"
    )


def test_allowed_decision_has_no_message() -> None:
    with pytest.raises(ValueError):
        denial_message(USER, ACTION, DOMAIN, Decision(True, DecisionReason.ALLOWED))
