"""The Principal / NotPrincipal element: parsing and matching against a caller.

Forms (IAM User Guide, "AWS JSON policy elements: Principal"): ``"*"``; ``{"AWS": "*"}``; an account id
``"123456789012"`` or ``"arn:aws:iam::123456789012:root"`` (any principal of that account); an IAM user or role
ARN; a role session ARN ``arn:aws:sts::123456789012:assumed-role/ROLE/SESSION``; an IAM unique id (what AWS shows
after the named entity was deleted); ``{"Service": "codeartifact.amazonaws.com"}``; ``Federated`` and
``CanonicalUser`` (accepted, never matched by Coffer's principals). Wildcards are only allowed as the whole value.

A role ARN matches the role's sessions too. Matching a session ARN literally is a *direct* match: a resource
policy granting a session directly is not limited by that session's session policies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

from coffer.core.policy.context import Principal
from coffer.core.policy.policy_errors import MalformedPolicyDocumentError

_FIELDS = {"AWS": "aws", "Service": "service", "Federated": "federated", "CanonicalUser": "canonical_user"}
_ACCOUNT = re.compile(r"\d{12}")
_UNIQUE_ID = re.compile(r"A[A-Z0-9]{15,127}")
_NAME = r"[A-Za-z0-9+=,.@_-]+"
_ARN = re.compile(
    rf"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{{12}}):"
    rf"(?P<resource>root|(?:user|role)(?:/{_NAME})*/{_NAME}|assumed-role/{_NAME}/{_NAME}|federated-user/{_NAME})"
)
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*")


class PrincipalMatch(IntEnum):
    NONE = 0
    MATCH = 1
    DIRECT = 2


@dataclass(frozen=True)
class PrincipalSpec:
    """A parsed Principal or NotPrincipal element; ``wildcard`` is the bare ``"*"``."""

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()
    _index: _Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _build_index(self))


@dataclass(frozen=True)
class _Index:
    """The entries sorted for set lookups, so matching a caller costs a handful of hash probes."""

    everyone: bool
    accounts: frozenset[str]  # bare account ids: any partition
    roots: frozenset[tuple[str, str]]  # (partition, account) from ...:root ARNs
    direct: frozenset[str]  # role session and federated user ARNs
    exact: frozenset[str]  # user and role ARNs
    roles: frozenset[tuple[str, str, str]]  # (partition, account, role name): matches the role's sessions
    unique_ids: tuple[str, ...]
    services: frozenset[str]  # lower-cased service principals


def _build_index(spec: PrincipalSpec) -> _Index:
    accounts: set[str] = set()
    roots: set[tuple[str, str]] = set()
    direct: set[str] = set()
    exact: set[str] = set()
    roles: set[tuple[str, str, str]] = set()
    unique_ids: list[str] = []
    for entry in spec.aws:
        split = _split(entry)
        if _ACCOUNT.fullmatch(entry):
            accounts.add(entry)
        elif split is None:
            if entry != "*":
                unique_ids.append(entry)
        elif split[2] == "root":
            roots.add(split[:2])
        elif split[2].startswith(("assumed-role/", "federated-user/")):
            direct.add(entry)
        else:
            exact.add(entry)
            if split[2].startswith("role/"):
                roles.add((split[0], split[1], split[2].rsplit("/", 1)[-1]))
    return _Index(
        everyone=spec.wildcard or "*" in spec.aws,
        accounts=frozenset(accounts),
        roots=frozenset(roots),
        direct=frozenset(direct),
        exact=frozenset(exact),
        roles=frozenset(roles),
        unique_ids=tuple(unique_ids),
        services=frozenset(name.lower() for name in spec.service),
    )


def _invalid(kind: str, value: object) -> MalformedPolicyDocumentError:
    return MalformedPolicyDocumentError(f'Invalid principal in policy: "{kind}":"{value}"')


def _valid_aws(value: str) -> bool:
    if value == "*" or _ACCOUNT.fullmatch(value) or _UNIQUE_ID.fullmatch(value):
        return True
    found = _ARN.fullmatch(value)
    if found is None:
        return False
    resource = found["resource"]
    if found["service"] == "sts":
        return resource.startswith(("assumed-role/", "federated-user/"))
    return not resource.startswith(("assumed-role/", "federated-user/"))


def _valid_entry(field: str, value: str) -> bool:
    if field == "AWS":
        return _valid_aws(value)
    if field == "Service":
        return _SERVICE.fullmatch(value) is not None
    return value == "*" or "*" not in value


def parse_principal(element: object) -> PrincipalSpec:
    """Validate a Principal/NotPrincipal value; raises MalformedPolicyDocumentError."""
    if element == "*":
        return PrincipalSpec(wildcard=True)
    if not isinstance(element, dict) or not element:
        raise MalformedPolicyDocumentError(f"Invalid principal in policy: {element}")
    found: dict[str, tuple[str, ...]] = {}
    for name, raw in element.items():
        if name not in _FIELDS:
            raise _invalid(name, raw)
        items = raw if isinstance(raw, list) else [raw]
        if not items or not all(isinstance(item, str) and item for item in items):
            raise _invalid(name.upper() if name != "AWS" else name, raw)
        for item in items:
            if not _valid_entry(name, item):
                raise _invalid(name.upper() if name != "AWS" else name, item)
        found[_FIELDS[name]] = tuple(items)
    return PrincipalSpec(False, **found)


@lru_cache(maxsize=4096)
def _split(entry: str) -> tuple[str, str, str] | None:
    """(partition, account, resource) of an ARN entry, cached."""
    found = _ARN.fullmatch(entry)
    return None if found is None else (found["partition"], found["account"], found["resource"])


def principal_match(spec: PrincipalSpec, who: Principal) -> PrincipalMatch:
    """How ``who`` matches the element: not at all, as a member, or by its exact session ARN."""
    index = spec._index
    if index.everyone:
        return PrincipalMatch.MATCH
    if who.kind == "service":
        return PrincipalMatch.MATCH if who.arn.lower() in index.services else PrincipalMatch.NONE
    if who.arn in index.direct:
        return PrincipalMatch.DIRECT
    if (
        who.account_id in index.accounts
        or who.arn in index.exact
        or (index.roots and (who.partition, who.account_id) in index.roots)
        or (
            index.roles and who.kind == "assumed-role" and (who.partition, who.account_id, who.role_name) in index.roles
        )
    ):
        return PrincipalMatch.MATCH
    uid = who.user_id
    if uid and any(uid == prefix or uid.startswith(prefix + ":") for prefix in index.unique_ids):
        return PrincipalMatch.MATCH
    return PrincipalMatch.NONE
