"""Policy evaluation (IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation logic").

1. An explicit Deny in any applicable policy wins (identity-based, then resource-based, then session policies
   decide which reason is reported).
2. Same account (``resource_account`` is None or the principal's account): allowed if an identity-based policy
   *or* the resource-based policy allows; with session policies the union is intersected with what the session
   policies allow, except for a resource-policy grant naming the session ARN itself, which they do not limit.
3. Cross-account: an identity-based policy (intersected with session policies) *and* the resource-based policy
   must both allow.

The account's root user has every identity-based permission implicitly (it still needs the resource policy
across accounts and still loses to explicit denies). A service principal has no identity-based policies: only
the resource-based policy can grant it anything.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from coffer.core.policy.conditions import conditions_match
from coffer.core.policy.context import RequestContext
from coffer.core.policy.document import PolicyDocument, Statement
from coffer.core.policy.principals import PrincipalMatch, principal_match
from coffer.core.policy.variables import resolve
from coffer.core.policy.wildcards import match_parts


class DecisionReason(enum.Enum):
    ALLOWED = "allowed"
    EXPLICIT_DENY_IDENTITY = "explicit-deny-identity"
    EXPLICIT_DENY_RESOURCE = "explicit-deny-resource"
    EXPLICIT_DENY_SESSION = "explicit-deny-session"
    NO_IDENTITY_ALLOW = "no-identity-allow"
    NO_RESOURCE_ALLOW = "no-resource-allow"
    NO_SESSION_ALLOW = "no-session-allow"


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`evaluate`; ``reason`` says which rule decided (ALLOWED when allowed)."""

    allowed: bool
    reason: DecisionReason


_DECISIONS = {reason: Decision(reason is DecisionReason.ALLOWED, reason) for reason in DecisionReason}


def _resource_matches(statement: Statement, patterns: tuple[str, ...], ctx: RequestContext) -> bool:
    matcher = statement._match_resource
    if matcher is not None:
        return matcher(ctx.resource)
    for pattern in patterns:
        parts = resolve(pattern, ctx.get)
        if parts is not None and match_parts(parts, ctx.resource, arn=True):
            return True
    return False


def statement_applies(statement: Statement, ctx: RequestContext) -> PrincipalMatch:
    """Whether a statement applies to the request: NONE, MATCH, or DIRECT (its Principal names the session ARN)."""
    match_action = statement._match_action
    if match_action is not None and match_action(ctx.action_key) is (statement.action is None):
        return PrincipalMatch.NONE
    if statement.resource is not None:
        if not _resource_matches(statement, statement.resource, ctx):
            return PrincipalMatch.NONE
    elif statement.not_resource is not None and _resource_matches(statement, statement.not_resource, ctx):
        return PrincipalMatch.NONE
    matched = PrincipalMatch.MATCH
    if statement.principal is not None:
        matched = principal_match(statement.principal, ctx.principal)
    elif statement.not_principal is not None and principal_match(statement.not_principal, ctx.principal):
        matched = PrincipalMatch.NONE
    if not matched or (statement.condition and not conditions_match(statement.condition, ctx.get)):
        return PrincipalMatch.NONE
    return matched


def _scan(policies: Sequence[PolicyDocument], ctx: RequestContext) -> PrincipalMatch | None:
    """Strongest Allow match over the policies, or None on an explicit Deny."""
    best = PrincipalMatch.NONE
    for policy in policies:
        for statement in policy.statements:
            matched = statement_applies(statement, ctx)
            if not matched:
                continue
            if statement.effect == "Deny":
                return None
            best = max(best, matched)
    return best


def evaluate(
    ctx: RequestContext,
    identity_policies: Sequence[PolicyDocument],
    resource_policy: PolicyDocument | None = None,
    resource_account: str | None = None,
    session_policies: Sequence[PolicyDocument] | None = None,
) -> Decision:
    """Decide one request. ``session_policies=None`` means the caller has no session policies; an empty
    sequence means it has some and they allow nothing."""
    principal = ctx.principal
    identity = _scan(identity_policies, ctx)
    if identity is None:
        return _DECISIONS[DecisionReason.EXPLICIT_DENY_IDENTITY]
    resource = _scan((resource_policy,), ctx) if resource_policy is not None else PrincipalMatch.NONE
    if resource is None:
        return _DECISIONS[DecisionReason.EXPLICIT_DENY_RESOURCE]
    session_allows = True
    if session_policies is not None:
        session = _scan(session_policies, ctx)
        if session is None:
            return _DECISIONS[DecisionReason.EXPLICIT_DENY_SESSION]
        session_allows = bool(session)

    identity_allows = bool(identity) or principal.kind == "root"
    same_account = resource_account is None or principal.kind == "service" or resource_account == principal.account_id
    if same_account:
        if resource is PrincipalMatch.DIRECT:
            return _DECISIONS[DecisionReason.ALLOWED]
        if not (identity_allows or resource):
            return _DECISIONS[DecisionReason.NO_IDENTITY_ALLOW]
    elif not identity_allows:
        return _DECISIONS[DecisionReason.NO_IDENTITY_ALLOW]
    if not session_allows:
        return _DECISIONS[DecisionReason.NO_SESSION_ALLOW]
    if not same_account and not resource:
        return _DECISIONS[DecisionReason.NO_RESOURCE_ALLOW]
    return _DECISIONS[DecisionReason.ALLOWED]


_DENIALS = {
    DecisionReason.EXPLICIT_DENY_IDENTITY: "with an explicit deny in an identity-based policy",
    DecisionReason.EXPLICIT_DENY_RESOURCE: "with an explicit deny in a resource-based policy",
    DecisionReason.EXPLICIT_DENY_SESSION: "with an explicit deny in a session policy",
    DecisionReason.NO_IDENTITY_ALLOW: "because no identity-based policy allows the {action} action",
    DecisionReason.NO_RESOURCE_ALLOW: "because no resource-based policy allows the {action} action",
    DecisionReason.NO_SESSION_ALLOW: "because no session policy allows the {action} action",
}


def denial_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied text for a denied decision; ValueError for an allowed one."""
    if decision.allowed:
        raise ValueError("an allowed decision has no denial message")
    because = _DENIALS[decision.reason].format(action=action)
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {because}"
