"""Versioned schema migrations, applied when a store opens.

``schema_version`` holds one row per applied migration. ``apply_migrations`` runs every pending
migration in ONE transaction under a lock that serialises concurrent starters: ``pg_advisory_xact_lock``
on PostgreSQL (DDL is transactional there), ``BEGIN IMMEDIATE`` on SQLite (likewise transactional, as
the engine emits its own BEGIN). A second process waits for the first and then finds nothing to do, so
applying is idempotent. A database newer than this code is refused.

Adding a migration: a module ``mNNNN_<what>.py`` next to this one with a ``migrate(conn)`` function, its name
appended to ``_MODULES`` (``MIGRATIONS`` imports it when a database needs it), and ``schema.py`` changed to
match. Each module owns the frozen tables it creates (never
edited after it shipped), so that a database created by any Coffer version upgrades to the same schema as a
fresh one.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from typing import Final, overload

from sqlalchemy import Column, Connection, Double, Engine, Integer, MetaData, Table, func, select, text

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

_MODULES: Final = (
    "m0001_initial",
    "m0002_packages",
    "m0003_iam",
    "m0004_principal_ids",
    "m0005_package_groups",
    "m0006_package_tags",
    "m0007_package_revisions",
)


class _Migrations(Sequence[Migration]):
    """The migrations' ``migrate`` functions, each module imported when its migration is first asked for: a
    database already at the latest version (every start but the first) imports none of their frozen tables."""

    def __len__(self) -> int:
        return len(_MODULES)

    @overload
    def __getitem__(self, index: int) -> Migration: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Migration]: ...

    def __getitem__(self, index: int | slice) -> Migration | Sequence[Migration]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(_MODULES))[index]]
        module = importlib.import_module(f"{__package__}.{_MODULES[index]}")
        migrate: Migration = module.migrate
        return migrate


MIGRATIONS: Final[Sequence[Migration]] = _Migrations()
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
