"""Who is asking, for what, on what: the inputs of an authorization decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

PrincipalKind = Literal["root", "user", "assumed-role", "role", "service"]

_PRINCIPAL_TYPES = {"root": "Account", "user": "User", "assumed-role": "AssumedRole"}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``arn`` is the caller's ARN (``arn:aws:iam::123456789012:user/alice``,
    ``arn:aws:sts::123456789012:assumed-role/Builder/ci-42``, ``arn:aws:iam::123456789012:root``); for a service
    principal it is the service name (``codeartifact.amazonaws.com``) and ``account_id`` is empty.
    """

    arn: str
    account_id: str
    kind: PrincipalKind
    user_id: str = ""

    @classmethod
    def from_arn(cls, arn: str, user_id: str = "") -> Principal:
        """Build a principal from an IAM/STS ARN; raises ValueError for any other form."""
        pieces = arn.split(":", 5)
        if len(pieces) == 6 and pieces[0] == "arn" and pieces[2] in ("iam", "sts") and pieces[4]:
            service, account, resource = pieces[2], pieces[4], pieces[5]
            if service == "iam" and resource == "root":
                return cls(arn, account, "root", user_id)
            if service == "iam" and resource.startswith("user/"):
                return cls(arn, account, "user", user_id)
            if service == "iam" and resource.startswith("role/"):
                return cls(arn, account, "role", user_id)
            if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") == 2:
                return cls(arn, account, "assumed-role", user_id)
        raise ValueError(f"not a principal ARN: {arn!r}")

    @classmethod
    def service(cls, name: str) -> Principal:
        """A service principal such as ``codeartifact.amazonaws.com``."""
        return cls(name, "", "service")

    @cached_property
    def partition(self) -> str:
        pieces = self.arn.split(":", 2)
        return pieces[1] if len(pieces) == 3 and pieces[0] == "arn" else ""

    @cached_property
    def role_name(self) -> str | None:
        """The role's name for a role or one of its sessions (paths dropped, as in session ARNs)."""
        resource = self.arn.split(":", 5)[-1]
        if self.kind == "assumed-role":
            return resource.split("/")[1]
        if self.kind == "role":
            return resource.rsplit("/", 1)[-1]
        return None


def derived_keys(principal: Principal) -> dict[str, tuple[str, ...]]:
    """Global condition keys AWS puts in every request context, as far as the principal determines them."""
    keys: dict[str, tuple[str, ...]] = {}
    if principal.kind == "service":
        keys["aws:principalservicename"] = (principal.arn,)
        return keys
    keys["aws:principalaccount"] = (principal.account_id,)
    if principal.kind == "assumed-role":
        role = f"arn:{principal.partition}:iam::{principal.account_id}:role/{principal.role_name}"
        keys["aws:principalarn"] = (role,)
    else:
        keys["aws:principalarn"] = (principal.arn,)
    if principal.kind in _PRINCIPAL_TYPES:
        keys["aws:principaltype"] = (_PRINCIPAL_TYPES[principal.kind],)
    if principal.kind == "user":
        keys["aws:username"] = (principal.arn.rsplit("/", 1)[-1],)
    if principal.user_id:
        keys["aws:userid"] = (principal.user_id,)
    elif principal.kind == "root":
        keys["aws:userid"] = (principal.account_id,)
    return keys


@dataclass(frozen=True)
class RequestContext:
    """One request to authorize.

    ``context`` holds condition keys (``aws:SourceIp``, ``sts:AWSServiceName``, ...) with their values; names are
    looked up case-insensitively. ``aws:PrincipalAccount``, ``aws:PrincipalArn``, ``aws:PrincipalType``,
    ``aws:username`` and ``aws:userid`` are derived from ``principal`` unless ``context`` gives them.
    A bare string value is taken as a one-element tuple.
    """

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``action`` lower-cased once, for case-insensitive action matching
    action_key: str = field(init=False, repr=False, compare=False)
    _keys: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = derived_keys(self.principal)
        for name, values in self.context.items():
            keys[name.lower()] = (values,) if isinstance(values, str) else tuple(values)
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "action_key", self.action.lower())

    @classmethod
    def with_keys(
        cls, principal: Principal, action: str, resource: str, keys: Mapping[str, tuple[str, ...]]
    ) -> RequestContext:
        """A context from a complete key map: lower-case names, tuple values, the principal's derived keys
        included (what ``__post_init__`` would build). ``keys`` is kept as it is, not copied, and becomes
        ``context`` too (equivalent: re-deriving from it gives the same keys). For callers that build many
        contexts for one principal (``coffer.core.identity.authorizer.Authorizer`` caches the keys per caller)."""
        request = cls.__new__(cls)
        object.__setattr__(request, "principal", principal)
        object.__setattr__(request, "action", action)
        object.__setattr__(request, "resource", resource)
        object.__setattr__(request, "context", keys)
        object.__setattr__(request, "_keys", keys)
        object.__setattr__(request, "action_key", action.lower())
        return request

    def get(self, key: str) -> tuple[str, ...] | None:
        """The values of condition key ``key`` (case-insensitive), or None if the request has none."""
        return self._keys.get(key.lower())
