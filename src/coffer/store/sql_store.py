"""``SqlStore``: core's ``Store`` port on SQLAlchemy Core, identical on SQLite and PostgreSQL.

Every public method is one transaction. Writes go through ``writer(engine)`` (``BEGIN IMMEDIATE`` on
SQLite). Invariants that concurrent writers could break between a check and a write are also enforced by
the schema (unique keys, foreign keys); the resulting ``IntegrityError`` is translated into the same
``ConflictError``/``ResourceNotFoundError`` the explicit check would have raised.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Final, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Select,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError

from coffer.core.codeartifact.resources import Domain, ExternalConnection, Repository, ResourcePolicy
from coffer.core.identity.iam_models import AccessKey, Account, NamedPolicy, User
from coffer.core.packages.package_models import Asset, BlobInfo, Package, PackageRef, PackageVersion, RepoRef
from coffer.core.shared.errors import CofferError, ConflictError, ResourceNotFoundError, ValidationError
from coffer.core.shared.pagination import Page
from coffer.store.engine import create_engine_for, writer
from coffer.store.migrations.runner import LATEST_VERSION, apply_migrations, current_version
from coffer.store.schema import (
    access_keys,
    accounts,
    asset_names,
    assets,
    domains,
    package_versions,
    packages,
    repositories,
    repository_external_connections,
    repository_upstreams,
    resource_policies,
    user_policies,
    users,
)
from coffer.store.schema import revoked_tokens as revoked_table
from coffer.store.schema import tags as tag_table
from coffer.store.secrets import SecretCipher, key_secret_context
from coffer.store.sql_iam import SqlIamMixin

_REVISION_BYTES: Final = 18
_BLOB_BATCH: Final = 500

Violation = Literal["unique", "foreign_key", "other"]


class SchemaNotCurrentError(RuntimeError):
    """A database opened read-only is not at the schema version this Coffer uses (migrating would write)."""


def open_store(url: str, cipher: SecretCipher | None = None, *, read_only: bool = False) -> SqlStore:
    """Engine for ``url`` (see ``create_engine_for``), migrations applied, store ready. ``cipher`` seals the secret
    columns (Coffer always passes one; without it, as in the store's contract tests, secrets are kept as given).
    ``read_only``: nothing is written (SQLite opened read-only, no migration: ``SchemaNotCurrentError`` if one is
    due); for commands that only read, on a data directory they cannot write."""
    engine = create_engine_for(url, read_only=read_only)
    try:
        if read_only:
            with engine.connect() as conn:
                version = current_version(conn)
            if version != LATEST_VERSION:
                raise SchemaNotCurrentError(
                    f"the database schema is at version {version}, this Coffer uses {LATEST_VERSION}: "
                    "open it once where it can be written (to migrate it)"
                )
        else:
            apply_migrations(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, cipher)


def violation(exc: IntegrityError) -> Violation:
    """Which kind of constraint an ``IntegrityError`` reports, on either backend."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate == "23505":
        return "unique"
    if sqlstate == "23503":
        return "foreign_key"
    name = getattr(orig, "sqlite_errorname", "") or ""
    message = str(orig)
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY") or "UNIQUE constraint" in message:
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY" or "FOREIGN KEY constraint" in message:
        return "foreign_key"
    return "other"


def _arn_resource(arn: str) -> tuple[str | None, str]:
    """(resource type, resource id) of a CodeArtifact ARN, for error fields."""
    resource = arn.split(":", 5)[-1]
    kind, _, path = resource.partition("/")
    if kind in ("domain", "repository", "package") and path:
        return kind, path.rsplit("/", 1)[-1]
    return None, arn


def _encode_key(parts: Sequence[str]) -> str:
    raw = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_key(token: str, arity: int) -> list[str]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("The pagination token is invalid") from exc
    if not (isinstance(parts, list) and len(parts) == arity and all(isinstance(p, str) for p in parts)):
        raise ValidationError("The pagination token is invalid")
    return parts


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValidationError(f"The page size must be at least 1, not {limit}")


class SqlStore(SqlIamMixin):
    """Implements ``coffer.core.ports.Store`` (the ``IamStore`` part in ``SqlIamMixin``)."""

    def __init__(self, engine: Engine, cipher: SecretCipher | None = None) -> None:
        self._engine = engine
        self._cipher = cipher
        self._writer = writer(engine)
        postgres = engine.dialect.name == "postgresql"
        # reads that take several statements see one snapshot (SQLite's BEGIN already gives one);
        # read-only REPEATABLE READ transactions never fail with serialization errors on PostgreSQL
        self._reader = engine.execution_options(isolation_level="REPEATABLE READ") if postgres else engine
        self._insert: Any = pg_dialect.insert if postgres else sqlite_dialect.insert

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # --- transactions and helpers ---------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._reader.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    def _upsert(self, table: Table, values: Sequence[Mapping[str, Any]], update_columns: Sequence[str]) -> Insert:
        """INSERT of rows ... ON CONFLICT (primary key) DO UPDATE, in either dialect."""
        stmt = self._insert(table).values(list(values))
        return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[c.name for c in table.primary_key.columns],
            set_={name: stmt.excluded[name] for name in update_columns},
        )

    def _replace_tags(self, conn: Connection, arn: str, new_tags: Mapping[str, str]) -> None:
        conn.execute(delete(tag_table).where(tag_table.c.resource_arn == arn))
        self._put_tags(conn, arn, new_tags)

    def _put_tags(self, conn: Connection, arn: str, new_tags: Mapping[str, str]) -> None:
        """Adds or overwrites (an upsert: safe against a concurrent tagging of the same key)."""
        if new_tags:
            rows = [{"resource_arn": arn, "key": k, "value": v} for k, v in new_tags.items()]
            conn.execute(self._upsert(tag_table, rows, ["value"]))

    @staticmethod
    def _drop_resource_extras(conn: Connection, arn: str) -> None:
        conn.execute(delete(tag_table).where(tag_table.c.resource_arn == arn))
        conn.execute(delete(resource_policies).where(resource_policies.c.resource_arn == arn))

    # --- accounts -------------------------------------------------------------------------------------

    def create_account(self, account: Account) -> None:
        with self._write() as conn:
            try:
                conn.execute(insert(accounts).values(account_id=account.account_id, created_at=account.created_at))
            except IntegrityError as exc:
                raise ConflictError(
                    f"Account {account.account_id} already exists", resource_id=account.account_id
                ) from exc

    def get_account(self, account_id: str) -> Account | None:
        with self._read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.account_id == account_id)).one_or_none()
        return None if row is None else Account(account_id=row.account_id, created_at=row.created_at)

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.account_id)).all()
        return [Account(account_id=r.account_id, created_at=r.created_at) for r in rows]

    # --- users ----------------------------------------------------------------------------------------

    @staticmethod
    def _user_exists(conn: Connection, account_id: str, name: str) -> bool:
        return (
            conn.execute(select(users.c.name).where(users.c.account_id == account_id, users.c.name == name)).first()
            is not None
        )

    @staticmethod
    def _no_user(account_id: str, name: str) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"The user with name {name} cannot be found in account {account_id}.", resource_id=name
        )

    @staticmethod
    def _to_user(row: Any) -> User:
        return User(
            account_id=row.account_id,
            name=row.name,
            user_id=row.user_id,
            created_at=row.created_at,
            path=row.path,
        )

    def create_user(self, user: User) -> None:
        with self._write() as conn:
            if self._user_exists(conn, user.account_id, user.name):
                raise ConflictError(f"User with name {user.name} already exists.", resource_id=user.name)
            try:
                conn.execute(
                    insert(users).values(
                        account_id=user.account_id,
                        name=user.name,
                        user_id=user.user_id,
                        path=user.path,
                        created_at=user.created_at,
                    )
                )
            except IntegrityError as exc:
                if violation(exc) == "foreign_key":
                    raise ResourceNotFoundError(
                        f"Account {user.account_id} not found", resource_id=user.account_id
                    ) from exc
                # the name was free a moment ago: the user id is taken (or the name just got taken)
                raise ConflictError(
                    f"User id {user.user_id} or name {user.name} is already in use.", resource_id=user.name
                ) from exc

    def get_user(self, account_id: str, name: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(
                select(users).where(users.c.account_id == account_id, users.c.name == name)
            ).one_or_none()
        return None if row is None else self._to_user(row)

    def list_users(self, account_id: str) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(select(users).where(users.c.account_id == account_id).order_by(users.c.name)).all()
        return [self._to_user(r) for r in rows]

    def delete_user(self, account_id: str, name: str) -> None:
        """Deletes the user with its access keys (and their last use), inline policies, group memberships and
        policy attachments (unlike IAM's DeleteUser, which refuses while any of these remain)."""
        with self._write() as conn:
            # the row lock makes concurrent attach_policy calls (which hold it FOR SHARE) wait and then fail
            locked = conn.execute(
                select(users.c.name).where(users.c.account_id == account_id, users.c.name == name).with_for_update()
            ).first()
            if locked is None:
                raise self._no_user(account_id, name)
            self.delete_user_attachments(conn, account_id, name)
            conn.execute(delete(users).where(users.c.account_id == account_id, users.c.name == name))

    # --- access keys ----------------------------------------------------------------------------------

    def _to_key(self, row: Any) -> AccessKey:
        return AccessKey(
            access_key_id=row.access_key_id,
            secret_access_key=self._open_secret(row.secret_access_key, key_secret_context(row.access_key_id)),
            account_id=row.account_id,
            user_name=row.user_name,
            created_at=row.created_at,
            status=row.status,
            user_id=row.user_id,
        )

    def create_access_key(self, key: AccessKey) -> None:
        """The key is bound to the user's current unique id (read in the same transaction)."""
        with self._write() as conn:
            user_id = None
            if key.user_name is not None:
                user_id = conn.execute(
                    select(users.c.user_id).where(users.c.account_id == key.account_id, users.c.name == key.user_name)
                ).scalar_one_or_none()
                if user_id is None:
                    raise self._no_user(key.account_id, key.user_name)
            try:
                conn.execute(
                    insert(access_keys).values(
                        access_key_id=key.access_key_id,
                        secret_access_key=self._seal_secret(
                            key.secret_access_key, key_secret_context(key.access_key_id)
                        ),
                        account_id=key.account_id,
                        user_name=key.user_name,
                        status=key.status,
                        created_at=key.created_at,
                        user_id=user_id,
                    )
                )
            except IntegrityError as exc:
                if violation(exc) == "foreign_key":
                    raise self._no_user(key.account_id, key.user_name or "") from exc
                raise ConflictError(
                    f"Access key {key.access_key_id} already exists", resource_id=key.access_key_id
                ) from exc

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        with self._read() as conn:
            row = conn.execute(select(access_keys).where(access_keys.c.access_key_id == access_key_id)).one_or_none()
        return None if row is None else self._to_key(row)

    def list_access_keys(self, account_id: str, user_name: str) -> list[AccessKey]:
        """Ordered by creation time, then id."""
        with self._read() as conn:
            rows = conn.execute(
                select(access_keys)
                .where(access_keys.c.account_id == account_id, access_keys.c.user_name == user_name)
                .order_by(access_keys.c.created_at, access_keys.c.access_key_id)
            ).all()
        return [self._to_key(r) for r in rows]

    def delete_access_key(self, access_key_id: str) -> None:
        with self._write() as conn:
            result = conn.execute(delete(access_keys).where(access_keys.c.access_key_id == access_key_id))
            if result.rowcount == 0:
                raise ResourceNotFoundError(
                    f"The Access Key with id {access_key_id} cannot be found.", resource_id=access_key_id
                )

    # --- inline user policies -------------------------------------------------------------------------

    def put_user_policy(self, account_id: str, user_name: str, policy: NamedPolicy) -> None:
        with self._write() as conn:
            if not self._user_exists(conn, account_id, user_name):
                raise self._no_user(account_id, user_name)
            stmt = self._upsert(
                user_policies,
                [
                    {
                        "account_id": account_id,
                        "user_name": user_name,
                        "name": policy.name,
                        "document": policy.document,
                    }
                ],
                ["document"],
            )
            try:
                conn.execute(stmt)
            except IntegrityError as exc:  # the user went away meanwhile
                raise self._no_user(account_id, user_name) from exc

    def list_user_policies(self, account_id: str, user_name: str) -> list[NamedPolicy]:
        with self._read() as conn:
            rows = conn.execute(
                select(user_policies.c.name, user_policies.c.document)
                .where(user_policies.c.account_id == account_id, user_policies.c.user_name == user_name)
                .order_by(user_policies.c.name)
            ).all()
        return [NamedPolicy(name=r.name, document=r.document) for r in rows]

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                delete(user_policies).where(
                    user_policies.c.account_id == account_id,
                    user_policies.c.user_name == user_name,
                    user_policies.c.name == policy_name,
                )
            )
            if result.rowcount == 0:
                if not self._user_exists(conn, account_id, user_name):
                    raise self._no_user(account_id, user_name)
                raise ResourceNotFoundError(
                    f"The user policy with name {policy_name} cannot be found.", resource_id=policy_name
                )

    # --- domains --------------------------------------------------------------------------------------

    @staticmethod
    def _no_domain(owner: str, name: str) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"Domain {name} not found in account {owner}", resource_id=name, resource_type="domain"
        )

    @staticmethod
    def _domain_select() -> Select[Any]:
        count = (
            select(func.count())
            .select_from(repositories)
            .where(repositories.c.domain_id == domains.c.id)
            .scalar_subquery()
        )
        return select(domains, count.label("repository_count"))

    @staticmethod
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

    @staticmethod
    def _to_domain(row: Any, asset_size_bytes: int = 0) -> Domain:
        return Domain(
            name=row.name,
            owner=row.owner,
            arn=row.arn,
            created_time=row.created_time,
            encryption_key=row.encryption_key,
            status=row.status,
            repository_count=int(row.repository_count),
            asset_size_bytes=asset_size_bytes,
        )

    @staticmethod
    def _domain_id(conn: Connection, owner: str, name: str) -> int | None:
        found = conn.execute(
            select(domains.c.id).where(domains.c.owner == owner, domains.c.name == name)
        ).scalar_one_or_none()
        return None if found is None else int(found)

    def create_domain(self, domain: Domain, tags: Mapping[str, str]) -> None:
        with self._write() as conn:
            try:
                conn.execute(
                    insert(domains).values(
                        owner=domain.owner,
                        name=domain.name,
                        arn=domain.arn,
                        created_time=domain.created_time,
                        encryption_key=domain.encryption_key,
                        status=domain.status,
                    )
                )
            except IntegrityError as exc:
                raise ConflictError(
                    f"Domain {domain.name} already exists", resource_id=domain.name, resource_type="domain"
                ) from exc
            self._replace_tags(conn, domain.arn, tags)

    def get_domain(self, owner: str, name: str, *, with_size: bool = False) -> Domain | None:
        """With ``repository_count``; with ``asset_size_bytes`` too when ``with_size`` (``_asset_size``, read in
        the same snapshot; only DescribeDomain asks: the existence checks on every request pay nothing for it)."""
        with self._read() as conn:
            row = conn.execute(
                self._domain_select().where(domains.c.owner == owner, domains.c.name == name)
            ).one_or_none()
            if row is None:
                return None
            return self._to_domain(row, self._asset_size(conn, int(row.id)) if with_size else 0)

    def list_domains(self, owner: str, after: str | None, limit: int) -> Page[Domain]:
        _check_limit(limit)
        stmt = self._domain_select().where(domains.c.owner == owner)
        if after is not None:
            stmt = stmt.where(domains.c.name > after)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(domains.c.name).limit(limit + 1)).all()
        items = tuple(self._to_domain(r) for r in rows[:limit])
        return Page(items=items, next_key=items[-1].name if len(rows) > limit else None)

    def count_domains(self, owner: str) -> int:
        with self._read() as conn:
            count = conn.execute(select(func.count()).select_from(domains).where(domains.c.owner == owner)).scalar_one()
        return int(count)

    def delete_domain(self, owner: str, name: str) -> Domain:
        with self._write() as conn:
            row = conn.execute(
                self._domain_select().where(domains.c.owner == owner, domains.c.name == name)
            ).one_or_none()
            if row is None:
                raise self._no_domain(owner, name)
            contains = ConflictError(f"Domain {name} contains repositories", resource_id=name, resource_type="domain")
            if row.repository_count:
                raise contains
            try:
                conn.execute(delete(domains).where(domains.c.id == row.id))
            except IntegrityError as exc:  # a repository was created meanwhile
                raise contains from exc
            self._drop_resource_extras(conn, row.arn)
        return self._to_domain(row)

    # --- repositories ---------------------------------------------------------------------------------

    @staticmethod
    def _no_repository(domain: str, name: str) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"Repository {name} not found in domain {domain}", resource_id=name, resource_type="repository"
        )

    @staticmethod
    def _repository_select() -> Select[Any]:
        return select(
            repositories,
            domains.c.name.label("domain_name"),
            domains.c.owner.label("domain_owner"),
        ).join(domains, repositories.c.domain_id == domains.c.id)

    @staticmethod
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
        for r in conn.execute(
            select(ec).where(ec.c.repository_id.in_(ids)).order_by(ec.c.repository_id, ec.c.position)
        ):
            conns.setdefault(r.repository_id, []).append(
                ExternalConnection(name=r.name, package_format=r.package_format, status=r.status)
            )
        return [
            Repository(
                domain_name=r.domain_name,
                domain_owner=r.domain_owner,
                name=r.name,
                arn=r.arn,
                administrator_account=r.administrator_account,
                created_time=r.created_time,
                description=r.description,
                upstreams=tuple(ups.get(r.id, ())),
                external_connections=tuple(conns.get(r.id, ())),
            )
            for r in rows
        ]

    @staticmethod
    def _check_names(repository: Repository) -> None:
        if len(set(repository.upstreams)) != len(repository.upstreams):
            raise ValidationError(f"Repository {repository.name} names the same upstream more than once")
        names = [c.name for c in repository.external_connections]
        if len(set(names)) != len(names):
            raise ValidationError(f"Repository {repository.name} names the same external connection more than once")

    def _resolve_upstreams(self, conn: Connection, domain_id: int, repository: Repository) -> list[int]:
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
                raise self._missing_upstream(repository.domain_name, upstream_name)
        return [found[n] for n in repository.upstreams]

    def _write_links(
        self, conn: Connection, repo_id: int, domain_id: int, upstream_ids: Sequence[int], repository: Repository
    ) -> None:
        """(Re)writes the upstream and external-connection rows of a repository."""
        ec = repository_external_connections
        conn.execute(delete(repository_upstreams).where(repository_upstreams.c.repository_id == repo_id))
        conn.execute(delete(ec).where(ec.c.repository_id == repo_id))
        if upstream_ids:
            rows = [
                {"repository_id": repo_id, "position": i, "domain_id": domain_id, "upstream_id": uid}
                for i, uid in enumerate(upstream_ids)
            ]
            try:
                conn.execute(insert(repository_upstreams), rows)
            except IntegrityError as exc:  # an upstream was deleted meanwhile
                raise self._missing_upstream(repository.domain_name, ", ".join(repository.upstreams)) from exc
        if repository.external_connections:
            conn.execute(
                insert(ec),
                [
                    {
                        "repository_id": repo_id,
                        "position": i,
                        "name": c.name,
                        "package_format": c.package_format,
                        "status": c.status,
                    }
                    for i, c in enumerate(repository.external_connections)
                ],
            )

    @staticmethod
    def _missing_upstream(domain: str, name: str) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"Upstream repository {name} not found in domain {domain}",
            resource_id=name,
            resource_type="repository",
        )

    def create_repository(self, repository: Repository, tags: Mapping[str, str]) -> None:
        self._check_names(repository)
        with self._write() as conn:
            domain_id = self._domain_id(conn, repository.domain_owner, repository.domain_name)
            if domain_id is None:
                raise self._no_domain(repository.domain_owner, repository.domain_name)
            # resolved before the insert: a new repository cannot be its own upstream
            upstream_ids = self._resolve_upstreams(conn, domain_id, repository)
            try:
                repo_id = conn.execute(
                    insert(repositories)
                    .values(
                        domain_id=domain_id,
                        name=repository.name,
                        arn=repository.arn,
                        administrator_account=repository.administrator_account,
                        created_time=repository.created_time,
                        description=repository.description,
                    )
                    .returning(repositories.c.id)
                ).scalar_one()
            except IntegrityError as exc:
                if violation(exc) == "foreign_key":  # the domain was deleted meanwhile
                    raise self._no_domain(repository.domain_owner, repository.domain_name) from exc
                raise ConflictError(
                    f"Repository {repository.name} already exists in domain {repository.domain_name}",
                    resource_id=repository.name,
                    resource_type="repository",
                ) from exc
            self._write_links(conn, int(repo_id), domain_id, upstream_ids, repository)
            self._replace_tags(conn, repository.arn, tags)

    def get_repository(self, owner: str, domain: str, name: str) -> Repository | None:
        with self._read() as conn:
            rows = conn.execute(
                self._repository_select().where(
                    domains.c.owner == owner, domains.c.name == domain, repositories.c.name == name
                )
            ).all()
            loaded = self._load_repositories(conn, rows)
        return loaded[0] if loaded else None

    def update_repository(self, repository: Repository) -> None:
        """Also ResourceNotFoundError if the repository (or its domain) does not exist."""
        self._check_names(repository)
        with self._write() as conn:
            domain_id = self._domain_id(conn, repository.domain_owner, repository.domain_name)
            if domain_id is None:
                raise self._no_domain(repository.domain_owner, repository.domain_name)
            # updating the row first also locks it on PostgreSQL: concurrent updates of one repository
            # run one after the other
            repo_id = conn.execute(
                update(repositories)
                .where(repositories.c.domain_id == domain_id, repositories.c.name == repository.name)
                .values(description=repository.description)
                .returning(repositories.c.id)
            ).scalar_one_or_none()
            if repo_id is None:
                raise self._no_repository(repository.domain_name, repository.name)
            upstream_ids = self._resolve_upstreams(conn, domain_id, repository)
            self._write_links(conn, int(repo_id), domain_id, upstream_ids, repository)

    def delete_repository(self, owner: str, domain: str, name: str) -> Repository:
        with self._write() as conn:
            rows = conn.execute(
                self._repository_select().where(
                    domains.c.owner == owner, domains.c.name == domain, repositories.c.name == name
                )
            ).all()
            if not rows:
                raise self._no_repository(domain, name)
            repository = self._load_repositories(conn, rows)[0]
            repo_id = rows[0].id
            downstreams = self._downstream_names(conn, repo_id)

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
            self._drop_resource_extras(conn, repository.arn)
        return repository

    @staticmethod
    def _downstream_names(conn: Connection, repo_id: int) -> list[str]:
        return list(
            conn.execute(
                select(repositories.c.name)
                .join(repository_upstreams, repository_upstreams.c.repository_id == repositories.c.id)
                .where(repository_upstreams.c.upstream_id == repo_id, repositories.c.id != repo_id)
                .order_by(repositories.c.name)
            ).scalars()
        )

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
        _check_limit(limit)
        stmt = self._repository_select()
        if administrator_account is not None:
            stmt = stmt.where(repositories.c.administrator_account == administrator_account)
        if owner is not None:
            stmt = stmt.where(domains.c.owner == owner)
        if domain is not None:
            stmt = stmt.where(domains.c.name == domain)
        if prefix:
            stmt = stmt.where(_starts_with(repositories.c.name, prefix))
        if after is not None:
            a_name, a_domain, a_owner = _decode_key(after, 3)
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
            items = tuple(self._load_repositories(conn, rows[:limit]))
        next_key = None
        if len(rows) > limit:
            last = items[-1]
            next_key = _encode_key([last.name, last.domain_name, last.domain_owner])
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
                self._repository_select().where(repositories.c.id.in_(downstream_ids)).order_by(repositories.c.name)
            ).all()
            return self._load_repositories(conn, rows)

    # --- resource policies ----------------------------------------------------------------------------

    def get_resource_policy(self, resource_arn: str) -> ResourcePolicy | None:
        with self._read() as conn:
            row = conn.execute(
                select(resource_policies).where(resource_policies.c.resource_arn == resource_arn)
            ).one_or_none()
        return (
            None
            if row is None
            else ResourcePolicy(resource_arn=row.resource_arn, document=row.document, revision=row.revision)
        )

    @staticmethod
    def _stale(resource_arn: str, expected: str, exists: bool) -> ConflictError:
        kind, rid = _arn_resource(resource_arn)
        if exists:
            message = f"The policy revision {expected} does not match the current revision of {resource_arn}"
        else:
            message = f"No resource policy exists for {resource_arn}, so revision {expected} cannot match"
        return ConflictError(message, resource_id=rid, resource_type=kind)

    def put_resource_policy(self, resource_arn: str, document: str, expected_revision: str | None) -> ResourcePolicy:
        revision = secrets.token_urlsafe(_REVISION_BYTES)
        with self._write() as conn:
            if expected_revision is None:
                conn.execute(
                    self._upsert(
                        resource_policies,
                        [{"resource_arn": resource_arn, "document": document, "revision": revision}],
                        ["document", "revision"],
                    )
                )
            else:
                result = conn.execute(
                    update(resource_policies)
                    .where(
                        resource_policies.c.resource_arn == resource_arn,
                        resource_policies.c.revision == expected_revision,
                    )
                    .values(document=document, revision=revision)
                )
                if result.rowcount == 0:
                    raise self._stale(resource_arn, expected_revision, self._policy_exists(conn, resource_arn))
        return ResourcePolicy(resource_arn=resource_arn, document=document, revision=revision)

    @staticmethod
    def _policy_exists(conn: Connection, resource_arn: str) -> bool:
        return (
            conn.execute(
                select(resource_policies.c.revision).where(resource_policies.c.resource_arn == resource_arn)
            ).first()
            is not None
        )

    def delete_resource_policy(self, resource_arn: str, expected_revision: str | None) -> ResourcePolicy:
        stmt = delete(resource_policies).where(resource_policies.c.resource_arn == resource_arn)
        if expected_revision is not None:
            stmt = stmt.where(resource_policies.c.revision == expected_revision)
        with self._write() as conn:
            row = conn.execute(
                stmt.returning(
                    resource_policies.c.resource_arn, resource_policies.c.document, resource_policies.c.revision
                )
            ).one_or_none()
            if row is None:
                if expected_revision is not None and self._policy_exists(conn, resource_arn):
                    raise self._stale(resource_arn, expected_revision, True)
                kind, rid = _arn_resource(resource_arn)
                raise ResourceNotFoundError(
                    f"No resource policy exists for {resource_arn}", resource_id=rid, resource_type=kind
                )
        return ResourcePolicy(resource_arn=row.resource_arn, document=row.document, revision=row.revision)

    # --- tags -----------------------------------------------------------------------------------------

    def get_tags(self, resource_arn: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(
                select(tag_table.c.key, tag_table.c.value)
                .where(tag_table.c.resource_arn == resource_arn)
                .order_by(tag_table.c.key)
            ).all()
        return {r.key: r.value for r in rows}

    def tag_resource(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        with self._write() as conn:
            self._put_tags(conn, resource_arn, tags)

    def untag_resource(self, resource_arn: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        with self._write() as conn:
            conn.execute(
                delete(tag_table).where(tag_table.c.resource_arn == resource_arn, tag_table.c.key.in_(list(keys)))
            )

    # --- packages, versions, assets -------------------------------------------------------------------

    @staticmethod
    def _repository_id(conn: Connection, repo: RepoRef) -> int | None:
        found = conn.execute(
            select(repositories.c.id)
            .join(domains, repositories.c.domain_id == domains.c.id)
            .where(
                domains.c.owner == repo.domain_owner, domains.c.name == repo.domain, repositories.c.name == repo.name
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    @staticmethod
    def _package_where(ref: PackageRef) -> ColumnElement[bool]:
        """The package row of ``ref`` (joined through repositories and domains)."""
        return and_(
            domains.c.owner == ref.repo.domain_owner,
            domains.c.name == ref.repo.domain,
            repositories.c.name == ref.repo.name,
            packages.c.format == ref.format,
            packages.c.namespace == (ref.namespace or ""),
            packages.c.name == ref.name,
        )

    @classmethod
    def _package_id_select(cls, ref: PackageRef) -> Select[Any]:
        return (
            select(packages.c.id)
            .join(repositories, packages.c.repository_id == repositories.c.id)
            .join(domains, repositories.c.domain_id == domains.c.id)
            .where(cls._package_where(ref))
        )

    @classmethod
    def _version_id_select(cls, ref: PackageRef, version: str) -> Select[Any]:
        return select(package_versions.c.id).where(
            package_versions.c.package_id == cls._package_id_select(ref).scalar_subquery(),
            package_versions.c.version == version,
        )

    @staticmethod
    def _no_package(ref: PackageRef) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"Package {_package_label(ref)} not found in repository {ref.repo.name}",
            resource_id=ref.name,
            resource_type="package",
        )

    @staticmethod
    def _no_version(ref: PackageRef, version: str) -> ResourceNotFoundError:
        return ResourceNotFoundError(
            f"Version {version} of package {_package_label(ref)} not found in repository {ref.repo.name}",
            resource_id=version,
            resource_type="package-version",
        )

    @staticmethod
    def _to_package(repo: RepoRef, row: Any) -> Package:
        return Package(
            ref=PackageRef(repo=repo, format=row.format, namespace=row.namespace or None, name=row.name),
            display_name=row.display_name,
            publish=row.publish,
            upstream=row.upstream,
        )

    @staticmethod
    def _to_version(ref: PackageRef, row: Any) -> PackageVersion:
        origin = None
        if row.origin_repository is not None:
            origin = RepoRef(domain_owner=row.origin_domain_owner, domain=row.origin_domain, name=row.origin_repository)
        return PackageVersion(
            package=_normalized(ref),
            version=row.version,
            display_version=row.display_version,
            status=row.status,
            revision=row.revision,
            published_time=row.published_time,
            summary=row.summary,
            home_page=row.home_page,
            source_code_repository=row.source_code_repository,
            licenses=tuple(json.loads(row.licenses)),
            requires_python=row.requires_python,
            readme=row.readme,
            readme_content_type=row.readme_content_type,
            origin_repository=origin,
            extra=dict(json.loads(row.extra)),
        )

    @staticmethod
    def _to_asset(row: Any) -> Asset:
        return Asset(
            name=row.name,
            blob=BlobInfo(sha256=row.sha256, size=int(row.size), md5=row.md5, sha1=row.sha1, sha512=row.sha512),
            created_at=row.created_at,
            metadata_sha256=row.metadata_sha256,
        )

    def add_asset(self, version: PackageVersion, asset: Asset) -> PackageVersion:
        """The package's display name is ``version.extra["display_name"]`` when given, else its name. The
        package and version rows are upserts (ON CONFLICT), so concurrent first uploads never collide on them;
        the asset's unique key decides between two uploads of one file (ConflictError "asset").

        The file name is recorded in ``asset_names`` in the same transaction, for good: a name once used in a
        package of the repository keeps its content, whatever is deleted later (PyPI's rule). A name used before
        with another sha256 is refused (ConflictError "asset-name"); the same bytes again are welcome. The
        record is an INSERT ... ON CONFLICT DO NOTHING followed by a read of the row: on PostgreSQL a concurrent
        first use of the name makes the insert wait for that transaction, and the read (READ COMMITTED) then
        sees its row; SQLite's write transactions are serialized."""
        ref = version.package
        origin = version.origin_repository
        revision = secrets.token_urlsafe(_REVISION_BYTES)
        with self._write() as conn:
            repo_id = self._repository_id(conn, ref.repo)
            if repo_id is None:
                raise self._no_repository(ref.repo.domain, ref.repo.name)
            pkg = self._insert(packages).values(
                repository_id=repo_id,
                format=ref.format,
                namespace=ref.namespace or "",
                name=ref.name,
                display_name=version.extra.get("display_name") or ref.name,
                publish="ALLOW",
                upstream="ALLOW",
            )
            pkg = pkg.on_conflict_do_update(
                index_elements=[packages.c.repository_id, packages.c.format, packages.c.namespace, packages.c.name],
                set_={"display_name": packages.c.display_name},  # unchanged; the update returns the row's id
            ).returning(packages.c.id)
            try:
                package_id = int(conn.execute(pkg).scalar_one())
            except IntegrityError as exc:  # the repository was deleted meanwhile
                raise self._no_repository(ref.repo.domain, ref.repo.name) from exc
            ver = self._insert(package_versions).values(
                package_id=package_id,
                version=version.version,
                display_version=version.display_version,
                status=version.status,
                revision=revision,
                published_time=version.published_time,
                summary=version.summary,
                home_page=version.home_page,
                source_code_repository=version.source_code_repository,
                licenses=json.dumps(list(version.licenses)),
                requires_python=version.requires_python,
                readme=version.readme,
                readme_content_type=version.readme_content_type,
                origin_domain_owner=None if origin is None else origin.domain_owner,
                origin_domain=None if origin is None else origin.domain,
                origin_repository=None if origin is None else origin.name,
                extra=json.dumps(version.extra, sort_keys=True),
            )
            ver = ver.on_conflict_do_update(
                index_elements=[package_versions.c.package_id, package_versions.c.version],
                set_={"revision": ver.excluded.revision},  # an existing version keeps its fields
            ).returning(*package_versions.c)
            row = conn.execute(ver).one()
            try:
                conn.execute(
                    insert(assets).values(
                        version_id=row.id,
                        name=asset.name,
                        sha256=asset.blob.sha256,
                        size=asset.blob.size,
                        md5=asset.blob.md5,
                        sha1=asset.blob.sha1,
                        sha512=asset.blob.sha512,
                        metadata_sha256=asset.metadata_sha256,
                        created_at=asset.created_at,
                    )
                )
            except IntegrityError as exc:
                raise ConflictError(
                    f"File {asset.name} already exists in {_package_label(ref)} {version.version}",
                    resource_id=asset.name,
                    resource_type="asset",
                ) from exc
            self._record_asset_name(conn, repo_id, ref, asset)
        return self._to_version(ref, row)

    def _record_asset_name(self, conn: Connection, repo_id: int, ref: PackageRef, asset: Asset) -> None:
        """See ``add_asset``."""
        key = {
            "repository_id": repo_id,
            "format": ref.format,
            "namespace": ref.namespace or "",
            "package": ref.name,
            "name": asset.name,
        }
        record = self._insert(asset_names).values(**key, sha256=asset.blob.sha256, first_used_at=asset.created_at)
        if conn.execute(record.on_conflict_do_nothing(index_elements=list(key))).rowcount == 1:
            return
        used = conn.execute(
            select(asset_names.c.sha256).where(*(asset_names.c[column] == value for column, value in key.items()))
        ).scalar_one()
        if used != asset.blob.sha256:
            raise ConflictError(
                f"The file name {asset.name!r} has already been used in repository {ref.repo.name} with other "
                "content; use a different version. A file name, once used, is never reused with different "
                "content (as on PyPI: https://pypi.org/help/#file-name-reuse).",
                resource_id=asset.name,
                resource_type="asset-name",
            )

    def get_package(self, ref: PackageRef) -> Package | None:
        with self._read() as conn:
            row = conn.execute(
                select(packages)
                .join(repositories, packages.c.repository_id == repositories.c.id)
                .join(domains, repositories.c.domain_id == domains.c.id)
                .where(self._package_where(ref))
            ).one_or_none()
        return None if row is None else self._to_package(ref.repo, row)

    def list_packages(
        self,
        repo: RepoRef,
        *,
        format: str | None,
        namespace: str | None,
        prefix: str | None,
        after: str | None,
        limit: int,
    ) -> Page[Package]:
        """``format`` and ``namespace`` match exactly when given (None: any; ``''`` is the same as None, i.e.
        any); ``prefix`` is literal and case-sensitive. ``after``/``next_key`` are opaque."""
        _check_limit(limit)
        with self._read() as conn:
            repo_id = self._repository_id(conn, repo)
            if repo_id is None:
                return Page(items=())
            stmt = select(packages).where(packages.c.repository_id == repo_id)
            if format is not None:
                stmt = stmt.where(packages.c.format == format)
            if namespace:
                stmt = stmt.where(packages.c.namespace == namespace)
            if prefix:
                stmt = stmt.where(_starts_with(packages.c.name, prefix))
            if after is not None:
                a_format, a_namespace, a_name = _decode_key(after, 3)
                stmt = stmt.where(
                    or_(
                        packages.c.format > a_format,
                        and_(packages.c.format == a_format, packages.c.namespace > a_namespace),
                        and_(
                            packages.c.format == a_format,
                            packages.c.namespace == a_namespace,
                            packages.c.name > a_name,
                        ),
                    )
                )
            stmt = stmt.order_by(packages.c.format, packages.c.namespace, packages.c.name).limit(limit + 1)
            rows = conn.execute(stmt).all()
        items = tuple(self._to_package(repo, r) for r in rows[:limit])
        next_key = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_key = _encode_key([last.format, last.namespace, last.name])
        return Page(items=items, next_key=next_key)

    def get_version(self, ref: PackageRef, version: str) -> PackageVersion | None:
        with self._read() as conn:
            row = conn.execute(
                select(package_versions).where(
                    package_versions.c.package_id == self._package_id_select(ref).scalar_subquery(),
                    package_versions.c.version == version,
                )
            ).one_or_none()
        return None if row is None else self._to_version(ref, row)

    def list_versions(
        self, ref: PackageRef, *, status: str | None, after: str | None, limit: int
    ) -> Page[PackageVersion]:
        """``status`` matches exactly when given; ``after``/``next_key`` are opaque."""
        _check_limit(limit)
        pv = package_versions
        stmt = select(pv).where(pv.c.package_id == self._package_id_select(ref).scalar_subquery())
        if status is not None:
            stmt = stmt.where(pv.c.status == status)
        if after is not None:
            a_time, a_version = _decode_key(after, 2)
            try:
                published = float(a_time)
            except ValueError as exc:
                raise ValidationError("The pagination token is invalid") from exc
            stmt = stmt.where(
                or_(pv.c.published_time > published, and_(pv.c.published_time == published, pv.c.version > a_version))
            )
        stmt = stmt.order_by(pv.c.published_time, pv.c.version).limit(limit + 1)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        items = tuple(self._to_version(ref, r) for r in rows[:limit])
        next_key = None
        if len(rows) > limit:
            last = items[-1]
            next_key = _encode_key([repr(last.published_time), last.version])
        return Page(items=items, next_key=next_key)

    def list_assets(self, ref: PackageRef, version: str) -> list[Asset]:
        with self._read() as conn:
            rows = conn.execute(
                select(assets)
                .where(assets.c.version_id == self._version_id_select(ref, version).scalar_subquery())
                .order_by(assets.c.name)
            ).all()
        return [self._to_asset(r) for r in rows]

    def _version_mismatch(
        self, conn: Connection, ref: PackageRef, version: str, expected_status: str | None
    ) -> CofferError:
        """Why a conditional update/delete of a version matched no row."""
        current = conn.execute(
            select(package_versions.c.status).where(
                package_versions.c.id == self._version_id_select(ref, version).scalar_subquery()
            )
        ).scalar_one_or_none()
        if current is None or expected_status is None:
            return self._no_version(ref, version)
        return ConflictError(
            f"Version {version} of package {_package_label(ref)} has status {current}, not {expected_status}",
            resource_id=version,
            resource_type="package-version",
        )

    def set_status(self, ref: PackageRef, version: str, status: str, expected_status: str | None) -> PackageVersion:
        """The check of ``expected_status`` is part of the UPDATE, so concurrent changes cannot both pass it."""
        pv = package_versions
        stmt = update(pv).where(pv.c.id == self._version_id_select(ref, version).scalar_subquery())
        if expected_status is not None:
            stmt = stmt.where(pv.c.status == expected_status)
        stmt = stmt.values(status=status, revision=secrets.token_urlsafe(_REVISION_BYTES)).returning(*pv.c)
        with self._write() as conn:
            row = conn.execute(stmt).one_or_none()
            if row is None:
                raise self._version_mismatch(conn, ref, version, expected_status)
        return self._to_version(ref, row)

    def delete_version(self, ref: PackageRef, version: str, expected_status: str | None) -> PackageVersion:
        """Returns the version as it was."""
        pv = package_versions
        stmt = delete(pv).where(pv.c.id == self._version_id_select(ref, version).scalar_subquery())
        if expected_status is not None:
            stmt = stmt.where(pv.c.status == expected_status)
        with self._write() as conn:
            row = conn.execute(stmt.returning(*pv.c)).one_or_none()
            if row is None:
                raise self._version_mismatch(conn, ref, version, expected_status)
        return self._to_version(ref, row)

    def delete_package(self, ref: PackageRef) -> Package:
        """Returns the package as it was."""
        stmt = delete(packages).where(packages.c.id == self._package_id_select(ref).scalar_subquery())
        with self._write() as conn:
            row = conn.execute(stmt.returning(*packages.c)).one_or_none()
        if row is None:
            raise self._no_package(ref)
        return self._to_package(ref.repo, row)

    # --- blobs in use (garbage collection) --------------------------------------------------------------

    def blobs_in_use(self, sha256s: Iterable[str]) -> set[str]:
        """Asks in batches of ``_BLOB_BATCH`` digests (well under either backend's bound-parameter limit)."""
        wanted = sorted(set(sha256s))
        used: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), _BLOB_BATCH):
                batch = wanted[start : start + _BLOB_BATCH]
                as_file = select(assets.c.sha256).where(assets.c.sha256.in_(batch))
                as_metadata = select(assets.c.metadata_sha256).where(assets.c.metadata_sha256.in_(batch))
                used.update(conn.execute(as_file.union(as_metadata)).scalars())
        return used

    # --- revoked tokens -------------------------------------------------------------------------------

    def revoke_token(self, token_id: str, expires_at: float, revoked_at: float) -> None:
        """A second revocation of the same token changes nothing."""
        stmt = self._insert(revoked_table).values(token_id=token_id, expires_at=expires_at, revoked_at=revoked_at)
        with self._write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[revoked_table.c.token_id]))

    def revoked_tokens(self, now: float) -> set[str]:
        """Tokens whose ``expires_at`` is later than ``now``."""
        with self._read() as conn:
            rows = conn.execute(select(revoked_table.c.token_id).where(revoked_table.c.expires_at > now))
            return set(rows.scalars())


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, case-sensitively on both backends. LIKE (with ``%``/``_``
    escaped) can use an index; SQLite's LIKE ignores ASCII case, so the exact ``substr`` test decides."""
    return and_(
        column.startswith(prefix, autoescape=True),
        func.substr(column, 1, len(prefix)) == prefix,
    )


def _normalized(ref: PackageRef) -> PackageRef:
    """``ref`` with an empty namespace as None (how packages without one are stored and returned)."""
    return ref if ref.namespace is None or ref.namespace else replace(ref, namespace=None)


def _package_label(ref: PackageRef) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
