"""Frozen dataclasses for everything Coffer stores. Times are epoch seconds (float)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


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


@dataclass(frozen=True)
class Domain:
    name: str
    owner: str
    arn: str
    created_time: float
    encryption_key: str
    status: str = "Active"
    repository_count: int = 0
    asset_size_bytes: int = 0


@dataclass(frozen=True)
class ExternalConnection:
    name: str  # e.g. public:pypi
    package_format: str
    status: str = "AVAILABLE"


@dataclass(frozen=True)
class Repository:
    domain_name: str
    domain_owner: str
    name: str
    arn: str
    administrator_account: str
    created_time: float
    description: str = ""
    upstreams: tuple[str, ...] = ()
    external_connections: tuple[ExternalConnection, ...] = ()


@dataclass(frozen=True)
class ResourcePolicy:
    resource_arn: str
    document: str
    revision: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: the items and the key after which the next page starts (None: no more)."""

    items: tuple[T, ...]
    next_key: str | None = None
