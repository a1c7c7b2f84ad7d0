"""IAM and STS entities: accounts, users, access keys, inline policies, roles, groups, managed policies and
their versions, and sessions. Times are epoch seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Account:
    account_id: str
    created_at: float


@dataclass(frozen=True)
class User:
    account_id: str
    name: str
    user_id: str  # AIDA... as IAM shows it
    created_at: float
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user{self.path}{self.name}"


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str | None  # None: a key of the account's root user
    created_at: float
    status: str = "Active"  # Active | Inactive
    #: the unique id (AIDA...) of the user the key was issued to, set by the store from the user's row; a key is
    #: honoured only while a user of that id holds the name (None: a root key)
    user_id: str | None = None


@dataclass(frozen=True)
class NamedPolicy:
    """An inline policy attached to an identity: its name and JSON document."""

    name: str
    document: str


PrincipalType = Literal["user", "group", "role"]

AWS_MANAGED = "aws"  # the account id part of AWS managed policy ARNs: arn:aws:iam::aws:policy/NAME


@dataclass(frozen=True)
class Role:
    account_id: str
    name: str
    role_id: str  # AROA...
    trust_policy: str  # AssumeRolePolicyDocument (JSON)
    created_at: float
    path: str = "/"
    description: str = ""
    max_session_duration: int = 3600

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.path}{self.name}"


@dataclass(frozen=True)
class Group:
    account_id: str
    name: str
    group_id: str  # AGPA...
    created_at: float
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:group{self.path}{self.name}"


@dataclass(frozen=True)
class ManagedPolicy:
    """A customer managed policy (account_id = its account) or an AWS managed one (account_id = "aws")."""

    account_id: str
    name: str
    policy_id: str  # ANPA...
    default_version_id: str  # "v1", "v2", ...
    created_at: float
    updated_at: float
    path: str = "/"
    description: str = ""
    attachment_count: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:policy{self.path}{self.name}"


@dataclass(frozen=True)
class PolicyVersion:
    policy_arn: str
    version_id: str
    document: str
    is_default: bool
    created_at: float


@dataclass(frozen=True)
class Session:
    """Temporary credentials from STS (AssumeRole: a role session; GetSessionToken: a user session)."""

    access_key_id: str  # ASIA...
    secret_access_key: str
    session_token: str
    account_id: str  # the account of the role / user
    expires_at: float
    issued_at: float
    role_name: str | None  # None for GetSessionToken sessions
    session_name: str  # RoleSessionName; the user name for GetSessionToken
    user_name: str | None = None  # the user of a GetSessionToken session
    source_arn: str = ""  # who called AssumeRole / GetSessionToken
    session_policy: str | None = None  # inline session policy (JSON)
    session_policy_arns: tuple[str, ...] = ()  # managed session policies
    tags: dict[str, str] = field(default_factory=dict, hash=False)
    chained: bool = False  # assumed with role-session credentials (role chaining: capped at 1 hour)
    #: the unique id of the principal the session was issued to: the role's AROA... id (role sessions), the
    #: user's AIDA... id (GetSessionToken sessions of a user); a re-created role or user of the same name is
    #: another principal and inherits nothing. None: a root user's session.
    principal_id: str | None = None

    @property
    def arn(self) -> str:
        if self.role_name is not None:
            return f"arn:aws:sts::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"
