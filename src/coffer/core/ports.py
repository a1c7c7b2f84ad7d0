"""The ports core needs from the outside world, as Protocols. Adapters implement them.

Store contract (every implementation must honour it; ``tests/contract`` checks it on each backend):
- Every method is atomic: it either fully happens or not at all, also if the process dies mid-call.
- Lookups return ``None`` when the thing is absent; mutations of absent things raise
  ``ResourceNotFoundError``; creating something that exists raises ``ConflictError``.
- Listings are ordered by the key named in the method's doc and start strictly after ``after``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from coffer.core.models import (
    AccessKey,
    Account,
    Domain,
    NamedPolicy,
    Page,
    Repository,
    ResourcePolicy,
    User,
)


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds since the epoch."""
        ...


class IdentityStore(Protocol):
    # accounts
    def create_account(self, account: Account) -> None: ...
    def get_account(self, account_id: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...

    # users (unique per account by name)
    def create_user(self, user: User) -> None: ...
    def get_user(self, account_id: str, name: str) -> User | None: ...
    def list_users(self, account_id: str) -> list[User]:
        """Ordered by name."""
        ...

    def delete_user(self, account_id: str, name: str) -> None:
        """Deletes the user with its access keys and inline policies."""
        ...

    # access keys (globally unique id)
    def create_access_key(self, key: AccessKey) -> None:
        """ResourceNotFoundError if the user does not exist."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    def list_access_keys(self, account_id: str, user_name: str) -> list[AccessKey]: ...
    def delete_access_key(self, access_key_id: str) -> None: ...

    # inline user policies (unique per user by name; put replaces)
    def put_user_policy(self, account_id: str, user_name: str, policy: NamedPolicy) -> None:
        """ResourceNotFoundError if the user does not exist."""
        ...

    def list_user_policies(self, account_id: str, user_name: str) -> list[NamedPolicy]:
        """Ordered by name."""
        ...

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None: ...


class DomainStore(Protocol):
    def create_domain(self, domain: Domain, tags: Mapping[str, str]) -> None:
        """ConflictError if (owner, name) exists. Tags are stored with it atomically."""
        ...

    def get_domain(self, owner: str, name: str) -> Domain | None:
        """The domain with ``repository_count`` filled in."""
        ...

    def list_domains(self, owner: str, after: str | None, limit: int) -> Page[Domain]:
        """Domains of one owner ordered by name; ``next_key`` is the last name returned when more remain."""
        ...

    def count_domains(self, owner: str) -> int: ...

    def delete_domain(self, owner: str, name: str) -> Domain:
        """Deletes and returns the domain; ConflictError while it holds repositories; removes the domain's
        resource policy and tags in the same transaction."""
        ...


class RepositoryStore(Protocol):
    def create_repository(self, repository: Repository, tags: Mapping[str, str]) -> None:
        """ResourceNotFoundError if the domain does not exist; ConflictError if the name is taken in it.
        Tags are stored with it atomically.
        Every upstream named must exist in the same domain (ResourceNotFoundError otherwise)."""
        ...

    def get_repository(self, owner: str, domain: str, name: str) -> Repository | None: ...

    def update_repository(self, repository: Repository) -> None:
        """Replaces description, upstreams and external connections (same upstream rules as create)."""
        ...

    def delete_repository(self, owner: str, domain: str, name: str) -> Repository:
        """Deletes and returns it, with its resource policy and tags. ConflictError if another repository
        names it as an upstream."""
        ...

    def list_repositories(
        self,
        *,
        administrator_account: str | None,
        owner: str | None,
        domain: str | None,
        prefix: str | None,
        after: str | None,
        limit: int,
    ) -> Page[Repository]:
        """Filtered by the given fields (None: any), ordered by (name, domain, owner); ``after`` and
        ``next_key`` are opaque strings made by the store."""
        ...

    def list_downstreams(self, owner: str, domain: str, name: str) -> list[Repository]:
        """Repositories in the domain that name this one as an upstream."""
        ...


class PolicyStore(Protocol):
    def get_resource_policy(self, resource_arn: str) -> ResourcePolicy | None: ...

    def put_resource_policy(self, resource_arn: str, document: str, expected_revision: str | None) -> ResourcePolicy:
        """Creates or replaces. If ``expected_revision`` is given it must equal the current revision
        (ConflictError otherwise, also when there is no policy). A new revision string is generated."""
        ...

    def delete_resource_policy(self, resource_arn: str, expected_revision: str | None) -> ResourcePolicy:
        """ResourceNotFoundError if none; ConflictError on a stale ``expected_revision``."""
        ...


class TagStore(Protocol):
    def get_tags(self, resource_arn: str) -> dict[str, str]: ...

    def tag_resource(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        """Adds or overwrites keys."""
        ...

    def untag_resource(self, resource_arn: str, keys: Sequence[str]) -> None: ...


class Store(IdentityStore, DomainStore, RepositoryStore, PolicyStore, TagStore, Protocol):
    """Everything core persists. ``close()`` releases connections."""

    def close(self) -> None: ...
