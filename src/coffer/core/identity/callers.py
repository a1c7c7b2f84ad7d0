"""The authenticated principal of a request (:class:`Caller`) and a resolved access key."""

from __future__ import annotations

from dataclasses import dataclass

from coffer.core.policy import PolicyDocument, PrincipalKind
from coffer.core.shared.arns import root_arn


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
