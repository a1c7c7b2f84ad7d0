"""Migration 4: access keys and STS sessions bound to their principal's unique id, the file names repositories
used (``asset_names``), an index on ``assets.metadata_sha256``.

It adds columns with ``ALTER TABLE`` (their definitions taken from ``schema.py``) and creates ``asset_names``
from ``schema.py``; before a later migration changes that table, freeze it here.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import CreateColumn

from coffer.store import schema


def add_column(conn: Connection, table: Table, name: str) -> None:
    """``ALTER TABLE ... ADD COLUMN`` with the column as ``schema.py`` defines it (nullable, no default)."""
    column = table.c[name]
    assert column.nullable, "columns added to existing rows must be nullable"
    spec = CreateColumn(column).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {spec}"))


def migrate(conn: Connection) -> None:
    """Access keys and STS sessions bound to their principal's unique id; the file names repositories used; an
    index on ``assets.metadata_sha256`` (garbage collection asks which blobs are still in use).

    Existing rows are bound to the principal that has the name now (the best the old rows tell)."""
    add_column(conn, schema.access_keys, "user_id")
    add_column(conn, schema.sessions, "principal_id")
    conn.execute(
        text(
            "UPDATE access_keys SET user_id = (SELECT u.user_id FROM users u WHERE u.account_id = "
            "access_keys.account_id AND u.name = access_keys.user_name) WHERE user_name IS NOT NULL"
        )
    )
    conn.execute(
        text(
            "UPDATE sessions SET principal_id = (SELECT r.role_id FROM roles r WHERE r.account_id = "
            "sessions.account_id AND r.name = sessions.role_name) WHERE role_name IS NOT NULL"
        )
    )
    conn.execute(
        text(
            "UPDATE sessions SET principal_id = (SELECT u.user_id FROM users u WHERE u.account_id = "
            "sessions.account_id AND u.name = sessions.user_name) WHERE role_name IS NULL AND user_name IS NOT NULL"
        )
    )
    next(i for i in schema.assets.indexes if i.name == "ix_assets_metadata_sha256").create(conn)
    schema.asset_names.create(conn, checkfirst=False)
    conn.execute(
        text(
            "INSERT INTO asset_names (repository_id, format, namespace, package, name, sha256, first_used_at) "
            "SELECT p.repository_id, p.format, p.namespace, p.name, a.name, MIN(a.sha256), MIN(a.created_at) "
            "FROM assets a JOIN package_versions v ON v.id = a.version_id JOIN packages p ON p.id = v.package_id "
            "GROUP BY p.repository_id, p.format, p.namespace, p.name, a.name"
        )
    )
