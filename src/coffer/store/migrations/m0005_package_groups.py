"""Migration 5: package groups (domain level) and their allowed-repository lists, both going with their domain
(ON DELETE CASCADE). Its tables are frozen, exactly as they were when version 5 shipped.

Never edit these tables. ``metadata`` holds copies of migration 1's tables (so that the foreign key to
``domains`` resolves) plus the two tables below, the only ones migration 5 creates (``TABLES``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    Column,
    Connection,
    Double,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from coffer.store.migrations import m0001_initial

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

for _v1_table in m0001_initial.metadata.sorted_tables:
    _v1_table.to_metadata(metadata)


def _key() -> TypeEngine[str]:
    """TEXT compared and ordered bytewise on every backend."""
    return Text().with_variant(Text(collation="C"), "postgresql")


def _time() -> Double[float]:
    return Double()


package_groups = Table(
    "package_groups",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("domain_id", Integer(), nullable=False),
    Column("pattern", _key(), nullable=False),  # normalized
    Column("arn", _key(), nullable=False),
    Column("created_time", _time(), nullable=False),
    Column("description", Text(), nullable=False),
    Column("contact_info", Text(), nullable=False),
    Column("publish", Text(), nullable=False),
    Column("external_upstream", Text(), nullable=False),
    Column("internal_upstream", Text(), nullable=False),
    ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
    UniqueConstraint("domain_id", "pattern"),
    sqlite_autoincrement=True,
)

package_group_allowed_repositories = Table(
    "package_group_allowed_repositories",
    metadata,
    Column("group_id", Integer(), nullable=False),
    Column("restriction", _key(), nullable=False),  # PUBLISH | EXTERNAL_UPSTREAM | INTERNAL_UPSTREAM
    Column("repository", _key(), nullable=False),
    ForeignKeyConstraint(["group_id"], ["package_groups.id"], ondelete="CASCADE"),
    PrimaryKeyConstraint("group_id", "restriction", "repository"),
)

TABLES: Final = (package_groups, package_group_allowed_repositories)
"""What migration 5 creates, in creation order."""


def migrate(conn: Connection) -> None:
    for table in TABLES:
        table.create(conn, checkfirst=False)
