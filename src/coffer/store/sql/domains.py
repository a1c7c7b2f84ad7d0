"""Domains: created with their tags, counted and sized, deleted with their tags and policy when empty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from coffer.core.codeartifact.resources import Domain
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError
from coffer.core.shared.pagination import Page
from coffer.store.schema import assets, domains, package_groups, package_versions, packages, repositories
from coffer.store.sql.base import check_limit, from_row, row_values
from coffer.store.sql.resource_extras import SqlResourceExtras, drop_resource_extras


def drop_domain_package_groups(conn: Connection, domain_id: int, domain_arn: str) -> None:
    """Part of deleting a domain: its package groups with their tags (their allowed lists cascade), and the tags of
    its root group ``/*`` even if the root was never stored."""
    groups = select(package_groups.c.arn).where(package_groups.c.domain_id == domain_id)
    root = domain_arn.replace(":domain/", ":package-group/", 1) + "/%2A"
    for arn in {root, *conn.execute(groups).scalars().all()}:
        drop_resource_extras(conn, arn)
    conn.execute(delete(package_groups).where(package_groups.c.domain_id == domain_id))


def no_domain(owner: str, name: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Domain {name} not found in account {owner}", resource_id=name, resource_type="domain"
    )


def lookup_domain_id(conn: Connection, owner: str, name: str) -> int | None:
    found = conn.execute(
        select(domains.c.id).where(domains.c.owner == owner, domains.c.name == name)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _domain_select() -> Select[Any]:
    count = (
        select(func.count()).select_from(repositories).where(repositories.c.domain_id == domains.c.id).scalar_subquery()
    )
    return select(domains, count.label("repository_count"))


def _asset_size(conn: Connection, domain_id: int) -> int:
    """The total size of the assets in a domain's repositories, each content (sha256) counted once.

    As CodeArtifact accounts storage: a domain stores one copy of each asset however many of its
    repositories hold it (a copied or upstream-cached version adds nothing); another domain counts it
    again. Only the assets of versions that exist and are not Disposed count (their rows go, or their
    files are gone, so the size drops at once); a blob that no asset uses any more and that garbage
    collection has not removed yet is not counted, nor are the core-metadata files Coffer extracts.

    One aggregate, walked down the unique keys: repositories (domain_id, ...), packages (repository_id,
    ...), package_versions (package_id, ...), assets (version_id, ...); the DISTINCT is over the domain's
    assets only."""
    contents = (
        select(assets.c.sha256, assets.c.size)
        .distinct()
        .select_from(
            repositories.join(packages, packages.c.repository_id == repositories.c.id)
            .join(package_versions, package_versions.c.package_id == packages.c.id)
            .join(assets, assets.c.version_id == package_versions.c.id)
        )
        .where(repositories.c.domain_id == domain_id, package_versions.c.status != "Disposed")
        .subquery()
    )
    return int(conn.execute(select(func.coalesce(func.sum(contents.c.size), 0))).scalar_one())


def _to_domain(row: Any, asset_size_bytes: int = 0) -> Domain:
    return from_row(Domain, row, repository_count=int(row.repository_count), asset_size_bytes=asset_size_bytes)


class SqlDomains(SqlResourceExtras):
    def create_domain(self, domain: Domain, tags: Mapping[str, str]) -> None:
        with self._write() as conn:
            try:
                conn.execute(insert(domains).values(row_values(domain, domains)))
            except IntegrityError as exc:
                raise ConflictError(
                    f"Domain {domain.name} already exists", resource_id=domain.name, resource_type="domain"
                ) from exc
            self._replace_tags(conn, domain.arn, tags)

    def get_domain(self, owner: str, name: str, *, with_size: bool = False) -> Domain | None:
        """With ``repository_count``; with ``asset_size_bytes`` too when ``with_size`` (``_asset_size``, read in
        the same snapshot; only DescribeDomain asks: the existence checks on every request pay nothing for it)."""
        with self._read() as conn:
            row = conn.execute(_domain_select().where(domains.c.owner == owner, domains.c.name == name)).one_or_none()
            if row is None:
                return None
            return _to_domain(row, _asset_size(conn, int(row.id)) if with_size else 0)

    def list_domains(self, owner: str, after: str | None, limit: int) -> Page[Domain]:
        check_limit(limit)
        stmt = _domain_select().where(domains.c.owner == owner)
        if after is not None:
            stmt = stmt.where(domains.c.name > after)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(domains.c.name).limit(limit + 1)).all()
        items = tuple(_to_domain(r) for r in rows[:limit])
        return Page(items=items, next_key=items[-1].name if len(rows) > limit else None)

    def count_domains(self, owner: str) -> int:
        with self._read() as conn:
            count = conn.execute(select(func.count()).select_from(domains).where(domains.c.owner == owner)).scalar_one()
        return int(count)

    def delete_domain(self, owner: str, name: str) -> Domain:
        with self._write() as conn:
            row = conn.execute(_domain_select().where(domains.c.owner == owner, domains.c.name == name)).one_or_none()
            if row is None:
                raise no_domain(owner, name)
            contains = ConflictError(f"Domain {name} contains repositories", resource_id=name, resource_type="domain")
            if row.repository_count:
                raise contains
            try:
                drop_domain_package_groups(conn, int(row.id), row.arn)
                conn.execute(delete(domains).where(domains.c.id == row.id))
            except IntegrityError as exc:  # a repository was created meanwhile
                raise contains from exc
            drop_resource_extras(conn, row.arn)
        return _to_domain(row)
