"""``SqlIamMixin``: the ``IamStore`` part of ``SqlStore`` (roles, groups, inline and managed policies,
attachments, access-key state, STS sessions), on the tables of migration 3.

Same rules as ``sql_store``: every public method is one transaction, writes begin IMMEDIATE on SQLite. Names of
roles, groups and managed policies are matched case-insensitively (IAM: "names are not distinguished by
case") through their ``name_key`` column and returned as created; user names are matched exactly, as
everywhere in the store. Reads and writes tied to a principal or policy that does not exist raise
``ResourceNotFoundError`` (also the listings); the single-thing lookups return ``None``.

Each method raises one kind of ``ConflictError`` only, so the IAM service can map it to its error code:
``create_*`` and ``create_session``: EntityAlreadyExists; ``delete_*``: DeleteConflict;
``create_policy_version``: LimitExceeded.

Race safety on PostgreSQL (READ COMMITTED): what the schema cannot check (the principal of an attachment is
polymorphic, "no attachments" before a delete) is serialised by row locks: writers that need a principal or
policy to stay take ``FOR SHARE`` on its row, deleters take ``FOR UPDATE`` before they check. SQLite's
``BEGIN IMMEDIATE`` already serialises writers (and SQLAlchemy renders no FOR clause there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    Table,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from coffer.core.identity.iam_models import (
    Group,
    ManagedPolicy,
    NamedPolicy,
    PolicyVersion,
    PrincipalType,
    Role,
    Session,
    User,
)
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.store.schema import (
    access_key_usage,
    access_keys,
    group_members,
    group_policies,
    groups,
    managed_policies,
    policy_attachments,
    policy_versions,
    role_policies,
    roles,
    sessions,
    user_policies,
    users,
)
from coffer.store.secrets import (
    SecretCipher,
    key_secret_context,
    session_secret_context,
    session_token_context,
)

MAX_POLICY_VERSIONS: Final = 5

_VERSION_ID = re.compile(r"v([1-9][0-9]{0,8})")

_PRINCIPAL_TABLES: Final[Mapping[str, Table]] = {"user": users, "group": groups, "role": roles}
# inline policy table and its principal-name column, per principal type
_INLINE_TABLES: Final[Mapping[str, tuple[Table, str]]] = {
    "user": (user_policies, "user_name"),
    "group": (group_policies, "group_name"),
    "role": (role_policies, "role_name"),
}


def name_key(name: str) -> str:
    """The case-insensitive form of an IAM name (computed here, not in SQL, so both backends agree)."""
    return name.lower()


def version_number(version_id: str) -> int | None:
    """N of "vN", None for anything else."""
    match = _VERSION_ID.fullmatch(version_id)
    return None if match is None else int(match.group(1))


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


def _no_policy(arn: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"Policy {arn} was not found.", resource_id=arn, resource_type="policy")


def _no_version(arn: str, version_id: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Policy {arn} version {version_id} does not exist.", resource_id=version_id, resource_type="policy-version"
    )


class SqlIamMixin:
    """Implements the ``IamStore`` port for ``SqlStore``, which provides the helpers below."""

    _insert: Any
    _cipher: SecretCipher | None

    def _seal_secret(self, value: str, context: str) -> str:
        return value if self._cipher is None else self._cipher.seal(value, context)

    def _open_secret(self, stored: str, context: str) -> str:
        return stored if self._cipher is None else self._cipher.open(stored, context)

    def cipher_refresh(self) -> None:
        """Re-read the key-encryption keys (after a rotation)."""
        if self._cipher is not None:
            self._cipher.refresh()

    def reseal_secrets(self) -> int:
        """Seal every secret column with the cipher's active key: rows written before secrets were sealed, or
        sealed by an older key-encryption key. Returns how many rows changed. Idempotent; the stale rows are
        found by the database (a start with nothing to re-seal reads no secret and takes no write lock)."""
        cipher = self._cipher
        if cipher is None:
            return 0
        prefix = cipher.current_prefix
        stale_keys = select(access_keys.c.access_key_id, access_keys.c.secret_access_key).where(
            ~access_keys.c.secret_access_key.startswith(prefix, autoescape=True)
        )
        stale_sessions = select(sessions.c.access_key_id, sessions.c.secret_access_key, sessions.c.session_token).where(
            or_(
                ~sessions.c.secret_access_key.startswith(prefix, autoescape=True),
                ~sessions.c.session_token.startswith(prefix, autoescape=True),
            )
        )
        with self._read() as conn:
            if (
                conn.execute(stale_keys.limit(1)).first() is None
                and conn.execute(stale_sessions.limit(1)).first() is None
            ):
                return 0

        def reseal(value: str, context: str) -> str:
            return cipher.seal(cipher.open(value, context), context)

        changed = 0
        with self._write() as conn:
            for row in conn.execute(stale_keys).all():
                conn.execute(
                    update(access_keys)
                    .where(access_keys.c.access_key_id == row.access_key_id)
                    .values(secret_access_key=reseal(row.secret_access_key, key_secret_context(row.access_key_id)))
                )
                changed += 1
            for srow in conn.execute(stale_sessions).all():
                conn.execute(
                    update(sessions)
                    .where(sessions.c.access_key_id == srow.access_key_id)
                    .values(
                        secret_access_key=reseal(srow.secret_access_key, session_secret_context(srow.access_key_id)),
                        session_token=reseal(srow.session_token, session_token_context(srow.access_key_id)),
                    )
                )
                changed += 1
        return changed

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _upsert(self, table: Table, values: Sequence[Mapping[str, Any]], update_columns: Sequence[str]) -> Insert:
        raise NotImplementedError

    # --- principals -----------------------------------------------------------------------------------

    @staticmethod
    def _principal_name(
        conn: Connection, account_id: str, principal_type: str, name: str, *, lock: str | None = None
    ) -> str:
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

    @staticmethod
    def _has_attachments(conn: Connection, account_id: str, principal_type: str, name: str) -> bool:
        pa = policy_attachments
        stmt = select(literal(1)).where(
            pa.c.account_id == account_id, pa.c.principal_type == principal_type, pa.c.principal_name == name
        )
        return conn.execute(stmt.limit(1)).first() is not None

    @staticmethod
    def _has_inline(conn: Connection, account_id: str, principal_type: str, name: str) -> bool:
        table, column = _inline_table(principal_type)
        stmt = select(literal(1)).where(table.c.account_id == account_id, table.c[column] == name)
        return conn.execute(stmt.limit(1)).first() is not None

    @staticmethod
    def delete_user_attachments(conn: Connection, account_id: str, user_name: str) -> None:
        """Part of ``delete_user`` (memberships cascade in the schema; attachments are polymorphic)."""
        pa = policy_attachments
        conn.execute(
            delete(pa).where(
                pa.c.account_id == account_id, pa.c.principal_type == "user", pa.c.principal_name == user_name
            )
        )

    # --- roles ----------------------------------------------------------------------------------------

    @staticmethod
    def _to_role(row: Any) -> Role:
        return Role(
            account_id=row.account_id,
            name=row.name,
            role_id=row.role_id,
            trust_policy=row.trust_policy,
            created_at=row.created_at,
            path=row.path,
            description=row.description,
            max_session_duration=row.max_session_duration,
        )

    def create_role(self, role: Role) -> None:
        with self._write() as conn:
            taken = conn.execute(
                select(roles.c.name).where(
                    roles.c.account_id == role.account_id, roles.c.name_key == name_key(role.name)
                )
            ).first()
            if taken is not None:
                raise ConflictError(
                    f"Role with name {role.name} already exists.", resource_id=role.name, resource_type="role"
                )
            try:
                conn.execute(
                    insert(roles).values(
                        account_id=role.account_id,
                        name=role.name,
                        name_key=name_key(role.name),
                        role_id=role.role_id,
                        path=role.path,
                        trust_policy=role.trust_policy,
                        description=role.description,
                        max_session_duration=role.max_session_duration,
                        created_at=role.created_at,
                    )
                )
            except IntegrityError as exc:
                raise self._insert_failed("Role", role.name, role.role_id, role.account_id) from exc

    @staticmethod
    def _insert_failed(kind: str, name: str, entity_id: str, account_id: str) -> ConflictError:
        # the name was free a moment ago: the id is taken, the name was just taken, or the account is missing
        return ConflictError(
            f"{kind} with name {name} or id {entity_id} already exists (or account {account_id} does not).",
            resource_id=name,
            resource_type=kind.lower(),
        )

    def get_role(self, account_id: str, name: str) -> Role | None:
        with self._read() as conn:
            row = conn.execute(
                select(roles).where(roles.c.account_id == account_id, roles.c.name_key == name_key(name))
            ).one_or_none()
        return None if row is None else self._to_role(row)

    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[Role]:
        """Ordered by name."""
        with self._read() as conn:
            rows = conn.execute(
                select(roles)
                .where(roles.c.account_id == account_id, _path_prefix(roles.c.path, path_prefix))
                .order_by(roles.c.name)
            ).all()
        return [self._to_role(r) for r in rows]

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
        """ConflictError while it has inline or attached policies."""
        with self._write() as conn:
            stored = self._principal_name(conn, account_id, "role", name, lock="update")
            self._refuse_delete_in_use(conn, account_id, "role", stored)
            try:
                conn.execute(delete(roles).where(roles.c.account_id == account_id, roles.c.name == stored))
            except IntegrityError as exc:  # an inline policy slipped in (cannot with the lock held)
                raise ConflictError(
                    "Cannot delete entity, must delete policies first.", resource_id=stored, resource_type="role"
                ) from exc

    def _refuse_delete_in_use(self, conn: Connection, account_id: str, principal_type: str, name: str) -> None:
        if self._has_inline(conn, account_id, principal_type, name):
            raise ConflictError(
                "Cannot delete entity, must delete policies first.", resource_id=name, resource_type=principal_type
            )
        if self._has_attachments(conn, account_id, principal_type, name):
            raise ConflictError(
                "Cannot delete entity, must detach all policies first.", resource_id=name, resource_type=principal_type
            )

    # --- groups and membership ------------------------------------------------------------------------

    @staticmethod
    def _to_group(row: Any) -> Group:
        return Group(
            account_id=row.account_id, name=row.name, group_id=row.group_id, created_at=row.created_at, path=row.path
        )

    def create_group(self, group: Group) -> None:
        with self._write() as conn:
            taken = conn.execute(
                select(groups.c.name).where(
                    groups.c.account_id == group.account_id, groups.c.name_key == name_key(group.name)
                )
            ).first()
            if taken is not None:
                raise ConflictError(
                    f"Group with name {group.name} already exists.", resource_id=group.name, resource_type="group"
                )
            try:
                conn.execute(
                    insert(groups).values(
                        account_id=group.account_id,
                        name=group.name,
                        name_key=name_key(group.name),
                        group_id=group.group_id,
                        path=group.path,
                        created_at=group.created_at,
                    )
                )
            except IntegrityError as exc:
                raise self._insert_failed("Group", group.name, group.group_id, group.account_id) from exc

    def get_group(self, account_id: str, name: str) -> Group | None:
        with self._read() as conn:
            row = conn.execute(
                select(groups).where(groups.c.account_id == account_id, groups.c.name_key == name_key(name))
            ).one_or_none()
        return None if row is None else self._to_group(row)

    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[Group]:
        """Ordered by name."""
        with self._read() as conn:
            rows = conn.execute(
                select(groups)
                .where(groups.c.account_id == account_id, _path_prefix(groups.c.path, path_prefix))
                .order_by(groups.c.name)
            ).all()
        return [self._to_group(r) for r in rows]

    def delete_group(self, account_id: str, name: str) -> None:
        """ConflictError while it has members, inline or attached policies."""
        with self._write() as conn:
            stored = self._principal_name(conn, account_id, "group", name, lock="update")
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
            self._refuse_delete_in_use(conn, account_id, "group", stored)
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
            group = self._principal_name(conn, account_id, "group", group_name, lock="share")
            user = self._principal_name(conn, account_id, "user", user_name, lock="share")
            stmt = self._insert(group_members).values(account_id=account_id, group_name=group, user_name=user)
            conn.execute(stmt.on_conflict_do_nothing())

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None:
        """ResourceNotFoundError if the group or user does not exist or the user is not a member."""
        with self._write() as conn:
            group = self._principal_name(conn, account_id, "group", group_name)
            user = self._principal_name(conn, account_id, "user", user_name)
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
            group = self._principal_name(conn, account_id, "group", group_name)
            rows = conn.execute(
                select(users)
                .join(gm, (gm.c.account_id == users.c.account_id) & (gm.c.user_name == users.c.name))
                .where(gm.c.account_id == account_id, gm.c.group_name == group)
                .order_by(users.c.name)
            ).all()
        return [
            User(account_id=r.account_id, name=r.name, user_id=r.user_id, created_at=r.created_at, path=r.path)
            for r in rows
        ]

    def list_groups_for_user(self, account_id: str, user_name: str) -> list[Group]:
        """Ordered by group name."""
        gm = group_members
        with self._read() as conn:
            user = self._principal_name(conn, account_id, "user", user_name)
            rows = conn.execute(
                select(groups)
                .join(gm, (gm.c.account_id == groups.c.account_id) & (gm.c.group_name == groups.c.name))
                .where(gm.c.account_id == account_id, gm.c.user_name == user)
                .order_by(groups.c.name)
            ).all()
        return [self._to_group(r) for r in rows]

    # --- inline policies ------------------------------------------------------------------------------

    def put_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy: NamedPolicy
    ) -> None:
        """Creates or replaces (users: the rows of ``put_user_policy``)."""
        table, column = _inline_table(principal_type)
        with self._write() as conn:
            stored = self._principal_name(conn, account_id, principal_type, principal_name, lock="share")
            row = {"account_id": account_id, column: stored, "name": policy.name, "document": policy.document}
            conn.execute(self._upsert(table, [row], ["document"]))

    def get_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> NamedPolicy | None:
        """None if the principal or the policy does not exist."""
        table, column = _inline_table(principal_type)
        with self._read() as conn:
            try:
                stored = self._principal_name(conn, account_id, principal_type, principal_name)
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
            stored = self._principal_name(conn, account_id, principal_type, principal_name)
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
            stored = self._principal_name(conn, account_id, principal_type, principal_name)
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

    # --- managed policies and versions ----------------------------------------------------------------

    @staticmethod
    def _policy_select() -> Select[Any]:
        counted = policy_attachments.alias("counted")  # the listing may join policy_attachments itself
        count = (
            select(func.count())
            .select_from(counted)
            .where(counted.c.policy_id == managed_policies.c.id)
            .correlate(managed_policies)
            .scalar_subquery()
        )
        return select(managed_policies, count.label("attachment_count"))

    @staticmethod
    def _to_policy(row: Any) -> ManagedPolicy:
        return ManagedPolicy(
            account_id=row.account_id,
            name=row.name,
            policy_id=row.policy_id,
            default_version_id=f"v{row.default_version}",
            created_at=row.created_at,
            updated_at=row.updated_at,
            path=row.path,
            description=row.description,
            attachment_count=int(row.attachment_count),
        )

    @staticmethod
    def _policy_row(conn: Connection, arn: str, *, lock: str | None = None) -> Any:
        """(id, default_version, last_version) of the policy; ResourceNotFoundError if absent."""
        mp = managed_policies
        stmt = select(mp.c.id, mp.c.default_version, mp.c.last_version).where(mp.c.arn == arn)
        if lock is not None:
            stmt = stmt.with_for_update(read=lock == "share")
        row = conn.execute(stmt).one_or_none()
        if row is None:
            raise _no_policy(arn)
        return row

    def create_managed_policy(self, policy: ManagedPolicy, document: str) -> None:
        """Creates the policy with version ``policy.default_version_id`` ("vN") holding ``document``; later
        versions continue at N + 1. ``attachment_count`` is ignored."""
        number = version_number(policy.default_version_id)
        if number is None:
            raise ValidationError(f"Invalid policy version id {policy.default_version_id!r}: expected v1, v2, ...")
        mp = managed_policies
        with self._write() as conn:
            taken = conn.execute(
                select(mp.c.name).where(
                    (mp.c.arn == policy.arn)
                    | ((mp.c.account_id == policy.account_id) & (mp.c.name_key == name_key(policy.name)))
                )
            ).first()
            if taken is not None:
                raise ConflictError(
                    f"A policy called {policy.name} already exists. Duplicate names are not allowed.",
                    resource_id=policy.name,
                    resource_type="policy",
                )
            try:
                policy_pk = conn.execute(
                    insert(mp)
                    .values(
                        arn=policy.arn,
                        account_id=policy.account_id,
                        name=policy.name,
                        name_key=name_key(policy.name),
                        policy_id=policy.policy_id,
                        path=policy.path,
                        description=policy.description,
                        default_version=number,
                        last_version=number,
                        created_at=policy.created_at,
                        updated_at=policy.updated_at,
                    )
                    .returning(mp.c.id)
                ).scalar_one()
            except IntegrityError as exc:
                raise ConflictError(
                    f"A policy called {policy.name} (or with id {policy.policy_id}) already exists.",
                    resource_id=policy.name,
                    resource_type="policy",
                ) from exc
            conn.execute(
                insert(policy_versions).values(
                    policy_id=policy_pk, number=number, document=document, created_at=policy.created_at
                )
            )

    def get_managed_policy(self, arn: str) -> ManagedPolicy | None:
        """With ``attachment_count`` filled in (attachments in every account)."""
        with self._read() as conn:
            row = conn.execute(self._policy_select().where(managed_policies.c.arn == arn)).one_or_none()
        return None if row is None else self._to_policy(row)

    def list_managed_policies(self, account_id: str | None, only_attached: bool = False) -> list[ManagedPolicy]:
        """``account_id`` None: every account's and AWS's; "aws": AWS managed only; an account id: that
        account's customer managed policies only. Ordered by name (then account)."""
        mp = managed_policies
        stmt = self._policy_select()
        if account_id is not None:
            stmt = stmt.where(mp.c.account_id == account_id)
        if only_attached:
            stmt = stmt.where(select(literal(1)).where(policy_attachments.c.policy_id == mp.c.id).exists())
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(mp.c.name, mp.c.account_id)).all()
        return [self._to_policy(r) for r in rows]

    def delete_managed_policy(self, arn: str) -> None:
        """ConflictError while attached or while it has versions besides the default one; the default version
        goes with it."""
        with self._write() as conn:
            row = self._policy_row(conn, arn, lock="update")
            attached = conn.execute(select(literal(1)).where(policy_attachments.c.policy_id == row.id).limit(1)).first()
            if attached is not None:
                raise ConflictError(
                    "Cannot delete a policy attached to entities.", resource_id=arn, resource_type="policy"
                )
            pv = policy_versions
            others = conn.execute(
                select(func.count()).where(pv.c.policy_id == row.id, pv.c.number != row.default_version)
            ).scalar_one()
            if others:
                raise ConflictError(
                    "This policy has more than one version. Before you delete a policy, you must delete the "
                    "policy's versions. The default version is deleted with the policy.",
                    resource_id=arn,
                    resource_type="policy",
                )
            try:
                conn.execute(delete(managed_policies).where(managed_policies.c.id == row.id))
            except IntegrityError as exc:  # attached meanwhile (cannot with the lock held)
                raise ConflictError(
                    "Cannot delete a policy attached to entities.", resource_id=arn, resource_type="policy"
                ) from exc

    def create_policy_version(self, arn: str, document: str, set_as_default: bool, created_at: float) -> PolicyVersion:
        """Next id ("v" + one more than the highest ever used); ConflictError (LimitExceeded) when the policy
        already has 5 versions. The policy's ``updated_at`` becomes ``created_at``."""
        pv = policy_versions
        with self._write() as conn:
            row = self._policy_row(conn, arn, lock="update")
            count = conn.execute(select(func.count()).where(pv.c.policy_id == row.id)).scalar_one()
            if count >= MAX_POLICY_VERSIONS:
                raise ConflictError(
                    f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new "
                    "version, you must delete an existing version.",
                    resource_id=arn,
                    resource_type="policy-version",
                )
            number = int(row.last_version) + 1
            conn.execute(insert(pv).values(policy_id=row.id, number=number, document=document, created_at=created_at))
            values: dict[str, Any] = {"last_version": number, "updated_at": created_at}
            if set_as_default:
                values["default_version"] = number
            conn.execute(update(managed_policies).where(managed_policies.c.id == row.id).values(**values))
        return PolicyVersion(
            policy_arn=arn, version_id=f"v{number}", document=document, is_default=set_as_default, created_at=created_at
        )

    def get_policy_version(self, arn: str, version_id: str) -> PolicyVersion | None:
        number = version_number(version_id)
        if number is None:
            return None
        mp, pv = managed_policies, policy_versions
        with self._read() as conn:
            row = conn.execute(
                select(pv.c.number, pv.c.document, pv.c.created_at, mp.c.default_version)
                .join(mp, mp.c.id == pv.c.policy_id)
                .where(mp.c.arn == arn, pv.c.number == number)
            ).one_or_none()
        return None if row is None else self._to_policy_version(arn, row)

    @staticmethod
    def _to_policy_version(arn: str, row: Any) -> PolicyVersion:
        return PolicyVersion(
            policy_arn=arn,
            version_id=f"v{row.number}",
            document=row.document,
            is_default=row.number == row.default_version,
            created_at=row.created_at,
        )

    def list_policy_versions(self, arn: str) -> list[PolicyVersion]:
        """Ordered by version number (v1, v2, ..., numerically)."""
        mp, pv = managed_policies, policy_versions
        with self._read() as conn:
            self._policy_row(conn, arn)
            rows = conn.execute(
                select(pv.c.number, pv.c.document, pv.c.created_at, mp.c.default_version)
                .join(mp, mp.c.id == pv.c.policy_id)
                .where(mp.c.arn == arn)
                .order_by(pv.c.number)
            ).all()
        return [self._to_policy_version(arn, r) for r in rows]

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        """ConflictError for the default version."""
        number = version_number(version_id)
        with self._write() as conn:
            row = self._policy_row(conn, arn, lock="update")
            if number is None:
                raise _no_version(arn, version_id)
            if number == row.default_version:
                raise ConflictError(
                    "Cannot delete the default version of a policy.",
                    resource_id=version_id,
                    resource_type="policy-version",
                )
            pv = policy_versions
            result = conn.execute(delete(pv).where(pv.c.policy_id == row.id, pv.c.number == number))
            if result.rowcount == 0:
                raise _no_version(arn, version_id)

    def set_default_policy_version(self, arn: str, version_id: str) -> None:
        number = version_number(version_id)
        pv = policy_versions
        with self._write() as conn:
            row = self._policy_row(conn, arn, lock="update")
            exists = (
                number is not None
                and conn.execute(select(literal(1)).where(pv.c.policy_id == row.id, pv.c.number == number)).first()
                is not None
            )
            if not exists:
                raise _no_version(arn, version_id)
            conn.execute(update(managed_policies).where(managed_policies.c.id == row.id).values(default_version=number))

    # --- attachments ----------------------------------------------------------------------------------

    def attach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """Idempotent; ResourceNotFoundError if the policy or principal does not exist."""
        with self._write() as conn:
            stored = self._principal_name(conn, account_id, principal_type, principal_name, lock="share")
            row = self._policy_row(conn, arn, lock="share")
            stmt = self._insert(policy_attachments).values(
                account_id=account_id, principal_type=principal_type, principal_name=stored, policy_id=row.id
            )
            conn.execute(stmt.on_conflict_do_nothing())

    def detach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """ResourceNotFoundError if the principal or policy does not exist or the policy is not attached."""
        pa = policy_attachments
        with self._write() as conn:
            stored = self._principal_name(conn, account_id, principal_type, principal_name)
            row = self._policy_row(conn, arn)
            result = conn.execute(
                delete(pa).where(
                    pa.c.account_id == account_id,
                    pa.c.principal_type == principal_type,
                    pa.c.principal_name == stored,
                    pa.c.policy_id == row.id,
                )
            )
            if result.rowcount == 0:
                raise ResourceNotFoundError(
                    f"Policy {arn} was not attached to {principal_type} {stored}.",
                    resource_id=arn,
                    resource_type="policy",
                )

    def list_attached_policies(
        self, account_id: str, principal_type: PrincipalType, principal_name: str
    ) -> list[ManagedPolicy]:
        """Ordered by policy name (then account)."""
        pa, mp = policy_attachments, managed_policies
        with self._read() as conn:
            stored = self._principal_name(conn, account_id, principal_type, principal_name)
            rows = conn.execute(
                self._policy_select()
                .join(pa, pa.c.policy_id == mp.c.id)
                .where(
                    pa.c.account_id == account_id, pa.c.principal_type == principal_type, pa.c.principal_name == stored
                )
                .order_by(mp.c.name, mp.c.account_id)
            ).all()
        return [self._to_policy(r) for r in rows]

    def list_policy_attachments(self, arn: str) -> list[tuple[str, PrincipalType, str]]:
        """Ordered by (account, principal type, principal name)."""
        pa = policy_attachments
        with self._read() as conn:
            row = self._policy_row(conn, arn)
            rows = conn.execute(
                select(pa.c.account_id, pa.c.principal_type, pa.c.principal_name)
                .where(pa.c.policy_id == row.id)
                .order_by(pa.c.account_id, pa.c.principal_type, pa.c.principal_name)
            ).all()
        return [(r.account_id, r.principal_type, r.principal_name) for r in rows]

    # --- access keys ----------------------------------------------------------------------------------

    def update_access_key_status(self, access_key_id: str, status: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(access_keys).where(access_keys.c.access_key_id == access_key_id).values(status=status)
            )
            if result.rowcount == 0:
                raise ResourceNotFoundError(
                    f"The Access Key with id {access_key_id} cannot be found.",
                    resource_id=access_key_id,
                    resource_type="access-key",
                )

    def record_access_key_use(self, access_key_id: str, when: float, service: str, region: str) -> None:
        """Best effort: a key that does not exist (any more) is ignored."""
        stmt = self._upsert(
            access_key_usage,
            [{"access_key_id": access_key_id, "used_at": when, "service": service, "region": region}],
            ["used_at", "service", "region"],
        )
        try:
            with self._write() as conn:
                conn.execute(stmt)
        except IntegrityError:
            pass

    def get_access_key_last_used(self, access_key_id: str) -> tuple[float, str, str] | None:
        with self._read() as conn:
            row = conn.execute(
                select(access_key_usage).where(access_key_usage.c.access_key_id == access_key_id)
            ).one_or_none()
        return None if row is None else (row.used_at, row.service, row.region)

    # --- STS sessions ---------------------------------------------------------------------------------

    def create_session(self, session: Session) -> None:
        """ConflictError if a session with that access key id exists."""
        try:
            with self._write() as conn:
                conn.execute(
                    insert(sessions).values(
                        access_key_id=session.access_key_id,
                        secret_access_key=self._seal_secret(
                            session.secret_access_key, session_secret_context(session.access_key_id)
                        ),
                        session_token=self._seal_secret(
                            session.session_token, session_token_context(session.access_key_id)
                        ),
                        account_id=session.account_id,
                        expires_at=session.expires_at,
                        issued_at=session.issued_at,
                        role_name=session.role_name,
                        session_name=session.session_name,
                        user_name=session.user_name,
                        source_arn=session.source_arn,
                        session_policy=session.session_policy,
                        session_policy_arns=json.dumps(list(session.session_policy_arns)),
                        tags=json.dumps(dict(session.tags), sort_keys=True),
                        chained=session.chained,
                        principal_id=session.principal_id,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"Session {session.access_key_id} already exists.",
                resource_id=session.access_key_id,
                resource_type="session",
            ) from exc

    def get_session(self, access_key_id: str) -> Session | None:
        """Also an expired one (the caller checks ``expires_at``)."""
        with self._read() as conn:
            row = conn.execute(select(sessions).where(sessions.c.access_key_id == access_key_id)).one_or_none()
        return None if row is None else self._to_session(row)

    def find_role_sessions(
        self, account_id: str, role_name: str, session_name: str, issued_second: int
    ) -> list[Session]:
        """Sessions of that role (name as stored in the session) with that RoleSessionName whose
        ``int(issued_at) == issued_second``, expired ones included; ordered by (issued_at, access key id)."""
        s = sessions
        with self._read() as conn:
            rows = conn.execute(
                select(s)
                .where(
                    s.c.account_id == account_id,
                    s.c.role_name == role_name,
                    s.c.session_name == session_name,
                    s.c.issued_at >= issued_second,
                    s.c.issued_at < issued_second + 1,
                )
                .order_by(s.c.issued_at, s.c.access_key_id)
            ).all()
        return [self._to_session(r) for r in rows]

    def _to_session(self, row: Any) -> Session:
        return Session(
            access_key_id=row.access_key_id,
            secret_access_key=self._open_secret(row.secret_access_key, session_secret_context(row.access_key_id)),
            session_token=self._open_secret(row.session_token, session_token_context(row.access_key_id)),
            account_id=row.account_id,
            expires_at=row.expires_at,
            issued_at=row.issued_at,
            role_name=row.role_name,
            session_name=row.session_name,
            user_name=row.user_name,
            source_arn=row.source_arn,
            session_policy=row.session_policy,
            session_policy_arns=tuple(json.loads(row.session_policy_arns)),
            tags=dict(json.loads(row.tags)),
            chained=bool(row.chained),
            principal_id=row.principal_id,
        )

    def delete_expired_sessions(self, now: float) -> int:
        """Deletes sessions with ``expires_at <= now``; returns how many."""
        with self._write() as conn:
            result = conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
        return int(result.rowcount)


__all__ = ["MAX_POLICY_VERSIONS", "SqlIamMixin", "name_key", "version_number"]
