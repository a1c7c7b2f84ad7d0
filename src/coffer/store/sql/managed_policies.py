"""Managed policies (AWS's and customer managed), their versions, and their attachments to principals.

Each method raises one kind of ``ConflictError`` only: ``create_managed_policy``: EntityAlreadyExists;
``delete_*``: DeleteConflict; ``create_policy_version``: LimitExceeded. Locks as in ``principals``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sqlalchemy import Connection, Select, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from coffer.core.identity.iam_models import ManagedPolicy, PolicyVersion, PrincipalType
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.store.schema import managed_policies, policy_attachments, policy_versions
from coffer.store.sql.base import SqlBase
from coffer.store.sql.principals import name_key, stored_name
from coffer.store.sql.resource_extras import drop_resource_extras

MAX_POLICY_VERSIONS: Final = 5

_VERSION_ID = re.compile(r"v([1-9][0-9]{0,8})")


def version_number(version_id: str) -> int | None:
    """N of "vN", None for anything else."""
    match = _VERSION_ID.fullmatch(version_id)
    return None if match is None else int(match.group(1))


def _no_policy(arn: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"Policy {arn} was not found.", resource_id=arn, resource_type="policy")


def _no_version(arn: str, version_id: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Policy {arn} version {version_id} does not exist.", resource_id=version_id, resource_type="policy-version"
    )


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


def _to_policy_version(arn: str, row: Any) -> PolicyVersion:
    return PolicyVersion(
        policy_arn=arn,
        version_id=f"v{row.number}",
        document=row.document,
        is_default=row.number == row.default_version,
        created_at=row.created_at,
    )


class SqlManagedPolicies(SqlBase):
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
            row = conn.execute(_policy_select().where(managed_policies.c.arn == arn)).one_or_none()
        return None if row is None else _to_policy(row)

    def list_managed_policies(self, account_id: str | None, only_attached: bool = False) -> list[ManagedPolicy]:
        """``account_id`` None: every account's and AWS's; "aws": AWS managed only; an account id: that
        account's customer managed policies only. Ordered by name (then account)."""
        mp = managed_policies
        stmt = _policy_select()
        if account_id is not None:
            stmt = stmt.where(mp.c.account_id == account_id)
        if only_attached:
            stmt = stmt.where(select(literal(1)).where(policy_attachments.c.policy_id == mp.c.id).exists())
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(mp.c.name, mp.c.account_id)).all()
        return [_to_policy(r) for r in rows]

    def delete_managed_policy(self, arn: str) -> None:
        """ConflictError while attached or while it has versions besides the default one; the default version
        goes with it, and its tags."""
        with self._write() as conn:
            row = _policy_row(conn, arn, lock="update")
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
            drop_resource_extras(conn, arn)  # its tags
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
            row = _policy_row(conn, arn, lock="update")
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
        return None if row is None else _to_policy_version(arn, row)

    def list_policy_versions(self, arn: str) -> list[PolicyVersion]:
        """Ordered by version number (v1, v2, ..., numerically)."""
        mp, pv = managed_policies, policy_versions
        with self._read() as conn:
            _policy_row(conn, arn)
            rows = conn.execute(
                select(pv.c.number, pv.c.document, pv.c.created_at, mp.c.default_version)
                .join(mp, mp.c.id == pv.c.policy_id)
                .where(mp.c.arn == arn)
                .order_by(pv.c.number)
            ).all()
        return [_to_policy_version(arn, r) for r in rows]

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        """ConflictError for the default version."""
        number = version_number(version_id)
        with self._write() as conn:
            row = _policy_row(conn, arn, lock="update")
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
            row = _policy_row(conn, arn, lock="update")
            exists = (
                number is not None
                and conn.execute(select(literal(1)).where(pv.c.policy_id == row.id, pv.c.number == number)).first()
                is not None
            )
            if not exists:
                raise _no_version(arn, version_id)
            conn.execute(update(managed_policies).where(managed_policies.c.id == row.id).values(default_version=number))

    def attach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """Idempotent; ResourceNotFoundError if the policy or principal does not exist."""
        with self._write() as conn:
            stored = stored_name(conn, account_id, principal_type, principal_name, lock="share")
            row = _policy_row(conn, arn, lock="share")
            stmt = self._insert(policy_attachments).values(
                account_id=account_id, principal_type=principal_type, principal_name=stored, policy_id=row.id
            )
            conn.execute(stmt.on_conflict_do_nothing())

    def detach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """ResourceNotFoundError if the principal or policy does not exist or the policy is not attached."""
        pa = policy_attachments
        with self._write() as conn:
            stored = stored_name(conn, account_id, principal_type, principal_name)
            row = _policy_row(conn, arn)
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
            stored = stored_name(conn, account_id, principal_type, principal_name)
            rows = conn.execute(
                _policy_select()
                .join(pa, pa.c.policy_id == mp.c.id)
                .where(
                    pa.c.account_id == account_id, pa.c.principal_type == principal_type, pa.c.principal_name == stored
                )
                .order_by(mp.c.name, mp.c.account_id)
            ).all()
        return [_to_policy(r) for r in rows]

    def list_policy_attachments(self, arn: str) -> list[tuple[str, PrincipalType, str]]:
        """Ordered by (account, principal type, principal name)."""
        pa = policy_attachments
        with self._read() as conn:
            row = _policy_row(conn, arn)
            rows = conn.execute(
                select(pa.c.account_id, pa.c.principal_type, pa.c.principal_name)
                .where(pa.c.policy_id == row.id)
                .order_by(pa.c.account_id, pa.c.principal_type, pa.c.principal_name)
            ).all()
        return [(r.account_id, r.principal_type, r.principal_name) for r in rows]
