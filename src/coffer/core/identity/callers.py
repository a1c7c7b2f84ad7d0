"""The authenticated principal of a request (:class:`Caller`) and a resolved access key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

from coffer.core.policy import Decision, PolicyDocument, Principal, PrincipalKind
from coffer.core.policy.context import derived_keys
from coffer.core.shared.arns import root_arn
from coffer.core.shared.bounded import remember
from coffer.core.shared.clock import iso_utc

#: condition keys: lower-case names, tuple values
Keys = Mapping[str, tuple[str, ...]]

#: source IPs of one caller whose Caller objects are kept (see Caller.with_source_ip); emptied when full
_MAX_SOURCE_IPS = 256
#: decisions kept per caller object (see Authorizer.decide); emptied when full
MAX_DECISIONS = 512


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request."""

    account_id: str
    arn: str
    user_id: str
    user_name: str | None
    kind: PrincipalKind  # "user" | "root" | "assumed-role"
    access_key_id: str
    policies: tuple[PolicyDocument, ...]
    session_expires_at: float | None = None  # None: long-term credentials
    session_issued_at: float | None = None
    source_ip: str | None = None
    #: the session policies of a role session (inline and managed, passed to AssumeRole); None: no session policies
    session_policies: tuple[PolicyDocument, ...] | None = None
    #: aws:PrincipalTag/* (the principal's IAM tags, overridden by session tags), as (key, value) pairs
    principal_tags: tuple[tuple[str, str], ...] = ()
    role_name: str | None = None  # the role of an assumed-role session
    chained: bool = False  # this session was assumed with role-session credentials

    @property
    def is_root(self) -> bool:
        return self.kind == "root"

    @property
    def is_session(self) -> bool:
        """Temporary credentials (a role session or a GetSessionToken session)."""
        return self.session_expires_at is not None

    # Derived values are memoized on the object (callers are frozen; the identity caches hand out the same object
    # for a key while cached, and with_source_ip the same object per source IP), so a request's checks and the
    # next requests of the caller share them. ``dataclasses.replace`` makes a new caller without them.

    @cached_property
    def principal(self) -> Principal:
        return Principal(arn=self.arn, account_id=self.account_id, kind=self.kind, user_id=self.user_id)

    @cached_property
    def own_condition_keys(self) -> Keys:
        """The condition keys this caller sets itself: aws:SourceIp, aws:TokenIssueTime (AWS's "revoke active
        sessions" denies on it; long-term keys have none), aws:MultiFactorAuthPresent, aws:PrincipalTag/*."""
        keys: dict[str, tuple[str, ...]] = {}
        if self.source_ip is not None:
            keys["aws:sourceip"] = (self.source_ip,)
        if self.session_issued_at is not None:
            keys["aws:tokenissuetime"] = (iso_utc(self.session_issued_at),)
        if self.session_expires_at is not None:
            keys["aws:multifactorauthpresent"] = ("false",)
        for key, value in self.principal_tags:
            keys["aws:principaltag/" + key.lower()] = (value,)
        return keys

    def condition_keys(self, request_keys: Keys) -> Keys:
        """The complete condition-key map of this caller's requests: the keys derived from its principal
        (aws:PrincipalArn, ...), then ``request_keys`` (the time and the server's keys, one shared object while
        they do not change), then :attr:`own_condition_keys`. Memoized for the last ``request_keys`` object given;
        the map is shared: never mutate it."""
        memo: tuple[Keys, Keys] | None = self.__dict__.get("_condition_keys")
        if memo is not None and memo[0] is request_keys:
            return memo[1]
        keys = derived_keys(self.principal)
        keys.update(request_keys)
        keys.update(self.own_condition_keys)
        self.__dict__["_condition_keys"] = (request_keys, keys)  # as cached_property writes; frozen fields untouched
        return keys

    @cached_property
    def decides_by_request_alone(self) -> bool:
        """Whether every policy the caller carries is ``context_free`` (see ``Authorizer.decide``)."""
        return all(p.context_free for p in self.policies) and all(p.context_free for p in self.session_policies or ())

    @cached_property
    def decisions(self) -> dict[tuple[str, str, str | None], tuple[PolicyDocument | None, Decision]]:
        """Decisions kept for this caller (``Authorizer.decide``): (action, resource, resource account) ->
        (the resource policy decided with, the decision)."""
        return {}

    @cached_property
    def _by_source_ip(self) -> dict[str, Caller]:
        return {}

    def with_source_ip(self, source_ip: str) -> Caller:
        """This caller with ``source_ip`` set: one object per IP for as long as this one is handed out, so what is
        memoized on it is reused, and no ``dataclasses.replace`` runs per request."""
        by_ip = self._by_source_ip
        found = by_ip.get(source_ip)
        if found is None:
            found = remember(by_ip, source_ip, replace(self, source_ip=source_ip), _MAX_SOURCE_IPS)
        return found


@dataclass(frozen=True)
class ResolvedKey:
    """An access key with what verifying and authorizing its requests needs."""

    secret_access_key: str
    session_token: str | None  # temporary credentials must present this
    caller: Caller


def split_assumed_role_arn(arn: str) -> tuple[str, str, str] | None:
    """(account, role name, session name) of ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return None
    pieces = parts[5].split("/")
    if len(pieces) != 3 or not pieces[1] or not pieces[2]:
        return None
    return parts[4], pieces[1], pieces[2]


def root_caller(account_id: str, access_key_id: str) -> Caller:
    return Caller(
        account_id=account_id,
        arn=root_arn(account_id),
        user_id=account_id,
        user_name=None,
        kind="root",
        access_key_id=access_key_id,
        policies=(),
    )
