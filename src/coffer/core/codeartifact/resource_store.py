"""The CodeArtifact resource store port: domains, repositories, resource policies, tags, token revocations
(contract in coffer.core.ports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from coffer.core.codeartifact.resources import Domain, ExternalConnection, Repository, ResourcePolicy
from coffer.core.shared.pagination import Page


class DomainStore(Protocol):
    def create_domain(self, domain: Domain, tags: Mapping[str, str]) -> None:
        """ConflictError if (owner, name) exists. Tags are stored with it atomically."""
        ...

    def get_domain(self, owner: str, name: str, *, with_size: bool = False) -> Domain | None:
        """The domain with ``repository_count`` filled in, and ``asset_size_bytes`` when ``with_size`` (the sum of
        its assets' sizes, each content once; it costs an aggregate over the domain's assets)."""
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
        """Replaces description and upstreams (same upstream rules as create); external connections stay."""
        ...

    def set_external_connections(
        self, owner: str, domain: str, name: str, connections: Sequence[ExternalConnection], *, expected: Sequence[str]
    ) -> None:
        """Replaces the repository's external connections if its current ones are named ``expected`` (in order);
        ConflictError if they changed meanwhile."""
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


class RevocationStore(Protocol):
    def revoke_token(self, token_id: str, expires_at: float, revoked_at: float) -> None:
        """Idempotent."""
        ...

    def revoked_tokens(self, now: float) -> set[str]:
        """Ids of revoked tokens that have not expired yet (expired ones need no list)."""
        ...
