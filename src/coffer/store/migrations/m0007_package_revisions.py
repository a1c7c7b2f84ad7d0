"""Migration 7: ``repositories.package_revision``, changed by every write to a repository's packages, so that a
package page built before can be served again after one cheap read shows nothing changed.

It adds the column with ``ALTER TABLE`` (its definition taken from ``schema.py``, as migration 4 does); existing
repositories start at NULL, which the next package write replaces.
"""

from __future__ import annotations

from sqlalchemy import Connection

from coffer.store import schema
from coffer.store.migrations.m0004_principal_ids import add_column


def migrate(conn: Connection) -> None:
    add_column(conn, schema.repositories, "package_revision")
