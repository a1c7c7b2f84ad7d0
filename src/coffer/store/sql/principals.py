"""Roles, groups and their membership, inline policies of users, groups and roles, and the principal lookups the
other IAM parts share.

Names of roles, groups and managed policies are matched case-insensitively (IAM: "names are not distinguished
by case") through their ``name_key`` column and returned as created; user names are matched exactly, as
everywhere in the store. Reads and writes tied to a principal that does not exist raise
``ResourceNotFoundError`` (also the listings); the single-thing lookups return ``None``. Each method raises one
kind of ``ConflictError`` only, so the IAM service can map it to its error code: ``create_*``:
EntityAlreadyExists; ``delete_*``: DeleteConflict.

Race safety on PostgreSQL (READ COMMITTED): what the schema cannot check (the principal of an attachment is
polymorphic, "no attachments" before a delete) is serialised by row locks: writers that need a principal or
policy to stay take ``FOR SHARE`` on its row, deleters take ``FOR UPDATE`` before they check. SQLite's
``BEGIN IMMEDIATE`` already serialises writers (and SQLAlchemy renders no FOR clause there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, Connection, Table, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from coffer.core.identity.iam_models import Group, NamedPolicy, PrincipalType, Role, User
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.store.schema import (
    group_members,
    group_policies,
    groups,
    policy_attachments,
    role_policies,
    roles,
    user_policies,
    users,
)
from coffer.store.sql.base import SqlBase, from_row, row_values
from coffer.store.sql.resource_extras import drop_resource_extras

_PRINCIPAL_TABLES: Final[Mapping[str, Table]] = {"user": users, "group": groups, "role": roles}
# inline policy table and its principal-name column, per principal type
_INLINE_TABLES: Final[Mapping[str, tuple[Table, str]]] = {
    "user": (user_policies, "user_name"),
    "group": (group_policies, "group_name"),
    "role": (role_policies, "role_name"),
}


_T = TypeVar("_T")


def name_key(name: str) -> str:
    """The case-insensitive form of an IAM name (computed here, not in SQL, so both backends agree)."""
    return name.lower()


def _path_prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    """Case-sensitive ``startswith`` on both backends (SQLite's LIKE ignores ASCII case)."""
    return func.substr(column, 1, len(prefix)) == prefix


def _inline_table(principal_type: str) -> tuple[Table, str]:
    """The inline policy table of a principal type and its principal-name column."""
    found = _INLINE_TABLES.get(principal_type)
    if found is None:
        raise ValidationError(f"Unknown principal type {principal_type!r}")
    return found


def _no_entity(kind: str, name: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"The {kind} with name {name} cannot be found.", resource_id=name, resource_type=kind)


def stored_name(conn: Connection, account_id: str, principal_type: str, name: str, *, lock: str | None = None) -> str:
    """The stored spelling of the principal's name; ResourceNotFoundError if absent. ``lock``: "share"
    (it must stay until commit) or "update" (it is about to go)."""
    table = _PRINCIPAL_TABLES.get(principal_type)
    if table is None:
        raise ValidationError(f"Unknown principal type {principal_type!r}")
    stmt = select(table.c.name).where(table.c.account_id == account_id)
    if principal_type == "user":
        stmt = stmt.where(table.c.name == name)
    else:
        stmt = stmt.where(table.c.name_key == name_key(name))
    if lock is not None:
        stmt = stmt.with_for_update(read=lock == "share")
    found = conn.execute(stmt).scalar_one_or_none()
    if found is None:
        raise _no_entity(principal_type, name)
    return str(found)


def has_attachments(conn: Connection, account_id: str, principal_type: str, name: str) -> bool:
    pa = policy_attachments
    stmt = select(literal(1)).where(
        pa.c.account_id == account_id, pa.c.principal_type == principal_type, pa.c.principal_name == name
    )
    return conn.execute(stmt.limit(1)).first() is not None


def has_inline(conn: Connection, account_id: str, principal_type: str, name: str) -> bool:
    table, column = _inline_table(principal_type)
    stmt = select(literal(1)).where(table.c.account_id == account_id, table.c[column] == name)
    return conn.execute(stmt.limit(1)).first() is not None


def delete_attachments(conn: Connection, account_id: str, user_name: str) -> None:
    """Part of ``delete_user`` (memberships cascade in the schema; attachments are polymorphic)."""
    pa = policy_attachments
    conn.execute(
        delete(pa).where(pa.c.account_id == account_id, pa.c.principal_type == "user", pa.c.principal_name == user_name)
    )


def refuse_delete_in_use(conn: Connection, account_id: str, principal_type: str, name: str) -> None:
    if has_inline(conn, account_id, principal_type, name):
        raise ConflictError(
            "Cannot delete entity, must delete policies first.", resource_id=name, resource_type=principal_type
        )
    if has_attachments(conn, account_id, principal_type, name):
        raise ConflictError(
            "Cannot delete entity, must detach all policies first.", resource_id=name, resource_type=principal_type
        )


def _insert_failed(kind: str, name: str, entity_id: str, account_id: str) -> ConflictError:
    # the name was free a moment ago: the id is taken, the name was just taken, or the account is missing
    return ConflictError(
        f"{kind} with name {name} or id {entity_id} already exists (or account {account_id} does not).",
        resource_id=name,
        resource_type=kind.lower(),
    )


def _create_named(conn: Connection, table: Table, kind: str, entity: Role | Group, entity_id: str) -> None:
    """Insert a role or group whose name (any case) is free in its account; ``kind``: "Role" or "Group"."""
    taken = conn.execute(
        select(table.c.name).where(table.c.account_id == entity.account_id, table.c.name_key == name_key(entity.name))
    ).first()
    if taken is not None:
        raise ConflictError(
            f"{kind} with name {entity.name} already exists.", resource_id=entity.name, resource_type=kind.lower()
        )
    try:
        conn.execute(insert(table).values(row_values(entity, table, name_key=name_key(entity.name))))
    except IntegrityError as exc:
        raise _insert_failed(kind, entity.name, entity_id, entity.account_id) from exc


def _get_named(conn: Connection, table: Table, cls: type[_T], account_id: str, name: str) -> _T | None:
    row = conn.execute(
        select(table).where(table.c.account_id == account_id, table.c.name_key == name_key(name))
    ).one_or_none()
    return None if row is None else from_row(cls, row)


def _list_named(conn: Connection, table: Table, cls: type[_T], account_id: str, path_prefix: str) -> list[_T]:
    """Ordered by name."""
    rows = conn.execute(
        select(table)
        .where(table.c.account_id == account_id, _path_prefix(table.c.path, path_prefix))
        .order_by(table.c.name)
    ).all()
    return [from_row(cls, r) for r in rows]


class SqlPrincipals(SqlBase):
    def create_role(self, role: Role) -> None:
        with self._write() as conn:
            _create_named(conn, roles, "Role", role, role.role_id)

    def get_role(self, account_id: str, name: str) -> Role | None:
        with self._read() as conn:
            return _get_named(conn, roles, Role, account_id, name)

    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[Role]:
        """Ordered by name."""
        with self._read() as conn:
            return _list_named(conn, roles, Role, account_id, path_prefix)

    def update_role(self, role: Role) -> None:
        """Replaces trust policy, description and max session duration (name, id, path and creation stay)."""
        with self._write() as conn:
            result = conn.execute(
                update(roles)
                .where(roles.c.account_id == role.account_id, roles.c.name_key == name_key(role.name))
                .values(
                    trust_policy=role.trust_policy,
                    description=role.description,
                    max_session_duration=role.max_session_duration,
                )
            )
            if result.rowcount == 0:
                raise _no_entity("role", role.name)

    def delete_role(self, account_id: str, name: str) -> None:
        """ConflictError while it has inline or attached policies; its tags go with it."""
        with self._write() as conn:
            stored = stored_name(conn, account_id, "role", name, lock="update")
            refuse_delete_in_use(conn, account_id, "role", stored)
            role = _get_named(conn, roles, Role, account_id, stored)
            if role is not None:
                drop_resource_extras(conn, role.arn)
            try:
                conn.execute(delete(roles).where(roles.c.account_id == account_id, roles.c.name == stored))
            except IntegrityError as exc:  # an inline policy slipped in (cannot with the lock held)
                raise ConflictError(
                    "Cannot delete entity, must delete policies first.", resource_id=stored, resource_type="role"
                ) from exc

    def create_group(self, group: Group) -> None:
        with self._write() as conn:
            _create_named(conn, groups, "Group", group, group.group_id)

    def get_group(self, account_id: str, name: str) -> Group | None:
        with self._read() as conn:
            return _get_named(conn, groups, Group, account_id, name)

    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[Group]:
        """Ordered by name."""
        with self._read() as conn:
            return _list_named(conn, groups, Group, account_id, path_prefix)

    def delete_group(self, account_id: str, name: str) -> None:
        """ConflictError while it has members, inline or attached policies."""
        with self._write() as conn:
            stored = stored_name(conn, account_id, "group", name, lock="update")
            gm = group_members
            member = conn.execute(
                select(literal(1)).where(gm.c.account_id == account_id, gm.c.group_name == stored).limit(1)
            ).first()
            if member is not None:
                raise ConflictError(
                    "Cannot delete entity, must remove users from group first.",
                    resource_id=stored,
                    resource_type="group",
                )
            refuse_delete_in_use(conn, account_id, "group", stored)
            try:
                conn.execute(delete(groups).where(groups.c.account_id == account_id, groups.c.name == stored))
            except IntegrityError as exc:  # a member or policy slipped in (cannot with the lock held)
                raise ConflictError(
                    "Cannot delete entity, must remove users from group first.",
                    resource_id=stored,
                    resource_type="group",
                ) from exc

    def add_user_to_group(self, account_id: str, group_name: str, user_name: str) -> None:
        """Idempotent."""
        with self._write() as conn:
            group = stored_name(conn, account_id, "group", group_name, lock="share")
            user = stored_name(conn, account_id, "user", user_name, lock="share")
            stmt = self._insert(group_members).values(account_id=account_id, group_name=group, user_name=user)
            conn.execute(stmt.on_conflict_do_nothing())

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None:
        """ResourceNotFoundError if the group or user does not exist or the user is not a member."""
        with self._write() as conn:
            group = stored_name(conn, account_id, "group", group_name)
            user = stored_name(conn, account_id, "user", user_name)
            gm = group_members
            result = conn.execute(
                delete(gm).where(gm.c.account_id == account_id, gm.c.group_name == group, gm.c.user_name == user)
            )
            if result.rowcount == 0:
                raise ResourceNotFoundError(
                    f"The user with name {user} is not a member of group {group}.",
                    resource_id=user,
                    resource_type="user",
                )

    def list_group_members(self, account_id: str, group_name: str) -> list[User]:
        """Ordered by user name."""
        gm = group_members
        with self._read() as conn:
            group = stored_name(conn, account_id, "group", group_name)
            rows = conn.execute(
                select(users)
                .join(gm, (gm.c.account_id == users.c.account_id) & (gm.c.user_name == users.c.name))
                .where(gm.c.account_id == account_id, gm.c.group_name == group)
                .order_by(users.c.name)
            ).all()
        return [from_row(User, r) for r in rows]

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[Group]:
        """Ordered by group name."""
        gm = group_members
        with self._read() as conn:
            user = stored_name(conn, account_id, "user", user_name)
            rows = conn.execute(
                select(groups)
                .join(gm, (gm.c.account_id == groups.c.account_id) & (gm.c.group_name == groups.c.name))
                .where(gm.c.account_id == account_id, gm.c.user_name == user)
                .order_by(groups.c.name)
            ).all()
        return [from_row(Group, r) for r in rows]

    def put_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy: NamedPolicy
    ) -> None:
        """Creates or replaces (users: the rows of ``put_user_policy``)."""
        table, column = _inline_table(principal_type)
        with self._write() as conn:
            stored = stored_name(conn, account_id, principal_type, principal_name, lock="share")
            row = {"account_id": account_id, column: stored, "name": policy.name, "document": policy.document}
            conn.execute(self._upsert(table, [row], ["document"]))

    def get_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> NamedPolicy | None:
        """None if the principal or the policy does not exist."""
        table, column = _inline_table(principal_type)
        with self._read() as conn:
            try:
                stored = stored_name(conn, account_id, principal_type, principal_name)
            except ResourceNotFoundError:
                return None
            row = conn.execute(
                select(table.c.name, table.c.document).where(
                    table.c.account_id == account_id, table.c[column] == stored, table.c.name == policy_name
                )
            ).one_or_none()
        return None if row is None else NamedPolicy(name=row.name, document=row.document)

    def list_inline_policies(
        self, account_id: str, principal_type: PrincipalType, principal_name: str
    ) -> list[NamedPolicy]:
        """Ordered by name."""
        table, column = _inline_table(principal_type)
        with self._read() as conn:
            stored = stored_name(conn, account_id, principal_type, principal_name)
            rows = conn.execute(
                select(table.c.name, table.c.document)
                .where(table.c.account_id == account_id, table.c[column] == stored)
                .order_by(table.c.name)
            ).all()
        return [NamedPolicy(name=r.name, document=r.document) for r in rows]

    def delete_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> None:
        table, column = _inline_table(principal_type)
        with self._write() as conn:
            stored = stored_name(conn, account_id, principal_type, principal_name)
            result = conn.execute(
                delete(table).where(
                    table.c.account_id == account_id, table.c[column] == stored, table.c.name == policy_name
                )
            )
            if result.rowcount == 0:
                raise ResourceNotFoundError(
                    f"The {principal_type} policy with name {policy_name} cannot be found.",
                    resource_id=policy_name,
                    resource_type="policy",
                )
