"""Migration 1: the initial schema. Its tables are frozen, exactly as they were when version 1 shipped.

Never edit these tables. ``schema.py`` is the current schema and may change with later migrations; migration 1
must keep creating precisely these tables (and migrations 2.. then bring them up to date), so that a database
created by any Coffer version upgrades to the same schema as a fresh one.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _key() -> TypeEngine[str]:
    """TEXT compared and ordered bytewise on every backend."""
    return Text().with_variant(Text(collation="C"), "postgresql")


def _time() -> Double[float]:
    return Double()


# --- identity -----------------------------------------------------------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", _key(), primary_key=True),
    Column("created_at", _time(), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("user_id", _key(), nullable=False),
    Column("path", Text(), nullable=False),
    Column("created_at", _time(), nullable=False),
    PrimaryKeyConstraint("account_id", "name"),
    UniqueConstraint("user_id"),
    ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", _key(), primary_key=True),
    Column("secret_access_key", Text(), nullable=False),
    Column("account_id", _key(), nullable=False),
    Column("user_name", _key(), nullable=True),  # NULL: a key of the account's root user
    Column("status", Text(), nullable=False),
    Column("created_at", _time(), nullable=False),
    ForeignKeyConstraint(["account_id", "user_name"], ["users.account_id", "users.name"], ondelete="CASCADE"),
    Index(None, "account_id", "user_name"),
)

user_policies = Table(
    "user_policies",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("user_name", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("document", Text(), nullable=False),
    PrimaryKeyConstraint("account_id", "user_name", "name"),
    ForeignKeyConstraint(["account_id", "user_name"], ["users.account_id", "users.name"], ondelete="CASCADE"),
)

# --- domains and repositories -------------------------------------------------------------------------

domains = Table(
    "domains",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("owner", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("arn", _key(), nullable=False),
    Column("created_time", _time(), nullable=False),
    Column("encryption_key", Text(), nullable=False),
    Column("status", Text(), nullable=False),
    UniqueConstraint("owner", "name"),
    sqlite_autoincrement=True,
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    # No ON DELETE: a domain cannot be deleted while it holds repositories.
    Column("domain_id", Integer(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("arn", _key(), nullable=False),
    Column("administrator_account", _key(), nullable=False),
    Column("created_time", _time(), nullable=False),
    Column("description", Text(), nullable=False),
    ForeignKeyConstraint(["domain_id"], ["domains.id"]),
    UniqueConstraint("domain_id", "name"),
    # target of the composite foreign keys from repository_upstreams
    UniqueConstraint("domain_id", "id"),
    Index(None, "name"),
    Index(None, "administrator_account"),
    sqlite_autoincrement=True,
)

repository_upstreams = Table(
    "repository_upstreams",
    metadata,
    Column("repository_id", Integer(), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("domain_id", Integer(), nullable=False),
    Column("upstream_id", Integer(), nullable=False),
    PrimaryKeyConstraint("repository_id", "position"),
    UniqueConstraint("repository_id", "upstream_id"),
    # the downstream's rows go with it
    ForeignKeyConstraint(
        ["domain_id", "repository_id"],
        ["repositories.domain_id", "repositories.id"],
        ondelete="CASCADE",
        name="fk_repository_upstreams_repository",
    ),
    # an upstream cannot be deleted while named (NO ACTION, checked at statement end, so a repository
    # that names itself can still be deleted); same domain_id on both sides: same domain by construction
    ForeignKeyConstraint(
        ["domain_id", "upstream_id"],
        ["repositories.domain_id", "repositories.id"],
        name="fk_repository_upstreams_upstream",
    ),
    Index(None, "upstream_id"),
)

repository_external_connections = Table(
    "repository_external_connections",
    metadata,
    Column("repository_id", Integer(), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("package_format", Text(), nullable=False),
    Column("status", Text(), nullable=False),
    PrimaryKeyConstraint("repository_id", "position"),
    UniqueConstraint("repository_id", "name"),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
)

# --- resource policies and tags (keyed by ARN; removed explicitly with their resource) ----------------

resource_policies = Table(
    "resource_policies",
    metadata,
    Column("resource_arn", _key(), primary_key=True),
    Column("document", Text(), nullable=False),
    Column("revision", Text(), nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("resource_arn", _key(), nullable=False),
    Column("key", _key(), nullable=False),
    Column("value", Text(), nullable=False),
    PrimaryKeyConstraint("resource_arn", "key"),
)


def migrate(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=False)
