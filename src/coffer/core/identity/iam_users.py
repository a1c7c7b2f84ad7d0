"""IAM users and their access keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_common import (
    MAX_ACCESS_KEYS_PER_USER,
    IamBase,
    constraint_message,
    iam_arn,
    under,
)
from coffer.core.identity.iam_errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    IamValidationError,
    LimitExceededError,
    NoSuchEntityError,
)
from coffer.core.identity.iam_models import AccessKey, Account, User
from coffer.core.identity.identity_ids import new_access_key_id, new_secret_access_key, new_user_id
from coffer.core.shared.arns import root_arn
from coffer.core.shared.errors import ConflictError

_NOT_A_USER = "Must specify userName when calling with non-User credentials"


@dataclass(frozen=True)
class AccessKeyLastUsed:
    user_name: str | None
    last_used_at: float | None  # None: never used (IAM answers ServiceName/Region "N/A")
    service_name: str
    region: str


class UserAdmin(IamBase):
    # --- users ------------------------------------------------------------------------------------------------

    def create_user(self, caller: Caller, name: str, path: str = "/", tags: Mapping[str, str] | None = None) -> User:
        arn = iam_arn(caller.account_id, "user", name, path)
        self._require(caller, "CreateUser", arn)
        if self._store.get_user(caller.account_id, name) is not None:
            raise EntityAlreadyExistsError(f"User with name {name} already exists.")
        user = User(
            account_id=caller.account_id,
            name=name,
            user_id=new_user_id(),
            created_at=self._clock(),
            path=path,
        )
        with self._store_errors():
            self._store.create_user(user)
        self._tag(user.arn, tags)
        return user

    def get_user(self, caller: Caller, name: str | None = None) -> User | Account:
        """``name`` None: the caller itself (the Account for the root user)."""
        if name is None:
            if caller.is_root:
                self._require(caller, "GetUser", caller.arn)
                account = self._store.get_account(caller.account_id)
                if account is None:
                    raise NoSuchEntityError(f"Account {caller.account_id} cannot be found.")
                return account
            if caller.kind != "user" or caller.user_name is None:
                raise IamValidationError(_NOT_A_USER)
            name = caller.user_name
        return self._user(caller, "GetUser", name)

    def list_users(self, caller: Caller, path_prefix: str | None = None) -> list[User]:
        self._require(caller, "ListUsers", "*")
        return [u for u in self._store.list_users(caller.account_id) if under(u.path, path_prefix)]

    def delete_user(self, caller: Caller, name: str, *, cascade: bool = False) -> None:
        """IAM's DeleteUser refuses a user with keys, policies or groups (DeleteConflict); ``cascade`` (the admin
        command) removes them first."""
        self._user(caller, "DeleteUser", name)
        with self._store_errors(DeleteConflictError):  # one transaction: the store refuses or removes it all
            self._store.delete_user(caller.account_id, name, cascade=cascade)
        self._changed()

    # --- access keys ------------------------------------------------------------------------------------------

    def _key_owner(self, caller: Caller, action: str, user_name: str | None) -> str | None:
        """The user whose keys an access-key operation works on (None: the root user's own keys)."""
        if user_name is not None:
            self._user(caller, action, user_name)
            return user_name
        if caller.is_root:
            self._require(caller, action, caller.arn)
            return None
        if caller.kind != "user" or caller.user_name is None:
            raise IamValidationError(_NOT_A_USER)
        return self._user(caller, action, caller.user_name).name

    def _owned_key(self, caller: Caller, access_key_id: str, owner: str | None) -> AccessKey:
        key = self._store.get_access_key(access_key_id)
        if key is None or key.account_id != caller.account_id or key.user_name != owner:
            raise NoSuchEntityError(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    def create_access_key(self, caller: Caller, user_name: str | None = None) -> AccessKey:
        """A key of ``user_name`` (or of the caller: an IAM user's own, or the root user's, which AWS
        discourages and Coffer has for tests of that)."""
        owner = self._key_owner(caller, "CreateAccessKey", user_name)
        if (
            owner is not None
            and len(self._store.list_access_keys(caller.account_id, owner)) >= MAX_ACCESS_KEYS_PER_USER
        ):
            raise LimitExceededError(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}")
        key = AccessKey(
            access_key_id=new_access_key_id(),
            secret_access_key=new_secret_access_key(),
            account_id=caller.account_id,
            user_name=owner,
            created_at=self._clock(),
        )
        try:
            self._store.create_access_key(key)
        except ConflictError as exc:
            raise LimitExceededError(exc.message) from exc
        self._changed()
        return key

    def list_access_keys(self, caller: Caller, user_name: str | None = None) -> list[AccessKey]:
        owner = self._key_owner(caller, "ListAccessKeys", user_name)
        if owner is None:
            raise IamValidationError("Must specify userName: Coffer does not list root keys")
        return self._store.list_access_keys(caller.account_id, owner)

    def update_access_key(self, caller: Caller, access_key_id: str, status: str, user_name: str | None = None) -> None:
        if status not in ("Active", "Inactive"):  # the model's enum also has Expired, which no one may set
            raise IamValidationError(
                constraint_message("status", status, "Member must satisfy enum value set: [Active, Inactive]")
            )
        owner = self._key_owner(caller, "UpdateAccessKey", user_name)
        self._owned_key(caller, access_key_id, owner)
        with self._store_errors():
            self._store.update_access_key_status(access_key_id, status)
        self._changed()

    def delete_access_key(self, caller: Caller, access_key_id: str, user_name: str | None = None) -> None:
        owner = self._key_owner(caller, "DeleteAccessKey", user_name)
        self._owned_key(caller, access_key_id, owner)
        with self._store_errors():
            self._store.delete_access_key(access_key_id)
        self._changed()

    def get_access_key_last_used(self, caller: Caller, access_key_id: str) -> AccessKeyLastUsed:
        key = self._store.get_access_key(access_key_id)
        if key is None or key.account_id != caller.account_id:
            self._require(caller, "GetAccessKeyLastUsed", "*")
            raise NoSuchEntityError(f"The Access Key with id {access_key_id} cannot be found.")
        user = None if key.user_name is None else self._store.get_user(key.account_id, key.user_name)
        if user is not None:
            owner_arn = user.arn
        elif key.user_name is not None:
            owner_arn = iam_arn(key.account_id, "user", key.user_name)
        else:
            owner_arn = root_arn(key.account_id)
        self._require(caller, "GetAccessKeyLastUsed", owner_arn)
        used = self._store.get_access_key_last_used(access_key_id)
        if used is None:
            return AccessKeyLastUsed(key.user_name, None, "N/A", "N/A")
        when, service, region = used
        return AccessKeyLastUsed(key.user_name, when, service, region)
