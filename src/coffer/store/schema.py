"""The relational schema (SQLAlchemy Core) shared by SQLite and PostgreSQL.

Portability rules kept here so that both backends behave identically:

- Every string that is compared or ordered is ``_key()``: plain TEXT on SQLite (whose default BINARY
  collation compares UTF-8 bytes, i.e. code points) and ``TEXT COLLATE "C"`` on PostgreSQL (bytewise
  too), so orderings and ``>`` comparisons never depend on the server's locale.
- No length limits in the database (validation belongs to core); PostgreSQL would raise on an
  over-long VARCHAR while SQLite silently accepts it.
- Times are epoch seconds in double precision; sizes are 64-bit.
- Keys never hold NULL where uniqueness matters (NULLs are distinct in unique keys): a package without a
  namespace stores ``''``, mapped back to ``None`` by the store.

Version history: migration 1 creates ``schema_v1`` (frozen); migration 2 adds packages, package_versions,
assets and revoked_tokens (built from the tables here, so it must be frozen too before they change).

Domains, repositories, packages, versions and assets have integer surrogate keys (never reused:
``sqlite_autoincrement``) so that the tables below them reference them cheaply; packages, versions and assets
go with their repository (ON DELETE CASCADE down the chain). Upstreams reference repositories
through ``(domain_id, id)`` so the database itself guarantees that an upstream lives in the same domain.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
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

# --- packages, versions, assets (migration 2) ---------------------------------------------------------

packages = Table(
    "packages",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("repository_id", Integer(), nullable=False),
    Column("format", _key(), nullable=False),
    Column("namespace", _key(), nullable=False),  # '' for none
    Column("name", _key(), nullable=False),  # normalized
    Column("display_name", Text(), nullable=False),
    Column("publish", Text(), nullable=False),
    Column("upstream", Text(), nullable=False),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
    # also the index of lookups and of listings ordered by (format, namespace, name)
    UniqueConstraint("repository_id", "format", "namespace", "name"),
    # listings of all formats filtered by name prefix
    Index(None, "repository_id", "name"),
    sqlite_autoincrement=True,
)

package_versions = Table(
    "package_versions",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("package_id", Integer(), nullable=False),
    Column("version", _key(), nullable=False),  # normalized
    Column("display_version", Text(), nullable=False),
    Column("status", _key(), nullable=False),
    Column("revision", Text(), nullable=False),
    Column("published_time", _time(), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("home_page", Text(), nullable=False),
    Column("source_code_repository", Text(), nullable=False),
    Column("licenses", Text(), nullable=False),  # JSON array of strings
    Column("requires_python", Text(), nullable=True),
    Column("readme", Text(), nullable=False),
    Column("readme_content_type", Text(), nullable=False),
    # where the version was first published (all three or none)
    Column("origin_domain_owner", _key(), nullable=True),
    Column("origin_domain", _key(), nullable=True),
    Column("origin_repository", _key(), nullable=True),
    Column("extra", Text(), nullable=False),  # JSON object of strings
    ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
    UniqueConstraint("package_id", "version"),
    # listings ordered by (published time, version)
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
    # one file of a name per version; also the index of listings ordered by name
    UniqueConstraint("version_id", "name"),
    # which assets still use a blob (garbage collection)
    Index(None, "sha256"),
    sqlite_autoincrement=True,
)

# --- revoked tokens (migration 2) ---------------------------------------------------------------------

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("token_id", _key(), primary_key=True),
    Column("expires_at", _time(), nullable=False),
    Column("revoked_at", _time(), nullable=False),
    Index(None, "expires_at"),
)
