"""Migration 6: package tags (npm's dist-tags), going with their package (ON DELETE CASCADE). Its table is
frozen, exactly as it was when version 6 shipped.

Never edit this table. ``metadata`` holds copies of migration 2's tables (so that the foreign key to
``packages`` resolves) plus the table below, the only one migration 6 creates (``TABLES``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Column, Connection, ForeignKeyConstraint, Integer, MetaData, PrimaryKeyConstraint, Table, Text
from sqlalchemy.types import TypeEngine

from coffer.store.migrations import m0002_packages

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

for _v2_table in m0002_packages.metadata.sorted_tables:
    _v2_table.to_metadata(metadata)


def _key() -> TypeEngine[str]:
    """TEXT compared and ordered bytewise on every backend."""
    return Text().with_variant(Text(collation="C"), "postgresql")


package_tags = Table(
    "package_tags",
    metadata,
    Column("package_id", Integer(), nullable=False),
    Column("tag", _key(), nullable=False),
    Column("version", _key(), nullable=False),  # normalized
    ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
    PrimaryKeyConstraint("package_id", "tag"),
)

TABLES: Final = (package_tags,)
"""What migration 6 creates, in creation order."""


def migrate(conn: Connection) -> None:
    for table in TABLES:
        table.create(conn, checkfirst=False)
