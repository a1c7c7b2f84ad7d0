"""IAM roles: their trust policies and session limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_common import IamBase, check_document, iam_arn, under
from coffer.core.identity.iam_errors import DeleteConflictError, EntityAlreadyExistsError
from coffer.core.identity.iam_models import Role
from coffer.core.identity.identity_ids import new_role_id
from coffer.core.shared.aws_limits import ONE_HOUR


class RoleAdmin(IamBase):
    def create_role(
        self,
        caller: Caller,
        name: str,
        trust_policy: str,
        *,
        path: str = "/",
        description: str = "",
        max_session_duration: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Role:
        duration = ONE_HOUR if max_session_duration is None else max_session_duration
        check_document(trust_policy, "trust", "ACLSizePerRole")
        arn = iam_arn(caller.account_id, "role", name, path)
        self._require(caller, "CreateRole", arn)
        if self._store.get_role(caller.account_id, name) is not None:
            raise EntityAlreadyExistsError(f"Role with name {name} already exists.")
        role = Role(
            account_id=caller.account_id,
            name=name,
            role_id=new_role_id(),
            trust_policy=trust_policy,
            created_at=self._clock(),
            path=path,
            description=description,
            max_session_duration=duration,
        )
        with self._store_errors():
            self._store.create_role(role)
        self._tag(role.arn, tags)
        return role

    def get_role(self, caller: Caller, name: str) -> Role:
        return self._role(caller, "GetRole", name)

    def list_roles(self, caller: Caller, path_prefix: str | None = None) -> list[Role]:
        self._require(caller, "ListRoles", "*")
        return [r for r in self._store.list_roles(caller.account_id) if under(r.path, path_prefix)]

    def update_role(
        self, caller: Caller, name: str, *, description: str | None = None, max_session_duration: int | None = None
    ) -> Role:
        role = self._role(caller, "UpdateRole", name)
        return self._update(
            replace(
                role,
                description=role.description if description is None else description,
                max_session_duration=role.max_session_duration
                if max_session_duration is None
                else max_session_duration,
            )
        )

    def update_assume_role_policy(self, caller: Caller, name: str, document: str) -> Role:
        check_document(document, "trust", "ACLSizePerRole")
        role = self._role(caller, "UpdateAssumeRolePolicy", name)
        return self._update(replace(role, trust_policy=document))

    def _update(self, updated: Role) -> Role:
        with self._store_errors():
            self._store.update_role(updated)
        self._changed()
        return updated

    def delete_role(self, caller: Caller, name: str) -> None:
        self._role(caller, "DeleteRole", name)
        if self._store.list_inline_policies(caller.account_id, "role", name):
            raise DeleteConflictError("Cannot delete entity, must delete policies first.")
        if self._store.list_attached_policies(caller.account_id, "role", name):
            raise DeleteConflictError("Cannot delete entity, must detach all policies first.")
        with self._store_errors(DeleteConflictError):
            self._store.delete_role(caller.account_id, name)
        self._changed()
