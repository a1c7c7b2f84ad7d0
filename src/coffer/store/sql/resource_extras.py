"""Resource policies and tags: what any resource (by ARN) may carry besides its own row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, delete, select, update

from coffer.core.codeartifact.resources import ResourcePolicy
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError
from coffer.store.schema import resource_policies
from coffer.store.schema import tags as tag_table
from coffer.store.sql.base import SqlBase, from_row, new_revision


def _arn_resource(arn: str) -> tuple[str | None, str]:
    """(resource type, resource id) of a CodeArtifact ARN, for error fields."""
    resource = arn.split(":", 5)[-1]
    kind, _, path = resource.partition("/")
    if kind in ("domain", "repository", "package") and path:
        return kind, path.rsplit("/", 1)[-1]
    return None, arn


def _stale(resource_arn: str, expected: str, exists: bool) -> ConflictError:
    kind, rid = _arn_resource(resource_arn)
    if exists:
        message = f"The policy revision {expected} does not match the current revision of {resource_arn}"
    else:
        message = f"No resource policy exists for {resource_arn}, so revision {expected} cannot match"
    return ConflictError(message, resource_id=rid, resource_type=kind)


def _policy_exists(conn: Connection, resource_arn: str) -> bool:
    return (
        conn.execute(
            select(resource_policies.c.revision).where(resource_policies.c.resource_arn == resource_arn)
        ).first()
        is not None
    )


def drop_resource_extras(conn: Connection, arn: str) -> None:
    """Part of deleting a resource: its tags and resource policy go with it."""
    conn.execute(delete(tag_table).where(tag_table.c.resource_arn == arn))
    conn.execute(delete(resource_policies).where(resource_policies.c.resource_arn == arn))


class SqlResourceExtras(SqlBase):
    # --- tags -----------------------------------------------------------------------------------------

    def _replace_tags(self, conn: Connection, arn: str, new_tags: Mapping[str, str]) -> None:
        conn.execute(delete(tag_table).where(tag_table.c.resource_arn == arn))
        self._put_tags(conn, arn, new_tags)

    def _put_tags(self, conn: Connection, arn: str, new_tags: Mapping[str, str]) -> None:
        """Adds or overwrites (an upsert: safe against a concurrent tagging of the same key)."""
        if new_tags:
            rows = [{"resource_arn": arn, "key": k, "value": v} for k, v in new_tags.items()]
            conn.execute(self._upsert(tag_table, rows, ["value"]))

    def get_tags(self, resource_arn: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(
                select(tag_table.c.key, tag_table.c.value)
                .where(tag_table.c.resource_arn == resource_arn)
                .order_by(tag_table.c.key)
            ).all()
        return {r.key: r.value for r in rows}

    def tag_resource(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        with self._write() as conn:
            self._put_tags(conn, resource_arn, tags)

    def untag_resource(self, resource_arn: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        t = tag_table
        with self._write() as conn:
            conn.execute(delete(t).where(t.c.resource_arn == resource_arn, t.c.key.in_(list(keys))))

    # --- resource policies ----------------------------------------------------------------------------

    def get_resource_policy(self, resource_arn: str) -> ResourcePolicy | None:
        with self._read() as conn:
            row = conn.execute(
                select(resource_policies).where(resource_policies.c.resource_arn == resource_arn)
            ).one_or_none()
        return None if row is None else from_row(ResourcePolicy, row)

    def put_resource_policy(self, resource_arn: str, document: str, expected_revision: str | None) -> ResourcePolicy:
        revision = new_revision()
        with self._write() as conn:
            if expected_revision is None:
                conn.execute(
                    self._upsert(
                        resource_policies,
                        [{"resource_arn": resource_arn, "document": document, "revision": revision}],
                        ["document", "revision"],
                    )
                )
            else:
                result = conn.execute(
                    update(resource_policies)
                    .where(
                        resource_policies.c.resource_arn == resource_arn,
                        resource_policies.c.revision == expected_revision,
                    )
                    .values(document=document, revision=revision)
                )
                if result.rowcount == 0:
                    raise _stale(resource_arn, expected_revision, _policy_exists(conn, resource_arn))
        return ResourcePolicy(resource_arn=resource_arn, document=document, revision=revision)

    def delete_resource_policy(self, resource_arn: str, expected_revision: str | None) -> ResourcePolicy:
        stmt = delete(resource_policies).where(resource_policies.c.resource_arn == resource_arn)
        if expected_revision is not None:
            stmt = stmt.where(resource_policies.c.revision == expected_revision)
        with self._write() as conn:
            row = conn.execute(
                stmt.returning(
                    resource_policies.c.resource_arn, resource_policies.c.document, resource_policies.c.revision
                )
            ).one_or_none()
            if row is None:
                if expected_revision is not None and _policy_exists(conn, resource_arn):
                    raise _stale(resource_arn, expected_revision, True)
                kind, rid = _arn_resource(resource_arn)
                raise ResourceNotFoundError(
                    f"No resource policy exists for {resource_arn}", resource_id=rid, resource_type=kind
                )
        return from_row(ResourcePolicy, row)
