"""What the IAM service's parts share: the base class holding the store, authorizer and clock, with the lookups
and error translations every operation uses, IAM's quotas, and policy-document and policy-ARN checks.

Input the botocore model constrains (names, paths, lengths, enums, ranges) is validated at the wire before an
operation reaches the service; only rules the model does not express are checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_errors import (
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    NoSuchEntityError,
)
from coffer.core.identity.iam_models import Group, PrincipalType, Role, User
from coffer.core.identity.identity_store import IdentityBackend
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.policy import DEFAULT_MAX_SIZE, PolicyKind, parse_policy, policy_size
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ConflictError, ExactCodeError, ResourceNotFoundError

_POLICY_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):policy(/(?:[^/]+/)*)([^/]+)")

MAX_ACCESS_KEYS_PER_USER = 2
MAX_GROUPS_PER_USER = 10
MAX_ATTACHED_POLICIES = 10  # per user, group or role (IAM's default quota)
#: Aggregate inline policy size per principal, whitespace not counted (IAM's quotas).
INLINE_POLICY_QUOTA: Mapping[PrincipalType, int] = {"user": 2048, "group": 5120, "role": 10240}

LABEL: Mapping[PrincipalType, str] = {"user": "User", "group": "Group", "role": "Role"}


def constraint_message(field: str, value: object, constraint: str) -> str:
    """IAM's ``ValidationError`` text in AWS's usual wording, for the few rules the model does not state."""
    return f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"


def check_document(document: str, kind: PolicyKind, quota: str, limit: int | None = None) -> None:
    """Validate a policy document: over IAM's size quota is LimitExceeded (as IAM answers), anything else wrong
    with it MalformedPolicyDocument."""
    limit = DEFAULT_MAX_SIZE[kind] if limit is None else limit
    if isinstance(document, str) and policy_size(document, kind) > limit:
        raise LimitExceededError(f"Cannot exceed quota for {quota}: {limit}")
    parse_policy(document, kind, max_size=limit)


def parse_policy_arn(arn: str) -> tuple[str, str, str]:
    """(account id or "aws", path, name) of a managed policy ARN; InvalidInput when it is not one."""
    m = _POLICY_ARN.fullmatch(arn)
    if m is None:
        raise InvalidInputError(f"ARN {arn} is not valid.")
    return m.group(1), m.group(2), m.group(3)


def under(path: str, prefix: str | None) -> bool:
    return not prefix or path.startswith(prefix)


def iam_arn(account_id: str, kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


class IamBase:
    """The state and helpers of :class:`~coffer.core.identity.iam_service.IamService` and its parts."""

    def __init__(
        self, store: IdentityBackend, identities: IdentityService, authorizer: Authorizer, clock: Clock
    ) -> None:
        self._store = store
        self._identities = identities
        self._authz = authorizer
        self._clock = clock

    def _require(self, caller: Caller, action: str, resource: str, extra: Mapping[str, str] | None = None) -> None:
        self._authz.require(caller, f"iam:{action}", resource, extra_context=extra)

    def _changed(self) -> None:
        """Identities cache their policies for a second: drop them now for changes made through this process."""
        self._identities.invalidate()

    @staticmethod
    @contextmanager
    def _store_errors(conflict: type[ExactCodeError] = EntityAlreadyExistsError) -> Iterator[None]:
        """The store's generic errors as IAM's codes (races between a check here and the store's write)."""
        try:
            yield
        except ResourceNotFoundError as exc:
            raise NoSuchEntityError(exc.message) from exc
        except ConflictError as exc:
            raise conflict(exc.message) from exc

    def _entity(self, account_id: str, kind: PrincipalType, name: str) -> User | Group | Role | None:
        if kind == "user":
            return self._store.get_user(account_id, name)
        if kind == "group":
            return self._store.get_group(account_id, name)
        return self._store.get_role(account_id, name)

    def _authorized_entity(
        self,
        caller: Caller,
        action: str,
        kind: PrincipalType,
        name: str,
        extra: Mapping[str, str] | None = None,
    ) -> User | Group | Role:
        """Look the principal up, authorize ``action`` on its ARN, then insist that it exists."""
        entity = self._entity(caller.account_id, kind, name)
        arn = entity.arn if entity is not None else iam_arn(caller.account_id, kind, name)
        self._require(caller, action, arn, extra)
        if entity is None:
            raise NoSuchEntityError(f"The {kind} with name {name} cannot be found.")
        return entity

    def _user(self, caller: Caller, action: str, name: str) -> User:
        entity = self._authorized_entity(caller, action, "user", name)
        assert isinstance(entity, User)
        return entity

    def _group(self, caller: Caller, action: str, name: str) -> Group:
        entity = self._authorized_entity(caller, action, "group", name)
        assert isinstance(entity, Group)
        return entity

    def _role(self, caller: Caller, action: str, name: str) -> Role:
        entity = self._authorized_entity(caller, action, "role", name)
        assert isinstance(entity, Role)
        return entity

    def _tag(self, arn: str, tags: Mapping[str, str] | None) -> None:
        if tags:
            self._store.tag_resource(arn, tags)

    def tags(self, arn: str) -> dict[str, str]:
        """Tags given when the entity was created (read without authorization: callers already read the entity)."""
        return self._store.get_tags(arn)
