"""The package group store port (contract in coffer.core.ports).

Groups belong to a domain (by owner and name) and go with it. The root group ``/*`` is stored only once it has been
changed (the service presents a default one until then)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from coffer.core.packages.package_groups import PackageGroup, RestrictionMode, RestrictionType

#: (format, namespace or None, normalized name) of a package
Coordinates = tuple[str, str | None, str]


class PackageGroupStore(Protocol):
    def create_package_group(self, group: PackageGroup, tags: Mapping[str, str]) -> None:
        """Store a new group (its ``modes`` and ``allowed`` lists as given) with its tags, atomically.
        ``ResourceNotFoundError`` if the domain does not exist; ``ConflictError`` (resource type "package-group")
        if the domain has a group with that pattern."""
        ...

    def get_package_group(self, owner: str, domain: str, pattern: str) -> PackageGroup | None: ...

    def list_package_groups(self, owner: str, domain: str) -> tuple[PackageGroup, ...]:
        """Every group of the domain (with modes and allowed lists), ordered by pattern; empty if no domain."""
        ...

    def update_package_group(
        self, owner: str, domain: str, pattern: str, *, description: str | None, contact_info: str | None
    ) -> PackageGroup:
        """Replace the fields given (None: unchanged). ``ResourceNotFoundError`` if the group is absent."""
        ...

    def update_package_group_origin(
        self,
        owner: str,
        domain: str,
        pattern: str,
        *,
        modes: Mapping[RestrictionType, RestrictionMode],
        add: Sequence[tuple[RestrictionType, str]],
        remove: Sequence[tuple[RestrictionType, str]],
    ) -> PackageGroup:
        """Set the modes given, add then remove allowed repositories (adding one already there or removing one
        absent changes nothing), atomically. ``ResourceNotFoundError`` if the group is absent."""
        ...

    def delete_package_group(self, owner: str, domain: str, pattern: str) -> PackageGroup:
        """Delete and return the group (with its allowed lists and tags). ``ResourceNotFoundError`` if absent."""
        ...

    def list_domain_packages(
        self, owner: str, domain: str, fmt: str | None, after: Coordinates | None, limit: int
    ) -> tuple[Coordinates, ...]:
        """Up to ``limit`` distinct packages of the domain's repositories (of format ``fmt`` when given), ordered by
        (format, namespace with None as '', name) and starting strictly after ``after``."""
        ...
