"""Migration 3: roles, groups and membership, group and role inline policies, managed policies with versions
and attachments, access-key last use, STS sessions. Its tables are frozen, exactly as they were when version 3
shipped.

Never edit these tables. ``metadata`` holds the whole version-3 schema: copies of migration 2's tables (so that
foreign keys resolve) plus the IAM/STS tables below, which are the only ones migration 3 creates (``TABLES``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    Boolean,
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


def _time() -> Double[float]:
    return Double()


# --- IAM: roles, groups, policies, attachments (migration 3) -------------------------------------------

roles = Table(
    "roles",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("name_key", _key(), nullable=False),  # name.lower()
    Column("role_id", _key(), nullable=False),
    Column("path", _key(), nullable=False),
    Column("trust_policy", Text(), nullable=False),
    Column("description", Text(), nullable=False),
    Column("max_session_duration", Integer(), nullable=False),
    Column("created_at", _time(), nullable=False),
    PrimaryKeyConstraint("account_id", "name"),
    UniqueConstraint("account_id", "name_key"),
    UniqueConstraint("role_id"),
    ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
)

groups = Table(
    "groups",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("name_key", _key(), nullable=False),  # name.lower()
    Column("group_id", _key(), nullable=False),
    Column("path", _key(), nullable=False),
    Column("created_at", _time(), nullable=False),
    PrimaryKeyConstraint("account_id", "name"),
    UniqueConstraint("account_id", "name_key"),
    UniqueConstraint("group_id"),
    ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("group_name", _key(), nullable=False),
    Column("user_name", _key(), nullable=False),
    PrimaryKeyConstraint("account_id", "group_name", "user_name"),
    # a group with members cannot be deleted (NO ACTION); a user's memberships go with the user
    ForeignKeyConstraint(["account_id", "group_name"], ["groups.account_id", "groups.name"]),
    ForeignKeyConstraint(["account_id", "user_name"], ["users.account_id", "users.name"], ondelete="CASCADE"),
    Index(None, "account_id", "user_name"),
)

# inline policies of groups and roles (users' are in user_policies); NO ACTION: a group or role with inline
# policies cannot be deleted
group_policies = Table(
    "group_policies",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("group_name", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("document", Text(), nullable=False),
    PrimaryKeyConstraint("account_id", "group_name", "name"),
    ForeignKeyConstraint(["account_id", "group_name"], ["groups.account_id", "groups.name"]),
)

role_policies = Table(
    "role_policies",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("role_name", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("document", Text(), nullable=False),
    PrimaryKeyConstraint("account_id", "role_name", "name"),
    ForeignKeyConstraint(["account_id", "role_name"], ["roles.account_id", "roles.name"]),
)

# customer managed policies (account_id = the account) and AWS managed ones (account_id = "aws"); no foreign
# key to accounts, as "aws" is none
managed_policies = Table(
    "managed_policies",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("arn", _key(), nullable=False),
    Column("account_id", _key(), nullable=False),
    Column("name", _key(), nullable=False),
    Column("name_key", _key(), nullable=False),  # name.lower()
    Column("policy_id", _key(), nullable=False),
    Column("path", _key(), nullable=False),
    Column("description", Text(), nullable=False),
    Column("default_version", Integer(), nullable=False),  # N of "vN"
    Column("last_version", Integer(), nullable=False),  # highest N ever used: ids are never reused
    Column("created_at", _time(), nullable=False),
    Column("updated_at", _time(), nullable=False),
    UniqueConstraint("arn"),
    UniqueConstraint("account_id", "name_key"),
    UniqueConstraint("policy_id"),
    Index(None, "name"),
    sqlite_autoincrement=True,
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_id", Integer(), nullable=False),  # managed_policies.id
    Column("number", Integer(), nullable=False),  # N of "vN"
    Column("document", Text(), nullable=False),
    Column("created_at", _time(), nullable=False),
    PrimaryKeyConstraint("policy_id", "number"),
    ForeignKeyConstraint(["policy_id"], ["managed_policies.id"], ondelete="CASCADE"),
)

# which managed policy is attached to which user, group or role (the principal is checked by the store, which
# also removes a user's attachments with the user); NO ACTION: an attached policy cannot be deleted
policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("account_id", _key(), nullable=False),
    Column("principal_type", _key(), nullable=False),  # user | group | role
    Column("principal_name", _key(), nullable=False),
    Column("policy_id", Integer(), nullable=False),  # managed_policies.id
    PrimaryKeyConstraint("account_id", "principal_type", "principal_name", "policy_id"),
    ForeignKeyConstraint(["policy_id"], ["managed_policies.id"]),
    Index(None, "policy_id"),
)

# --- access key use and STS sessions (migration 3) ----------------------------------------------------

access_key_usage = Table(
    "access_key_usage",
    metadata,
    Column("access_key_id", _key(), primary_key=True),
    Column("used_at", _time(), nullable=False),
    Column("service", Text(), nullable=False),
    Column("region", Text(), nullable=False),
    ForeignKeyConstraint(["access_key_id"], ["access_keys.access_key_id"], ondelete="CASCADE"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("access_key_id", _key(), primary_key=True),
    Column("secret_access_key", Text(), nullable=False),
    Column("session_token", Text(), nullable=False),
    Column("account_id", _key(), nullable=False),
    Column("expires_at", _time(), nullable=False),
    Column("issued_at", _time(), nullable=False),
    Column("role_name", _key(), nullable=True),  # NULL: a GetSessionToken session
    Column("session_name", _key(), nullable=False),
    Column("user_name", _key(), nullable=True),
    Column("source_arn", Text(), nullable=False),
    Column("session_policy", Text(), nullable=True),
    Column("session_policy_arns", Text(), nullable=False),  # JSON array of strings
    Column("tags", Text(), nullable=False),  # JSON object of strings
    Column("chained", Boolean(), nullable=False),
    Index(None, "expires_at"),
    # find_role_sessions
    Index(None, "account_id", "role_name", "session_name"),
)

TABLES: Final = (
    roles,
    groups,
    group_members,
    group_policies,
    role_policies,
    managed_policies,
    policy_versions,
    policy_attachments,
    access_key_usage,
    sessions,
)
"""What migration 3 creates, in creation order."""


def migrate(conn: Connection) -> None:
    for table in TABLES:
        table.create(conn, checkfirst=False)
