"""Parsing and validating IAM-grammar policy documents into frozen dataclasses.

Grammar: IAM User Guide, "IAM JSON policy element reference" and "Grammar of the IAM JSON policy language".
Messages follow IAM's ``MalformedPolicyDocument`` texts where they are known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NoReturn

from coffer.core.policy import variables
from coffer.core.policy.conditions import Condition, parse_conditions
from coffer.core.policy.policy_errors import MalformedPolicyDocumentError
from coffer.core.policy.principals import PrincipalSpec, parse_principal
from coffer.core.policy.wildcards import any_matcher, has_wildcards

PolicyKind = Literal["identity", "resource", "trust", "session"]
Effect = Literal["Allow", "Deny"]

VERSIONS = ("2012-10-17", "2008-10-17")
#: Default size limits: IAM managed policies (6,144), CodeArtifact's PolicyDocument shape in the service model
#: (7,168), IAM role trust policies (2,048 by default) and STS session policies (2,048).
DEFAULT_MAX_SIZE: Mapping[PolicyKind, int] = {"identity": 6144, "resource": 7168, "trust": 2048, "session": 2048}

_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"}
)
_IAM_SID = re.compile(r"[0-9A-Za-z]*")
_VENDOR = re.compile(r"[A-Za-z0-9-]+")
_ACTION_NAME = re.compile(r"[A-Za-z0-9_*?-]+")
_SYNTAX = "Syntax errors in policy."


@dataclass(frozen=True)
class Statement:
    """One statement; element absent is None. ``resource_variables`` marks Resource/NotResource entries with
    policy variables (only in ``2012-10-17`` policies)."""

    effect: Effect
    sid: str | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    condition: tuple[Condition, ...] = ()
    resource_variables: bool = False
    # precompiled predicates for the hot path: Action/NotAction (takes a lower-cased action), Resource/NotResource
    _match_action: Callable[[str], bool] | None = field(init=False, repr=False, compare=False)
    _match_resource: Callable[[str], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        actions = self.action if self.action is not None else self.not_action
        resources = self.resource if self.resource is not None else self.not_resource
        action_matcher = any_matcher(actions, True) if actions is not None else None
        resource_matcher = any_matcher(resources, False, True) if resources is not None else None
        object.__setattr__(self, "_match_action", action_matcher)
        object.__setattr__(self, "_match_resource", None if self.resource_variables else resource_matcher)


@dataclass(frozen=True)
class PolicyDocument:
    """A validated policy. ``version`` is None when the document has no Version (IAM then treats it as
    ``2008-10-17``: policy variables are plain text)."""

    kind: PolicyKind
    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None

    @cached_property
    def context_free(self) -> bool:
        """Whether the policy decides a request by its principal, action and resource alone: no Condition and
        no policy variable reads a condition key, so the same request always gets the same decision from it."""
        return not any(s.condition or s.resource_variables for s in self.statements)


class _Number(str):
    """A JSON number, kept as its text: valid in condition values, nowhere else."""

    __slots__ = ()


def _fail(message: str) -> NoReturn:
    raise MalformedPolicyDocumentError(message)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and not isinstance(value, _Number)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            _fail(f"{_SYNTAX} Duplicate key {key}")
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    _fail(f"This policy contains invalid Json: {name} is not a JSON value")


def policy_size(text: str, kind: PolicyKind) -> int:
    """The size a quota is checked against: IAM does not count whitespace, CodeArtifact counts the string."""
    return len(text) if kind == "resource" else len("".join(text.split()))


def _strings(statement: Mapping[str, Any], field: str) -> tuple[str, ...] | None:
    if field not in statement:
        return None
    raw = statement[field]
    items = raw if isinstance(raw, list) else [raw]
    if not all(_is_text(item) for item in items):
        _fail(f"{_SYNTAX} {field} must be a string or a list of strings.")
    return tuple(items)


def _check_action(action: str) -> None:
    if action == "*":
        return
    vendor, colon, name = action.partition(":")
    if not colon or not vendor:
        _fail("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if has_wildcards(vendor):
        _fail("Action vendors must not contain wildcards.")
    if not _VENDOR.fullmatch(vendor):
        _fail(f"Vendor {vendor} is not valid")
    if not _ACTION_NAME.fullmatch(name):
        _fail(f"Action {action} is not valid")


def _check_resource(resource: str) -> None:
    if resource == "*":
        return
    pieces = resource.split(":", 5)
    if len(pieces) < 6 or pieces[0] != "arn" or not pieces[2]:
        _fail(f'Resource {resource} must be in ARN format or "*".')
    if has_wildcards(pieces[2]):
        _fail("Resource vendor must be fully qualified and cannot contain regexes.")


def _pair(statement: Mapping[str, Any], field: str, negated: str, required: str | None) -> None:
    if field in statement and negated in statement:
        _fail(f"{_SYNTAX} A statement cannot contain both {field} and {negated}.")
    if required is not None and field not in statement and negated not in statement:
        _fail(required)


def _parse_statement(raw: object, kind: PolicyKind, allow_variables: bool) -> Statement:
    if not isinstance(raw, dict):
        _fail(f"{_SYNTAX} Statement must be an object or a list of objects.")
    for name in raw:
        if name not in _STATEMENT_FIELDS:
            _fail(f"Unknown field {name}")
    sid = raw.get("Sid")
    if sid is not None and not _is_text(sid):
        _fail(f"{_SYNTAX} Sid must be a string.")
    if sid is not None and kind != "resource" and not _IAM_SID.fullmatch(sid):
        _fail(
            "Statement IDs (SID) must be alpha-numeric. "
            "Check that your input satisfies the regular expression [0-9A-Za-z]*"
        )
    if "Effect" not in raw:
        _fail("Missing required field Effect")
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny") or not _is_text(effect):
        _fail(f"Invalid effect: {effect}")

    _pair(raw, "Action", "NotAction", "Policy statement must contain actions.")
    actions = _strings(raw, "Action" if "Action" in raw else "NotAction") or _fail(
        "Policy statement must contain actions."
    )
    for action in actions:
        _check_action(action)

    if kind == "trust":
        for field in ("Resource", "NotResource", "NotPrincipal"):
            if field in raw:
                _fail(f"Has prohibited field {field}")
    needs_resource = kind in ("identity", "session")
    _pair(raw, "Resource", "NotResource", "Policy statement must contain resources." if needs_resource else None)
    resources = _strings(raw, "Resource" if "Resource" in raw else "NotResource")
    if resources is not None:
        if not resources:
            _fail("Policy statement must contain resources.")
        for resource in resources:
            _check_resource(resource)

    if kind in ("identity", "session"):
        for field in ("Principal", "NotPrincipal"):
            if field in raw:
                _fail(f"Has prohibited field {field}")
    else:
        _pair(raw, "Principal", "NotPrincipal", "Missing required field Principal")
    principal = parse_principal(raw["Principal"]) if "Principal" in raw else None
    not_principal = parse_principal(raw["NotPrincipal"]) if "NotPrincipal" in raw else None

    conditions = parse_conditions(raw["Condition"], allow_variables) if "Condition" in raw else ()
    return Statement(
        effect="Allow" if effect == "Allow" else "Deny",
        sid=sid,
        action=actions if "Action" in raw else None,
        not_action=actions if "NotAction" in raw else None,
        resource=resources if "Resource" in raw else None,
        not_resource=resources if "NotResource" in raw else None,
        principal=principal,
        not_principal=not_principal,
        condition=conditions,
        resource_variables=allow_variables and any(variables.has_variables(r) for r in resources or ()),
    )


def _load(text: str) -> object:
    try:
        return json.loads(
            text, object_pairs_hook=_pairs, parse_int=_Number, parse_float=_Number, parse_constant=_no_constant
        )
    except (ValueError, RecursionError):
        _fail("This policy contains invalid Json")


def parse_policy(text: str, kind: PolicyKind, *, max_size: int | None = None) -> PolicyDocument:
    """Parse and validate a policy of the given kind.

    ``max_size`` overrides :data:`DEFAULT_MAX_SIZE` for the kind (measured by :func:`policy_size`). Identity and
    session policies may not name a Principal; resource and trust policies must. Raises
    :class:`MalformedPolicyDocumentError` for every problem, never anything else.
    """
    if not isinstance(text, str) or kind not in DEFAULT_MAX_SIZE:
        _fail(_SYNTAX)
    limit = DEFAULT_MAX_SIZE[kind] if max_size is None else max_size
    if policy_size(text, kind) > limit:
        _fail(f"Cannot exceed quota for PolicySize: {limit}")
    document = _load(text)
    if not isinstance(document, dict):
        _fail(_SYNTAX)
    for name in document:
        if name not in _TOP_FIELDS:
            _fail(f"Unknown field {name}")
    version = document.get("Version")
    if version is not None and (not _is_text(version) or version not in VERSIONS):
        _fail("The policy must contain a valid version string")
    policy_id = document.get("Id")
    if policy_id is not None and not _is_text(policy_id):
        _fail(f"{_SYNTAX} Id must be a string.")
    if "Statement" not in document:
        _fail("Missing required field Statement")
    raw_statements = document["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        _fail(f"{_SYNTAX} Statement must be an object or a list of objects.")
    allow_variables = version == "2012-10-17"
    statements = tuple(_parse_statement(raw, kind, allow_variables) for raw in raw_statements)
    sids = [statement.sid for statement in statements if statement.sid]
    if len(sids) != len(set(sids)):
        _fail("Statement IDs (SID) in a single policy must be unique.")
    return PolicyDocument(kind, statements, version, policy_id)
