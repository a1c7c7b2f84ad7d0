"""Versioned schema migrations, applied when a store opens.

``schema_version`` holds one row per applied migration. ``apply_migrations`` runs every pending
migration in ONE transaction under a lock that serialises concurrent starters: ``pg_advisory_xact_lock``
on PostgreSQL (DDL is transactional there), ``BEGIN IMMEDIATE`` on SQLite (likewise transactional, as
the engine emits its own BEGIN). A second process waits for the first and then finds nothing to do, so
applying is idempotent. A database newer than this code is refused.

Adding a migration: append a function to ``MIGRATIONS`` and change ``schema.py`` to match. Migration 1
creates the frozen tables of ``schema_v1`` and migration 2 those of ``schema_v2`` (neither is ever edited).
Migration 3 creates the frozen tables of ``schema_v3``. Migration 4 adds columns with ``ALTER TABLE`` (their
definitions taken from ``schema.py``) and creates ``asset_names`` from ``schema.py``; before a later migration
changes that table, freeze it in a ``schema_v4``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from sqlalchemy import Column, Connection, Double, Engine, Integer, MetaData, Table, func, select, text
from sqlalchemy.schema import CreateColumn

from coffer.store import schema, schema_v1, schema_v2, schema_v3
from coffer.store.engine import create_engine_for, writer

Migration = Callable[[Connection], None]

_ADVISORY_LOCK_KEY: Final = 0x436F66666572  # "Coffer"

_version_metadata = MetaData()
schema_version = Table(
    "schema_version",
    _version_metadata,
    Column("version", Integer(), primary_key=True, autoincrement=False),
    Column("applied_at", Double(), nullable=False),
)


def _m001_initial(conn: Connection) -> None:
    schema_v1.metadata.create_all(conn, checkfirst=False)


def _m002_packages(conn: Connection) -> None:
    """Packages, their versions and assets (cascading from repositories), and revoked tokens."""
    for table in schema_v2.TABLES:
        table.create(conn, checkfirst=False)


def _m003_iam(conn: Connection) -> None:
    """Roles, groups and membership, group and role inline policies, managed policies with versions and
    attachments, access-key last use, STS sessions."""
    for table in schema_v3.TABLES:
        table.create(conn, checkfirst=False)


def _add_column(conn: Connection, table: Table, name: str) -> None:
    """``ALTER TABLE ... ADD COLUMN`` with the column as ``schema.py`` defines it (nullable, no default)."""
    column = table.c[name]
    assert column.nullable, "columns added to existing rows must be nullable"
    spec = CreateColumn(column).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {spec}"))


def _m004_principal_ids(conn: Connection) -> None:
    """Access keys and STS sessions bound to their principal's unique id; the file names repositories used; an
    index on ``assets.metadata_sha256`` (garbage collection asks which blobs are still in use).

    Existing rows are bound to the principal that has the name now (the best the old rows tell)."""
    _add_column(conn, schema.access_keys, "user_id")
    _add_column(conn, schema.sessions, "principal_id")
    conn.execute(
        text(
            "UPDATE access_keys SET user_id = (SELECT u.user_id FROM users u WHERE u.account_id = "
            "access_keys.account_id AND u.name = access_keys.user_name) WHERE user_name IS NOT NULL"
        )
    )
    conn.execute(
        text(
            "UPDATE sessions SET principal_id = (SELECT r.role_id FROM roles r WHERE r.account_id = "
            "sessions.account_id AND r.name = sessions.role_name) WHERE role_name IS NOT NULL"
        )
    )
    conn.execute(
        text(
            "UPDATE sessions SET principal_id = (SELECT u.user_id FROM users u WHERE u.account_id = "
            "sessions.account_id AND u.name = sessions.user_name) WHERE role_name IS NULL AND user_name IS NOT NULL"
        )
    )
    next(i for i in schema.assets.indexes if i.name == "ix_assets_metadata_sha256").create(conn)
    schema.asset_names.create(conn, checkfirst=False)
    conn.execute(
        text(
            "INSERT INTO asset_names (repository_id, format, namespace, package, name, sha256, first_used_at) "
            "SELECT p.repository_id, p.format, p.namespace, p.name, a.name, MIN(a.sha256), MIN(a.created_at) "
            "FROM assets a JOIN package_versions v ON v.id = a.version_id JOIN packages p ON p.id = v.package_id "
            "GROUP BY p.repository_id, p.format, p.namespace, p.name, a.name"
        )
    )


MIGRATIONS: Final[Sequence[Migration]] = (_m001_initial, _m002_packages, _m003_iam, _m004_principal_ids)
"""Migration N is ``MIGRATIONS[N - 1]``."""

LATEST_VERSION: Final = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer Coffer."""


def current_version(conn: Connection) -> int:
    """The highest applied migration (0 for an empty database)."""
    if not conn.dialect.has_table(conn, schema_version.name):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one())


def database_version(url: str) -> int:
    """The schema version of the database at ``url`` (0: it holds no Coffer data), read without writing."""
    engine = create_engine_for(url, read_only=True)
    try:
        with engine.connect() as conn:
            return current_version(conn)
    finally:
        engine.dispose()


def apply_migrations(engine: Engine) -> int:
    """Bring the database to ``LATEST_VERSION``; returns the number of migrations applied."""
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        if version > LATEST_VERSION:
            raise SchemaTooNewError(
                f"The database schema is at version {version}, newer than this Coffer knows "
                f"({LATEST_VERSION}); upgrade Coffer"
            )
        for number in range(version + 1, LATEST_VERSION + 1):
            MIGRATIONS[number - 1](conn)
            conn.execute(schema_version.insert().values(version=number, applied_at=time.time()))
        return LATEST_VERSION - version
