"""Migration 2: packages, their versions and assets (cascading from repositories), and revoked tokens. Its
tables are frozen, exactly as they were when version 2 shipped.

Never edit these tables. ``metadata`` holds the whole version-2 schema: copies of migration 1's tables (so that
foreign keys resolve) plus the four tables below, which are the only ones migration 2 creates (``TABLES``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
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


packages = Table(
    "packages",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("repository_id", Integer(), nullable=False),
    Column("format", _key(), nullable=False),
    Column("namespace", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("display_name", Text(), nullable=False),
    Column("publish", Text(), nullable=False),
    Column("upstream", Text(), nullable=False),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
    UniqueConstraint("repository_id", "format", "namespace", "name"),
    Index(None, "repository_id", "name"),
    sqlite_autoincrement=True,
)

package_versions = Table(
    "package_versions",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("package_id", Integer(), nullable=False),
    Column("version", _key(), nullable=False),
    Column("display_version", Text(), nullable=False),
    Column("status", _key(), nullable=False),
    Column("revision", Text(), nullable=False),
    Column("published_time", _time(), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("home_page", Text(), nullable=False),
    Column("source_code_repository", Text(), nullable=False),
    Column("licenses", Text(), nullable=False),
    Column("requires_python", Text(), nullable=True),
    Column("readme", Text(), nullable=False),
    Column("readme_content_type", Text(), nullable=False),
    Column("origin_domain_owner", _key(), nullable=True),
    Column("origin_domain", _key(), nullable=True),
    Column("origin_repository", _key(), nullable=True),
    Column("extra", Text(), nullable=False),
    ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
    UniqueConstraint("package_id", "version"),
    Index(None, "package_id", "published_time", "version"),
    sqlite_autoincrement=True,
)

assets = Table(
    "assets",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("version_id", Integer(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("sha256", _key(), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("md5", Text(), nullable=False),
    Column("sha1", Text(), nullable=False),
    Column("sha512", Text(), nullable=False),
    Column("metadata_sha256", _key(), nullable=True),
    Column("created_at", _time(), nullable=False),
    ForeignKeyConstraint(["version_id"], ["package_versions.id"], ondelete="CASCADE"),
    UniqueConstraint("version_id", "name"),
    Index(None, "sha256"),
    sqlite_autoincrement=True,
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("token_id", _key(), primary_key=True),
    Column("expires_at", _time(), nullable=False),
    Column("revoked_at", _time(), nullable=False),
    Index(None, "expires_at"),
)

TABLES: Final = (packages, package_versions, assets, revoked_tokens)
"""What migration 2 creates, in creation order."""


def migrate(conn: Connection) -> None:
    for table in TABLES:
        table.create(conn, checkfirst=False)
