"""IAM groups and their members."""

from __future__ import annotations

from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_common import MAX_GROUPS_PER_USER, IamBase, iam_arn, under
from coffer.core.identity.iam_errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    LimitExceededError,
    NoSuchEntityError,
)
from coffer.core.identity.iam_models import Group, User
from coffer.core.identity.identity_ids import new_group_id


class GroupAdmin(IamBase):
    def create_group(self, caller: Caller, name: str, path: str = "/") -> Group:
        self._require(caller, "CreateGroup", iam_arn(caller.account_id, "group", name, path))
        if self._store.get_group(caller.account_id, name) is not None:
            raise EntityAlreadyExistsError(f"Group with name {name} already exists.")
        group = Group(
            account_id=caller.account_id, name=name, group_id=new_group_id(), created_at=self._clock(), path=path
        )
        with self._store_errors():
            self._store.create_group(group)
        return group

    def get_group(self, caller: Caller, name: str) -> tuple[Group, list[User]]:
        group = self._group(caller, "GetGroup", name)
        return group, self._store.list_group_members(caller.account_id, name)

    def list_groups(self, caller: Caller, path_prefix: str | None = None) -> list[Group]:
        self._require(caller, "ListGroups", "*")
        return [g for g in self._store.list_groups(caller.account_id) if under(g.path, path_prefix)]

    def delete_group(self, caller: Caller, name: str) -> None:
        self._group(caller, "DeleteGroup", name)
        account = caller.account_id
        if self._store.list_group_members(account, name):
            raise DeleteConflictError("Cannot delete entity, must remove users from group first.")
        if self._store.list_inline_policies(account, "group", name):
            raise DeleteConflictError("Cannot delete entity, must delete policies first.")
        if self._store.list_attached_policies(account, "group", name):
            raise DeleteConflictError("Cannot delete entity, must detach all policies first.")
        with self._store_errors(DeleteConflictError):
            self._store.delete_group(account, name)
        self._changed()

    def add_user_to_group(self, caller: Caller, group_name: str, user_name: str) -> None:
        self._group(caller, "AddUserToGroup", group_name)
        if self._store.get_user(caller.account_id, user_name) is None:
            raise NoSuchEntityError(f"The user with name {user_name} cannot be found.")
        groups = self._store.list_groups_for_user(caller.account_id, user_name)
        if group_name in {g.name for g in groups}:
            return
        if len(groups) >= MAX_GROUPS_PER_USER:
            raise LimitExceededError(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
        with self._store_errors():
            self._store.add_user_to_group(caller.account_id, group_name, user_name)
        self._changed()

    def remove_user_from_group(self, caller: Caller, group_name: str, user_name: str) -> None:
        self._group(caller, "RemoveUserFromGroup", group_name)
        members = {u.name for u in self._store.list_group_members(caller.account_id, group_name)}
        if user_name not in members:
            raise NoSuchEntityError(f"The user with name {user_name} cannot be found.")
        with self._store_errors():
            self._store.remove_user_from_group(caller.account_id, group_name, user_name)
        self._changed()

    def list_groups_for_user(self, caller: Caller, user_name: str) -> list[Group]:
        self._user(caller, "ListGroupsForUser", user_name)
        return self._store.list_groups_for_user(caller.account_id, user_name)
