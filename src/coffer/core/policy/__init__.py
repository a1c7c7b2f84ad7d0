"""IAM-style policies: parsing, validation and evaluation, pure standard library.

Parse once with :func:`parse_policy` (callers cache the documents), then call :func:`evaluate` per request.
"""

from __future__ import annotations

from coffer.core.policy.conditions import Condition, Operator, parse_operator
from coffer.core.policy.context import Principal, PrincipalKind, RequestContext
from coffer.core.policy.document import (
    DEFAULT_MAX_SIZE,
    Effect,
    PolicyDocument,
    PolicyKind,
    Statement,
    parse_policy,
    policy_size,
)
from coffer.core.policy.engine import Decision, DecisionReason, denial_message, evaluate, statement_applies
from coffer.core.policy.policy_errors import MalformedPolicyDocumentError
from coffer.core.policy.principals import PrincipalMatch, PrincipalSpec
from coffer.core.policy.wildcards import wildcard_match

__all__ = [
    "DEFAULT_MAX_SIZE",
    "Condition",
    "Decision",
    "DecisionReason",
    "Effect",
    "MalformedPolicyDocumentError",
    "Operator",
    "PolicyDocument",
    "PolicyKind",
    "Principal",
    "PrincipalKind",
    "PrincipalMatch",
    "PrincipalSpec",
    "RequestContext",
    "Statement",
    "denial_message",
    "evaluate",
    "parse_operator",
    "parse_policy",
    "policy_size",
    "statement_applies",
    "wildcard_match",
]
