"""Package groups: one row per group of a domain (its modes in three columns), one row per allowed repository of
each restriction; both go with the domain (ON DELETE CASCADE), tags by ARN with the group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, and_, delete, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from coffer.core.packages.package_group_store import Coordinates
from coffer.core.packages.package_groups import (
    RESTRICTION_TYPES,
    PackageGroup,
    RestrictionMode,
    RestrictionType,
)
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError
from coffer.store.schema import domains, package_group_allowed_repositories, package_groups, packages, repositories
from coffer.store.sql.base import check_limit
from coffer.store.sql.domains import lookup_domain_id, no_domain
from coffer.store.sql.resource_extras import SqlResourceExtras, drop_resource_extras

_MODE_COLUMNS: Mapping[RestrictionType, str] = {
    "PUBLISH": "publish",
    "EXTERNAL_UPSTREAM": "external_upstream",
    "INTERNAL_UPSTREAM": "internal_upstream",
}
_allowed = package_group_allowed_repositories


def no_group(domain: str, pattern: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Package group {pattern} not found in domain {domain}", resource_id=pattern, resource_type="package-group"
    )


def _select_groups(owner: str, domain: str) -> Any:
    return (
        select(package_groups, domains.c.owner.label("domain_owner"), domains.c.name.label("domain_name"))
        .select_from(package_groups.join(domains, domains.c.id == package_groups.c.domain_id))
        .where(domains.c.owner == owner, domains.c.name == domain)
    )


def _load(conn: Connection, rows: Sequence[Any]) -> list[PackageGroup]:
    ids = [int(r.id) for r in rows]
    allowed: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if ids:
        found = conn.execute(
            select(_allowed.c.group_id, _allowed.c.restriction, _allowed.c.repository)
            .where(_allowed.c.group_id.in_(ids))
            .order_by(_allowed.c.group_id, _allowed.c.restriction, _allowed.c.repository)
        )
        for gid, restriction, repository in found:
            allowed[int(gid)][restriction].append(repository)
    return [
        PackageGroup(
            domain_owner=r.domain_owner,
            domain_name=r.domain_name,
            pattern=r.pattern,
            arn=r.arn,
            created_time=r.created_time,
            description=r.description,
            contact_info=r.contact_info,
            modes={t: cast(RestrictionMode, getattr(r, c)) for t, c in _MODE_COLUMNS.items()},
            allowed={cast(RestrictionType, t): tuple(names) for t, names in allowed[int(r.id)].items()},
        )
        for r in rows
    ]


def _group_row(conn: Connection, owner: str, domain: str, pattern: str) -> Any:
    return conn.execute(_select_groups(owner, domain).where(package_groups.c.pattern == pattern)).one_or_none()


class SqlPackageGroups(SqlResourceExtras):
    def create_package_group(self, group: PackageGroup, tags: Mapping[str, str]) -> None:
        with self._write() as conn:
            domain_id = lookup_domain_id(conn, group.domain_owner, group.domain_name)
            if domain_id is None:
                raise no_domain(group.domain_owner, group.domain_name)
            values = {
                "domain_id": domain_id,
                "pattern": group.pattern,
                "arn": group.arn,
                "created_time": group.created_time,
                "description": group.description,
                "contact_info": group.contact_info,
                **{c: group.mode(t) for t, c in _MODE_COLUMNS.items()},
            }
            try:
                gid = conn.execute(insert(package_groups).values(values).returning(package_groups.c.id)).scalar_one()
            except IntegrityError as exc:
                raise ConflictError(
                    f"Package group {group.pattern} already exists in domain {group.domain_name}",
                    resource_id=group.pattern,
                    resource_type="package-group",
                ) from exc
            rows = [
                {"group_id": gid, "restriction": t, "repository": name}
                for t in RESTRICTION_TYPES
                for name in sorted(set(group.allowed_repositories(t)))
            ]
            if rows:
                conn.execute(insert(_allowed), rows)
            self._replace_tags(conn, group.arn, tags)

    def get_package_group(self, owner: str, domain: str, pattern: str) -> PackageGroup | None:
        with self._read() as conn:
            row = _group_row(conn, owner, domain, pattern)
            return None if row is None else _load(conn, [row])[0]

    def list_package_groups(self, owner: str, domain: str) -> tuple[PackageGroup, ...]:
        with self._read() as conn:
            rows = conn.execute(_select_groups(owner, domain).order_by(package_groups.c.pattern)).all()
            return tuple(_load(conn, rows))

    def update_package_group(
        self, owner: str, domain: str, pattern: str, *, description: str | None, contact_info: str | None
    ) -> PackageGroup:
        with self._write() as conn:
            row = _group_row(conn, owner, domain, pattern)
            if row is None:
                raise no_group(domain, pattern)
            values = {k: v for k, v in (("description", description), ("contact_info", contact_info)) if v is not None}
            if values:
                conn.execute(update(package_groups).where(package_groups.c.id == row.id).values(values))
            return _load(conn, [_group_row(conn, owner, domain, pattern)])[0]

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
        with self._write() as conn:
            row = _group_row(conn, owner, domain, pattern)
            if row is None:
                raise no_group(domain, pattern)
            gid = int(row.id)
            if modes:
                conn.execute(
                    update(package_groups)
                    .where(package_groups.c.id == gid)
                    .values({_MODE_COLUMNS[t]: m for t, m in modes.items()})
                )
            if add:
                rows = [{"group_id": gid, "restriction": t, "repository": r} for t, r in sorted(set(add))]
                stmt = self._insert(_allowed).values(rows).on_conflict_do_nothing()
                conn.execute(stmt)
            if remove:
                pairs = sorted(set(remove))
                conn.execute(
                    delete(_allowed).where(
                        _allowed.c.group_id == gid,
                        or_(*(and_(_allowed.c.restriction == t, _allowed.c.repository == r) for t, r in pairs)),
                    )
                )
            return _load(conn, [_group_row(conn, owner, domain, pattern)])[0]

    def delete_package_group(self, owner: str, domain: str, pattern: str) -> PackageGroup:
        with self._write() as conn:
            row = _group_row(conn, owner, domain, pattern)
            if row is None:
                raise no_group(domain, pattern)
            group = _load(conn, [row])[0]
            conn.execute(delete(_allowed).where(_allowed.c.group_id == row.id))
            conn.execute(delete(package_groups).where(package_groups.c.id == row.id))
            drop_resource_extras(conn, group.arn)
            return group

    def list_domain_packages(
        self, owner: str, domain: str, fmt: str | None, after: Coordinates | None, limit: int
    ) -> tuple[Coordinates, ...]:
        check_limit(limit)
        stmt = (
            select(packages.c.format, packages.c.namespace, packages.c.name)
            .distinct()
            .select_from(
                packages.join(repositories, repositories.c.id == packages.c.repository_id).join(
                    domains, domains.c.id == repositories.c.domain_id
                )
            )
            .where(domains.c.owner == owner, domains.c.name == domain)
        )
        if fmt is not None:
            stmt = stmt.where(packages.c.format == fmt)
        if after is not None:
            key = tuple_(packages.c.format, packages.c.namespace, packages.c.name)
            stmt = stmt.where(key > tuple_(after[0], after[1] or "", after[2]))
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(packages.c.format, packages.c.namespace, packages.c.name).limit(limit))
            return tuple((r.format, r.namespace or None, r.name) for r in rows)
