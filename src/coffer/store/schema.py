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

Version history (``coffer.store.migrations``): migration 1 (``m0001_initial``, frozen) creates the first
tables; migration 2 (``m0002_packages``, frozen) adds packages, package_versions, assets and revoked_tokens;
migration 3 (``m0003_iam``, frozen) adds the IAM/STS tables (roles, groups, group_members, group_policies,
role_policies, managed_policies, policy_versions, policy_attachments, access_key_usage, sessions); migration 4
(``m0004_principal_ids``) adds ``access_keys.user_id`` and
``sessions.principal_id`` (the unique id of the principal a key or session was issued to, so a re-created
user or role of the same name inherits nothing) and ``asset_names`` (every file name a repository has used,
with its content). Migration 4 alters tables and creates ``asset_names`` from the definition here: freeze it
in ``m0004_principal_ids`` before that table changes. Migration 5 (``m0005_package_groups``, frozen) adds
``package_groups`` and ``package_group_allowed_repositories`` (cascading from domains). Migration 6
(``m0006_package_tags``, frozen) adds ``package_tags`` (npm's dist-tags, cascading from packages). Migration 7
(``m0007_package_revisions``) adds ``repositories.package_revision``.

IAM names of roles, groups and managed policies are unique per account case-insensitively: each of those
tables has a ``name_key`` column (the name lowercased by the store, in Python, so both backends agree) with a
unique key on ``(account_id, name_key)``; ``name`` keeps the spelling the entity was created with.

Domains, repositories, packages, versions and assets have integer surrogate keys (never reused:
``sqlite_autoincrement``) so that the tables below them reference them cheaply; packages, versions and assets
go with their repository (ON DELETE CASCADE down the chain). Upstreams reference repositories
through ``(domain_id, id)`` so the database itself guarantees that an upstream lives in the same domain.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    # migration 4: users.user_id of the key's user when it was created (NULL for root keys)
    Column("user_id", _key(), nullable=True),
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
    # migration 7: a new random value in every transaction that changes the repository's packages, versions,
    # assets or tags (NULL until the first); the read path keeps what it built while this stays the same
    Column("package_revision", Text(), nullable=True),
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
    # migration 4: the same for extracted metadata files
    Index(None, "metadata_sha256"),
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
    # migration 4: the role's role_id (role sessions) or the user's user_id (GetSessionToken sessions) when the
    # session was issued; NULL for sessions of a root user
    Column("principal_id", _key(), nullable=True),
    Index(None, "expires_at"),
    # find_role_sessions
    Index(None, "account_id", "role_name", "session_name"),
)


# --- file names used (migration 4) ----------------------------------------------------------------------

# Every asset name a repository has published for a package, with the SHA-256 it had: kept when the version is
# deleted, so a name once used is never reused with other content (downloads are served immutable).
asset_names = Table(
    "asset_names",
    metadata,
    Column("repository_id", Integer(), nullable=False),
    Column("format", _key(), nullable=False),
    Column("namespace", _key(), nullable=False),  # '' for none
    Column("package", _key(), nullable=False),  # normalized package name
    Column("name", _key(), nullable=False),  # the asset (file) name
    Column("sha256", _key(), nullable=False),
    Column("first_used_at", _time(), nullable=False),
    PrimaryKeyConstraint("repository_id", "format", "namespace", "package", "name"),
    ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
)


# --- package groups (migration 5) ---------------------------------------------------------------------

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


# --- package tags (migration 6) -----------------------------------------------------------------------

# npm's dist-tags: a name pointing at one version of the package (``latest``, ``beta``); the version is not a
# foreign key, so a tag survives its version's deletion and the reader drops it (the packument never shows it).
package_tags = Table(
    "package_tags",
    metadata,
    Column("package_id", Integer(), nullable=False),
    Column("tag", _key(), nullable=False),
    Column("version", _key(), nullable=False),  # normalized
    ForeignKeyConstraint(["package_id"], ["packages.id"], ondelete="CASCADE"),
    PrimaryKeyConstraint("package_id", "tag"),
)
