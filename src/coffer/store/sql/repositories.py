"""Repositories with their upstreams and external connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from coffer.core.codeartifact.resources import ExternalConnection, Repository
from coffer.core.packages.package_models import RepoRef
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.core.shared.pagination import Page
from coffer.store.schema import domains, repositories, repository_external_connections, repository_upstreams
from coffer.store.sql.base import check_limit, decode_key, encode_key, from_row, row_values, starts_with, violation
from coffer.store.sql.domains import lookup_domain_id, no_domain
from coffer.store.sql.resource_extras import SqlResourceExtras, drop_resource_extras


def no_repository(domain: str, name: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Repository {name} not found in domain {domain}", resource_id=name, resource_type="repository"
    )


def lookup_repository_id(conn: Connection, repo: RepoRef) -> int | None:
    found = conn.execute(
        select(repositories.c.id)
        .join(domains, repositories.c.domain_id == domains.c.id)
        .where(domains.c.owner == repo.domain_owner, domains.c.name == repo.domain, repositories.c.name == repo.name)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _missing_upstream(domain: str, name: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Upstream repository {name} not found in domain {domain}",
        resource_id=name,
        resource_type="repository",
    )


def _repository_select() -> Select[Any]:
    return select(
        repositories,
        domains.c.name.label("domain_name"),
        domains.c.owner.label("domain_owner"),
    ).join(domains, repositories.c.domain_id == domains.c.id)


def _load_repositories(conn: Connection, rows: Sequence[Any]) -> list[Repository]:
    """Repository objects for rows of ``_repository_select``, with upstreams and connections."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    upstream = repositories.alias("upstream")
    ups: dict[int, list[str]] = {}
    for rid, uname in conn.execute(
        select(repository_upstreams.c.repository_id, upstream.c.name)
        .join(upstream, repository_upstreams.c.upstream_id == upstream.c.id)
        .where(repository_upstreams.c.repository_id.in_(ids))
        .order_by(repository_upstreams.c.repository_id, repository_upstreams.c.position)
    ):
        ups.setdefault(rid, []).append(uname)
    conns: dict[int, list[ExternalConnection]] = {}
    ec = repository_external_connections
    for r in conn.execute(select(ec).where(ec.c.repository_id.in_(ids)).order_by(ec.c.repository_id, ec.c.position)):
        conns.setdefault(r.repository_id, []).append(from_row(ExternalConnection, r))
    return [
        from_row(Repository, r, upstreams=tuple(ups.get(r.id, ())), external_connections=tuple(conns.get(r.id, ())))
        for r in rows
    ]


def _check_names(repository: Repository) -> None:
    if len(set(repository.upstreams)) != len(repository.upstreams):
        raise ValidationError(f"Repository {repository.name} names the same upstream more than once")
    names = [c.name for c in repository.external_connections]
    if len(set(names)) != len(names):
        raise ValidationError(f"Repository {repository.name} names the same external connection more than once")


def _downstream_names(conn: Connection, repo_id: int) -> list[str]:
    return list(
        conn.execute(
            select(repositories.c.name)
            .join(repository_upstreams, repository_upstreams.c.repository_id == repositories.c.id)
            .where(repository_upstreams.c.upstream_id == repo_id, repositories.c.id != repo_id)
            .order_by(repositories.c.name)
        ).scalars()
    )


def _resolve_upstreams(conn: Connection, domain_id: int, repository: Repository) -> list[int]:
    """Ids of the named upstreams, in order; ResourceNotFoundError naming the first missing one."""
    if not repository.upstreams:
        return []
    rows = conn.execute(
        select(repositories.c.name, repositories.c.id).where(
            repositories.c.domain_id == domain_id, repositories.c.name.in_(repository.upstreams)
        )
    ).all()
    found = {name: int(rid) for name, rid in rows}
    for upstream_name in repository.upstreams:
        if upstream_name not in found:
            raise _missing_upstream(repository.domain_name, upstream_name)
    return [found[n] for n in repository.upstreams]


def _write_upstreams(
    conn: Connection, repo_id: int, domain_id: int, upstream_ids: Sequence[int], repository: Repository
) -> None:
    """(Re)writes the upstream rows of a repository."""
    conn.execute(delete(repository_upstreams).where(repository_upstreams.c.repository_id == repo_id))
    if upstream_ids:
        rows = [
            {"repository_id": repo_id, "position": i, "domain_id": domain_id, "upstream_id": uid}
            for i, uid in enumerate(upstream_ids)
        ]
        try:
            conn.execute(insert(repository_upstreams), rows)
        except IntegrityError as exc:  # an upstream was deleted meanwhile
            raise _missing_upstream(repository.domain_name, ", ".join(repository.upstreams)) from exc


def _write_connections(conn: Connection, repo_id: int, connections: Sequence[ExternalConnection]) -> None:
    """(Re)writes the external-connection rows of a repository."""
    ec = repository_external_connections
    conn.execute(delete(ec).where(ec.c.repository_id == repo_id))
    if connections:
        conn.execute(
            insert(ec),
            [
                {"repository_id": repo_id, "position": i, "name": c.name, "package_format": c.package_format,
                 "status": c.status}
                for i, c in enumerate(connections)
            ],
        )  # fmt: skip


class SqlRepositories(SqlResourceExtras):
    def create_repository(self, repository: Repository, tags: Mapping[str, str]) -> None:
        _check_names(repository)
        with self._write() as conn:
            domain_id = lookup_domain_id(conn, repository.domain_owner, repository.domain_name)
            if domain_id is None:
                raise no_domain(repository.domain_owner, repository.domain_name)
            # resolved before the insert: a new repository cannot be its own upstream
            upstream_ids = _resolve_upstreams(conn, domain_id, repository)
            try:
                repo_id = conn.execute(
                    insert(repositories)
                    .values(row_values(repository, repositories, domain_id=domain_id))
                    .returning(repositories.c.id)
                ).scalar_one()
            except IntegrityError as exc:
                if violation(exc) == "foreign_key":  # the domain was deleted meanwhile
                    raise no_domain(repository.domain_owner, repository.domain_name) from exc
                raise ConflictError(
                    f"Repository {repository.name} already exists in domain {repository.domain_name}",
                    resource_id=repository.name,
                    resource_type="repository",
                ) from exc
            _write_upstreams(conn, int(repo_id), domain_id, upstream_ids, repository)
            _write_connections(conn, int(repo_id), repository.external_connections)
            self._replace_tags(conn, repository.arn, tags)

    def get_repository(self, owner: str, domain: str, name: str) -> Repository | None:
        with self._read() as conn:
            rows = conn.execute(
                _repository_select().where(
                    domains.c.owner == owner, domains.c.name == domain, repositories.c.name == name
                )
            ).all()
            loaded = _load_repositories(conn, rows)
        return loaded[0] if loaded else None

    def update_repository(self, repository: Repository) -> None:
        """Description and upstreams (external connections: ``set_external_connections``). Also
        ResourceNotFoundError if the repository (or its domain) does not exist."""
        _check_names(repository)
        with self._write() as conn:
            domain_id = lookup_domain_id(conn, repository.domain_owner, repository.domain_name)
            if domain_id is None:
                raise no_domain(repository.domain_owner, repository.domain_name)
            # updating the row first also locks it on PostgreSQL: concurrent updates of one repository
            # run one after the other
            repo_id = conn.execute(
                update(repositories)
                .where(repositories.c.domain_id == domain_id, repositories.c.name == repository.name)
                .values(description=repository.description)
                .returning(repositories.c.id)
            ).scalar_one_or_none()
            if repo_id is None:
                raise no_repository(repository.domain_name, repository.name)
            upstream_ids = _resolve_upstreams(conn, domain_id, repository)
            _write_upstreams(conn, int(repo_id), domain_id, upstream_ids, repository)

    def set_external_connections(
        self,
        owner: str,
        domain: str,
        name: str,
        connections: Sequence[ExternalConnection],
        *,
        expected: Sequence[str],
    ) -> None:
        """Replaces the repository's external connections, if its current ones are named ``expected`` (checked
        with the repository's row locked): ConflictError otherwise, so two concurrent changes never both land."""
        with self._write() as conn:
            domain_id = lookup_domain_id(conn, owner, domain)
            if domain_id is None:
                raise no_domain(owner, domain)
            repo_id = conn.execute(
                update(repositories)
                .where(repositories.c.domain_id == domain_id, repositories.c.name == name)
                .values(description=repositories.c.description)  # locks the row on PostgreSQL
                .returning(repositories.c.id)
            ).scalar_one_or_none()
            if repo_id is None:
                raise no_repository(domain, name)
            ec = repository_external_connections
            current = (
                conn.execute(select(ec.c.name).where(ec.c.repository_id == repo_id).order_by(ec.c.position))
                .scalars()
                .all()
            )
            if list(current) != list(expected):
                raise ConflictError(
                    f"The external connections of repository {name} changed meanwhile; try again", name, "repository"
                )
            _write_connections(conn, int(repo_id), connections)

    def delete_repository(self, owner: str, domain: str, name: str) -> Repository:
        with self._write() as conn:
            rows = conn.execute(
                _repository_select().where(
                    domains.c.owner == owner, domains.c.name == domain, repositories.c.name == name
                )
            ).all()
            if not rows:
                raise no_repository(domain, name)
            repository = _load_repositories(conn, rows)[0]
            repo_id = rows[0].id
            downstreams = _downstream_names(conn, repo_id)

            def named_upstream(names: Sequence[str]) -> ConflictError:
                listed = f": {', '.join(names)}" if names else ""
                return ConflictError(
                    f"Repository {name} cannot be deleted while it is an upstream of other repositories{listed}",
                    resource_id=name,
                    resource_type="repository",
                )

            if downstreams:
                raise named_upstream(downstreams)
            try:
                conn.execute(delete(repositories).where(repositories.c.id == repo_id))
            except IntegrityError as exc:  # a downstream appeared meanwhile
                raise named_upstream([]) from exc
            drop_resource_extras(conn, repository.arn)
        return repository

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
        check_limit(limit)
        stmt = _repository_select()
        if administrator_account is not None:
            stmt = stmt.where(repositories.c.administrator_account == administrator_account)
        if owner is not None:
            stmt = stmt.where(domains.c.owner == owner)
        if domain is not None:
            stmt = stmt.where(domains.c.name == domain)
        if prefix:
            stmt = stmt.where(starts_with(repositories.c.name, prefix))
        if after is not None:
            a_name, a_domain, a_owner = decode_key(after, 3)
            stmt = stmt.where(
                or_(
                    repositories.c.name > a_name,
                    and_(repositories.c.name == a_name, domains.c.name > a_domain),
                    and_(repositories.c.name == a_name, domains.c.name == a_domain, domains.c.owner > a_owner),
                )
            )
        stmt = stmt.order_by(repositories.c.name, domains.c.name, domains.c.owner).limit(limit + 1)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            items = tuple(_load_repositories(conn, rows[:limit]))
        next_key = None
        if len(rows) > limit:
            last = items[-1]
            next_key = encode_key([last.name, last.domain_name, last.domain_owner])
        return Page(items=items, next_key=next_key)

    def list_downstreams(self, owner: str, domain: str, name: str) -> list[Repository]:
        """Ordered by name."""
        with self._read() as conn:
            repo_id = conn.execute(
                select(repositories.c.id)
                .join(domains, repositories.c.domain_id == domains.c.id)
                .where(domains.c.owner == owner, domains.c.name == domain, repositories.c.name == name)
            ).scalar_one_or_none()
            if repo_id is None:
                return []
            downstream_ids = (
                select(repository_upstreams.c.repository_id)
                .where(repository_upstreams.c.upstream_id == repo_id)
                .scalar_subquery()
            )
            rows = conn.execute(
                _repository_select().where(repositories.c.id.in_(downstream_ids)).order_by(repositories.c.name)
            ).all()
            return _load_repositories(conn, rows)
