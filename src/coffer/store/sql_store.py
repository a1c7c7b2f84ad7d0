"""``SqlStore``: core's ``Store`` port on SQLAlchemy Core, identical on SQLite and PostgreSQL, one part per
aggregate (``coffer.store.sql``) on one base (``coffer.store.sql.base``: transactions, constraint translation,
row mapping); ``open_store`` opens it with the migrations applied."""

from __future__ import annotations

from coffer.store.engine import create_engine_for
from coffer.store.migrations.runner import LATEST_VERSION, apply_migrations, current_version
from coffer.store.secrets import SecretCipher
from coffer.store.sql.accounts import SqlAccounts
from coffer.store.sql.domains import SqlDomains
from coffer.store.sql.managed_policies import SqlManagedPolicies
from coffer.store.sql.package_groups import SqlPackageGroups
from coffer.store.sql.packages import SqlPackages
from coffer.store.sql.principals import SqlPrincipals
from coffer.store.sql.repositories import SqlRepositories
from coffer.store.sql.revocations import SqlRevocations
from coffer.store.sql.sealed_secrets import SqlSealedSecrets
from coffer.store.sql.sessions import SqlSessions


class SchemaNotCurrentError(RuntimeError):
    """A database opened read-only is not at the schema version this Coffer uses (migrating would write)."""


class SqlStore(
    SqlAccounts,
    SqlPrincipals,
    SqlManagedPolicies,
    SqlSessions,
    SqlSealedSecrets,
    SqlDomains,
    SqlRepositories,
    SqlPackages,
    SqlPackageGroups,
    SqlRevocations,
):
    """Implements ``coffer.core.ports.Store``."""


def open_store(url: str, cipher: SecretCipher | None = None, *, read_only: bool = False) -> SqlStore:
    """Engine for ``url`` (see ``create_engine_for``), migrations applied, store ready. ``cipher`` seals the secret
    columns (Coffer always passes one; without it, as in the store's contract tests, secrets are kept as given).
    ``read_only``: nothing is written (SQLite opened read-only, no migration: ``SchemaNotCurrentError`` if one is
    due); for commands that only read, on a data directory they cannot write."""
    engine = create_engine_for(url, read_only=read_only)
    try:
        if read_only:
            with engine.connect() as conn:
                version = current_version(conn)
            if version != LATEST_VERSION:
                raise SchemaNotCurrentError(
                    f"the database schema is at version {version}, this Coffer uses {LATEST_VERSION}: "
                    "open it once where it can be written (to migrate it)"
                )
        else:
            apply_migrations(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, cipher)
