"""Versioned schema migrations, applied when a store opens.

``schema_version`` holds one row per applied migration. ``apply_migrations`` runs every pending
migration in ONE transaction under a lock that serialises concurrent starters: ``pg_advisory_xact_lock``
on PostgreSQL (DDL is transactional there), ``BEGIN IMMEDIATE`` on SQLite (likewise transactional, as
the engine emits its own BEGIN). A second process waits for the first and then finds nothing to do, so
applying is idempotent. A database newer than this code is refused.

Adding a migration: append a function to ``MIGRATIONS`` and change ``schema.py`` to match. Migration 1
creates the frozen tables of ``schema_v1`` and migration 2 those of ``schema_v2`` (neither is ever edited).
Migration 3 creates its new tables from ``schema.py``; before a later migration changes any of them, freeze
migration 3 the same way (copy the version-3 definitions of its tables into a ``schema_v3``) so that it keeps
creating exactly what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from sqlalchemy import Column, Connection, Double, Engine, Integer, MetaData, Table, func, select, text

from coffer.store import schema, schema_v1, schema_v2
from coffer.store.engine import writer

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
    for table in (
        schema.roles,
        schema.groups,
        schema.group_members,
        schema.group_policies,
        schema.role_policies,
        schema.managed_policies,
        schema.policy_versions,
        schema.policy_attachments,
        schema.access_key_usage,
        schema.sessions,
    ):
        table.create(conn, checkfirst=False)


MIGRATIONS: Final[Sequence[Migration]] = (_m001_initial, _m002_packages, _m003_iam)
"""Migration N is ``MIGRATIONS[N - 1]``."""

LATEST_VERSION: Final = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer Coffer."""


def current_version(conn: Connection) -> int:
    """The highest applied migration (0 for an empty database)."""
    if not conn.dialect.has_table(conn, schema_version.name):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one())


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
