"""Accounts, users, their access keys (with state and last use) and their inline policies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from coffer.core.identity.iam_models import AccessKey, Account, NamedPolicy, User
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError
from coffer.store.schema import access_key_usage, access_keys, accounts, group_members, user_policies, users
from coffer.store.secrets import key_secret_context
from coffer.store.sql.base import SqlBase, from_row, row_values, violation
from coffer.store.sql.principals import delete_attachments, has_attachments, has_inline
from coffer.store.sql.resource_extras import drop_resource_extras


def _user_exists(conn: Connection, account_id: str, name: str) -> bool:
    return (
        conn.execute(select(users.c.name).where(users.c.account_id == account_id, users.c.name == name)).first()
        is not None
    )


def _no_user(account_id: str, name: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"The user with name {name} cannot be found in account {account_id}.", resource_id=name
    )


def _to_user(row: Any) -> User:
    return from_row(User, row)


def _refuse_delete_in_use(conn: Connection, account_id: str, name: str) -> None:
    """IAM's DeleteConflict of a user that still has keys, policies or groups."""
    ak, gm = access_keys, group_members
    if conn.execute(select(literal(1)).where(ak.c.account_id == account_id, ak.c.user_name == name).limit(1)).first():
        reason = "must delete access keys first"
    elif has_inline(conn, account_id, "user", name):
        reason = "must delete policies first"
    elif has_attachments(conn, account_id, "user", name):
        reason = "must detach all policies first"
    elif conn.execute(select(literal(1)).where(gm.c.account_id == account_id, gm.c.user_name == name).limit(1)).first():
        reason = "must remove user from all groups first"
    else:
        return
    raise ConflictError(f"Cannot delete entity, {reason}.", resource_id=name, resource_type="user")


class SqlAccounts(SqlBase):
    def create_account(self, account: Account) -> None:
        with self._write() as conn:
            try:
                conn.execute(insert(accounts).values(account_id=account.account_id, created_at=account.created_at))
            except IntegrityError as exc:
                raise ConflictError(
                    f"Account {account.account_id} already exists", resource_id=account.account_id
                ) from exc

    def get_account(self, account_id: str) -> Account | None:
        with self._read() as conn:
            row = conn.execute(select(accounts).where(accounts.c.account_id == account_id)).one_or_none()
        return None if row is None else Account(account_id=row.account_id, created_at=row.created_at)

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.account_id)).all()
        return [Account(account_id=r.account_id, created_at=r.created_at) for r in rows]

    def create_user(self, user: User) -> None:
        with self._write() as conn:
            if _user_exists(conn, user.account_id, user.name):
                raise ConflictError(f"User with name {user.name} already exists.", resource_id=user.name)
            try:
                conn.execute(insert(users).values(row_values(user, users)))
            except IntegrityError as exc:
                if violation(exc) == "foreign_key":
                    raise ResourceNotFoundError(
                        f"Account {user.account_id} not found", resource_id=user.account_id
                    ) from exc
                # the name was free a moment ago: the user id is taken (or the name just got taken)
                raise ConflictError(
                    f"User id {user.user_id} or name {user.name} is already in use.", resource_id=user.name
                ) from exc

    def get_user(self, account_id: str, name: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(
                select(users).where(users.c.account_id == account_id, users.c.name == name)
            ).one_or_none()
        return None if row is None else _to_user(row)

    def list_users(self, account_id: str) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(select(users).where(users.c.account_id == account_id).order_by(users.c.name)).all()
        return [_to_user(r) for r in rows]

    def delete_user(self, account_id: str, name: str, *, cascade: bool = True) -> None:
        """Deletes the user and its tags in one transaction. ``cascade``: with its access keys (and their last use),
        inline policies, group memberships and policy attachments; otherwise ConflictError (IAM's DeleteConflict)
        while any of these remain, checked in that order with the user's row locked."""
        with self._write() as conn:
            # the row lock makes concurrent writers that need the user (attach_policy and add_user_to_group
            # hold it FOR SHARE, new keys and inline policies reference it) wait and then fail
            locked = conn.execute(
                select(users).where(users.c.account_id == account_id, users.c.name == name).with_for_update()
            ).first()
            if locked is None:
                raise _no_user(account_id, name)
            if not cascade:
                _refuse_delete_in_use(conn, account_id, name)
            delete_attachments(conn, account_id, name)
            drop_resource_extras(conn, from_row(User, locked).arn)  # its tags, so a namesake starts without them
            conn.execute(delete(users).where(users.c.account_id == account_id, users.c.name == name))

    def _to_key(self, row: Any) -> AccessKey:
        secret = self._open_secret(row.secret_access_key, key_secret_context(row.access_key_id))
        return from_row(AccessKey, row, secret_access_key=secret)

    def create_access_key(self, key: AccessKey) -> None:
        """The key is bound to the user's current unique id (read in the same transaction)."""
        with self._write() as conn:
            user_id = None
            if key.user_name is not None:
                user_id = conn.execute(
                    select(users.c.user_id).where(users.c.account_id == key.account_id, users.c.name == key.user_name)
                ).scalar_one_or_none()
                if user_id is None:
                    raise _no_user(key.account_id, key.user_name)
            try:
                conn.execute(
                    insert(access_keys).values(
                        row_values(
                            key,
                            access_keys,
                            secret_access_key=self._seal_secret(
                                key.secret_access_key, key_secret_context(key.access_key_id)
                            ),
                            user_id=user_id,
                        )
                    )
                )
            except IntegrityError as exc:
                if violation(exc) == "foreign_key":
                    raise _no_user(key.account_id, key.user_name or "") from exc
                raise ConflictError(
                    f"Access key {key.access_key_id} already exists", resource_id=key.access_key_id
                ) from exc

    def get_access_key(self, access_key_id: str) -> AccessKey | None:
        with self._read() as conn:
            row = conn.execute(select(access_keys).where(access_keys.c.access_key_id == access_key_id)).one_or_none()
        return None if row is None else self._to_key(row)

    def list_access_keys(self, account_id: str, user_name: str) -> list[AccessKey]:
        """Ordered by creation time, then id."""
        with self._read() as conn:
            rows = conn.execute(
                select(access_keys)
                .where(access_keys.c.account_id == account_id, access_keys.c.user_name == user_name)
                .order_by(access_keys.c.created_at, access_keys.c.access_key_id)
            ).all()
        return [self._to_key(r) for r in rows]

    def delete_access_key(self, access_key_id: str) -> None:
        with self._write() as conn:
            result = conn.execute(delete(access_keys).where(access_keys.c.access_key_id == access_key_id))
            if result.rowcount == 0:
                raise ResourceNotFoundError(
                    f"The Access Key with id {access_key_id} cannot be found.", resource_id=access_key_id
                )

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

    def put_user_policy(self, account_id: str, user_name: str, policy: NamedPolicy) -> None:
        with self._write() as conn:
            if not _user_exists(conn, account_id, user_name):
                raise _no_user(account_id, user_name)
            stmt = self._upsert(
                user_policies,
                [
                    {
                        "account_id": account_id,
                        "user_name": user_name,
                        "name": policy.name,
                        "document": policy.document,
                    }
                ],
                ["document"],
            )
            try:
                conn.execute(stmt)
            except IntegrityError as exc:  # the user went away meanwhile
                raise _no_user(account_id, user_name) from exc

    def list_user_policies(self, account_id: str, user_name: str) -> list[NamedPolicy]:
        with self._read() as conn:
            rows = conn.execute(
                select(user_policies.c.name, user_policies.c.document)
                .where(user_policies.c.account_id == account_id, user_policies.c.user_name == user_name)
                .order_by(user_policies.c.name)
            ).all()
        return [NamedPolicy(name=r.name, document=r.document) for r in rows]

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                delete(user_policies).where(
                    user_policies.c.account_id == account_id,
                    user_policies.c.user_name == user_name,
                    user_policies.c.name == policy_name,
                )
            )
            if result.rowcount == 0:
                if not _user_exists(conn, account_id, user_name):
                    raise _no_user(account_id, user_name)
                raise ResourceNotFoundError(
                    f"The user policy with name {policy_name} cannot be found.", resource_id=policy_name
                )
