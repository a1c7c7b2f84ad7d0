"""IAM: users, groups, access keys, roles, inline and managed policies, attachments, with IAM's validation and
error codes. Every operation authorizes its caller with ``iam:<Action>`` on the entity's ARN (``*`` for listings).

The query wire (``coffer.aws.handlers.iam``) and ``coffer admin`` both call this service; the admin commands act
as the account's root user, which holds every permission in its own account.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_errors import (
    AwsCodedError,
    delete_conflict,
    entity_already_exists,
    invalid_input,
    limit_exceeded,
    no_such_entity,
)
from coffer.core.identity.iam_models import (
    AWS_MANAGED,
    AccessKey,
    Account,
    Group,
    ManagedPolicy,
    NamedPolicy,
    PolicyVersion,
    PrincipalType,
    Role,
    User,
)
from coffer.core.identity.identity_store import IdentityBackend
from coffer.core.identity.key_resolution import IdentityService, new_user_id
from coffer.core.identity.managed_policies import MAX_POLICY_VERSIONS, ensure_aws_managed_policies
from coffer.core.policy import DEFAULT_MAX_SIZE, PolicyKind, parse_policy, policy_size
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError

PolicyScope = Literal["All", "AWS", "Local"]
EntityFilter = Literal["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]

# IAM's patterns (botocore's iam model: userNameType, roleNameType, groupNameType, policyNameType, pathType,
# policyPathType, policyVersionIdType); \w is ASCII in IAM's (Java) regular expressions.
_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_NAME_PATTERN = r"[\w+=,.@-]+"
_PATH = re.compile(r"/|/[\x21-\x7e]+/")
_PATH_PATTERN = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
_POLICY_PATH = re.compile(r"(/[A-Za-z0-9.,+@=_-]+)*/")
_POLICY_PATH_PATTERN = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/"
_VERSION_ID = re.compile(r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?")
_DESCRIPTION = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]*")
_ACCOUNT_ID = re.compile(r"\d{12}")
_POLICY_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):policy(/(?:[^/]+/)*)([^/]+)")

MIN_SESSION_DURATION = 3600
MAX_SESSION_DURATION = 43200
MAX_ACCESS_KEYS_PER_USER = 2
MAX_GROUPS_PER_USER = 10
MAX_ATTACHED_POLICIES = 10  # per user, group or role (IAM's default quota)
#: Aggregate inline policy size per principal, whitespace not counted (IAM's quotas).
INLINE_POLICY_QUOTA: Mapping[PrincipalType, int] = {"user": 2048, "group": 5120, "role": 10240}

_ID_ALPHABET = string.ascii_uppercase + "234567"


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def new_role_id() -> str:
    return _new_id("AROA")


def new_group_id() -> str:
    return _new_id("AGPA")


def new_policy_id() -> str:
    return _new_id("ANPA")


# --- validation ------------------------------------------------------------------------------------------------


def validation_error(field: str, value: object, constraint: str) -> AwsCodedError:
    """IAM's ``ValidationError`` (400) in AWS's usual wording."""
    return AwsCodedError(
        "ValidationError",
        400,
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}",
    )


def _check_length(field: str, value: str, low: int, high: int) -> None:
    if len(value) < low:
        raise validation_error(field, value, f"Member must have length greater than or equal to {low}")
    if len(value) > high:
        raise validation_error(field, value, f"Member must have length less than or equal to {high}")


def validate_name(field: str, value: str, max_length: int) -> None:
    _check_length(field, value, 1, max_length)
    if not _NAME.fullmatch(value):
        raise validation_error(field, value, f"Member must satisfy regular expression pattern: {_NAME_PATTERN}")


def validate_path(field: str, value: str, *, policy: bool = False) -> None:
    _check_length(field, value, 1, 512)
    pattern, text = (_POLICY_PATH, _POLICY_PATH_PATTERN) if policy else (_PATH, _PATH_PATTERN)
    if not pattern.fullmatch(value):
        raise validation_error(field, value, f"Member must satisfy regular expression pattern: {text}")


def validate_description(field: str, value: str) -> None:
    _check_length(field, value, 0, 1000)
    if not _DESCRIPTION.fullmatch(value):
        raise validation_error(
            field, value, "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]*"
        )


def validate_max_session_duration(value: int) -> None:
    if value < MIN_SESSION_DURATION:
        raise validation_error(
            "maxSessionDuration", value, f"Member must have value greater than or equal to {MIN_SESSION_DURATION}"
        )
    if value > MAX_SESSION_DURATION:
        raise validation_error(
            "maxSessionDuration", value, f"Member must have value less than or equal to {MAX_SESSION_DURATION}"
        )


def validate_version_id(value: str) -> None:
    if not _VERSION_ID.fullmatch(value):
        raise validation_error(
            "versionId", value, "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
        )


def check_document(document: str, kind: PolicyKind, quota: str, limit: int | None = None) -> None:
    """Validate a policy document: over IAM's size quota is LimitExceeded (as IAM answers), anything else wrong
    with it MalformedPolicyDocument."""
    limit = DEFAULT_MAX_SIZE[kind] if limit is None else limit
    if isinstance(document, str) and policy_size(document, kind) > limit:
        raise limit_exceeded(f"Cannot exceed quota for {quota}: {limit}")
    parse_policy(document, kind, max_size=limit)


def parse_policy_arn(arn: str) -> tuple[str, str, str]:
    """(account id or "aws", path, name) of a managed policy ARN; InvalidInput when it is not one."""
    m = _POLICY_ARN.fullmatch(arn)
    if m is None:
        raise invalid_input(f"ARN {arn} is not valid.")
    return m.group(1), m.group(2), m.group(3)


def _under(path: str, prefix: str | None) -> bool:
    return not prefix or path.startswith(prefix)


# --- results ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessKeyLastUsed:
    user_name: str | None
    last_used_at: float | None  # None: never used (IAM answers ServiceName/Region "N/A")
    service_name: str
    region: str


@dataclass(frozen=True)
class PolicyEntities:
    users: tuple[User, ...]
    groups: tuple[Group, ...]
    roles: tuple[Role, ...]


_LABEL: Mapping[PrincipalType, str] = {"user": "User", "group": "Group", "role": "Role"}


class IamService:
    def __init__(
        self, store: IdentityBackend, identities: IdentityService, authorizer: Authorizer, clock: Clock
    ) -> None:
        self._store = store
        self._identities = identities
        self._authz = authorizer
        self._clock = clock

    # --- shared -----------------------------------------------------------------------------------------------

    def _require(self, caller: Caller, action: str, resource: str, extra: Mapping[str, str] | None = None) -> None:
        self._authz.require(caller, f"iam:{action}", resource, extra_context=extra)

    def _changed(self) -> None:
        """Identities cache their policies for a second: drop them now for changes made through this process."""
        self._identities.invalidate()

    @staticmethod
    @contextmanager
    def _store_errors(conflict: str = "EntityAlreadyExists") -> Iterator[None]:
        """The store's generic errors as IAM's codes (races between a check here and the store's write)."""
        try:
            yield
        except ResourceNotFoundError as exc:
            raise no_such_entity(exc.message) from exc
        except ConflictError as exc:
            raise AwsCodedError(conflict, 409, exc.message) from exc

    @staticmethod
    def _arn(account_id: str, kind: str, name: str, path: str = "/") -> str:
        return f"arn:aws:iam::{account_id}:{kind}{path}{name}"

    def _entity(self, account_id: str, kind: PrincipalType, name: str) -> User | Group | Role | None:
        if kind == "user":
            return self._store.get_user(account_id, name)
        if kind == "group":
            return self._store.get_group(account_id, name)
        return self._store.get_role(account_id, name)

    def _authorized_entity(self, caller: Caller, action: str, kind: PrincipalType, name: str) -> User | Group | Role:
        """Look the principal up, authorize ``action`` on its ARN, then insist that it exists."""
        entity = self._entity(caller.account_id, kind, name)
        arn = entity.arn if entity is not None else self._arn(caller.account_id, kind, name)
        self._require(caller, action, arn)
        if entity is None:
            raise no_such_entity(f"The {kind} with name {name} cannot be found.")
        return entity

    def _user(self, caller: Caller, action: str, name: str) -> User:
        entity = self._authorized_entity(caller, action, "user", name)
        assert isinstance(entity, User)
        return entity

    def _group(self, caller: Caller, action: str, name: str) -> Group:
        entity = self._authorized_entity(caller, action, "group", name)
        assert isinstance(entity, Group)
        return entity

    def _role(self, caller: Caller, action: str, name: str) -> Role:
        entity = self._authorized_entity(caller, action, "role", name)
        assert isinstance(entity, Role)
        return entity

    def _tag(self, arn: str, tags: Mapping[str, str] | None) -> None:
        if tags:
            self._store.tag_resource(arn, tags)

    def _untag_all(self, arn: str) -> None:
        keys = list(self._store.get_tags(arn))
        if keys:
            self._store.untag_resource(arn, keys)

    def tags(self, arn: str) -> dict[str, str]:
        """Tags given when the entity was created (read without authorization: callers already read the entity)."""
        return self._store.get_tags(arn)

    # --- accounts and AWS managed policies -------------------------------------------------------------------

    def ensure_aws_managed_policies(self) -> list[str]:
        return ensure_aws_managed_policies(self._store, self._clock)

    def create_account(self, account_id: str) -> AccessKey:
        """A new account with its own ``admin`` user (AdministratorAccess); returns the admin's access key.
        An operator action (``coffer admin create-account``), not an IAM API operation."""
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise invalid_input(f"Account id {account_id!r} must be 12 digits.")
        if self._store.get_account(account_id) is not None:
            raise entity_already_exists(f"Account {account_id} already exists.")
        key = self._identities.bootstrap_admin(account_id)
        if key is None:  # created by someone else at the same moment
            raise entity_already_exists(f"Account {account_id} already exists.")
        self._changed()
        return key

    # --- users ------------------------------------------------------------------------------------------------

    def create_user(self, caller: Caller, name: str, path: str = "/", tags: Mapping[str, str] | None = None) -> User:
        validate_name("userName", name, 64)
        validate_path("path", path)
        arn = self._arn(caller.account_id, "user", name, path)
        self._require(caller, "CreateUser", arn)
        if self._store.get_user(caller.account_id, name) is not None:
            raise entity_already_exists(f"User with name {name} already exists.")
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
                    raise no_such_entity(f"Account {caller.account_id} cannot be found.")
                return account
            if caller.kind != "user" or caller.user_name is None:
                raise AwsCodedError(
                    "ValidationError", 400, "Must specify userName when calling with non-User credentials"
                )
            name = caller.user_name
        return self._user(caller, "GetUser", name)

    def list_users(self, caller: Caller, path_prefix: str | None = None) -> list[User]:
        self._require(caller, "ListUsers", "*")
        return [u for u in self._store.list_users(caller.account_id) if _under(u.path, path_prefix)]

    def delete_user(self, caller: Caller, name: str, *, cascade: bool = False) -> None:
        """IAM's DeleteUser refuses a user with keys, policies or groups (DeleteConflict); ``cascade`` (the admin
        command) removes them first."""
        user = self._user(caller, "DeleteUser", name)
        with self._store_errors("DeleteConflict"):
            self._store.delete_user(caller.account_id, name, cascade=cascade)
        self._untag_all(user.arn)
        self._changed()

    # --- groups -----------------------------------------------------------------------------------------------

    def create_group(self, caller: Caller, name: str, path: str = "/") -> Group:
        validate_name("groupName", name, 128)
        validate_path("path", path)
        self._require(caller, "CreateGroup", self._arn(caller.account_id, "group", name, path))
        if self._store.get_group(caller.account_id, name) is not None:
            raise entity_already_exists(f"Group with name {name} already exists.")
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
        return [g for g in self._store.list_groups(caller.account_id) if _under(g.path, path_prefix)]

    def delete_group(self, caller: Caller, name: str) -> None:
        self._group(caller, "DeleteGroup", name)
        account = caller.account_id
        if self._store.list_group_members(account, name):
            raise delete_conflict("Cannot delete entity, must remove users from group first.")
        if self._store.list_inline_policies(account, "group", name):
            raise delete_conflict("Cannot delete entity, must delete policies first.")
        if self._store.list_attached_policies(account, "group", name):
            raise delete_conflict("Cannot delete entity, must detach all policies first.")
        with self._store_errors("DeleteConflict"):
            self._store.delete_group(account, name)
        self._changed()

    def add_user_to_group(self, caller: Caller, group_name: str, user_name: str) -> None:
        self._group(caller, "AddUserToGroup", group_name)
        if self._store.get_user(caller.account_id, user_name) is None:
            raise no_such_entity(f"The user with name {user_name} cannot be found.")
        groups = self._store.list_groups_for_user(caller.account_id, user_name)
        if group_name in {g.name for g in groups}:
            return
        if len(groups) >= MAX_GROUPS_PER_USER:
            raise limit_exceeded(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
        with self._store_errors():
            self._store.add_user_to_group(caller.account_id, group_name, user_name)
        self._changed()

    def remove_user_from_group(self, caller: Caller, group_name: str, user_name: str) -> None:
        self._group(caller, "RemoveUserFromGroup", group_name)
        members = {u.name for u in self._store.list_group_members(caller.account_id, group_name)}
        if user_name not in members:
            raise no_such_entity(f"The user with name {user_name} cannot be found.")
        with self._store_errors():
            self._store.remove_user_from_group(caller.account_id, group_name, user_name)
        self._changed()

    def list_groups_for_user(self, caller: Caller, user_name: str) -> list[Group]:
        self._user(caller, "ListGroupsForUser", user_name)
        return self._store.list_groups_for_user(caller.account_id, user_name)

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
            raise AwsCodedError("ValidationError", 400, "Must specify userName when calling with non-User credentials")
        return self._user(caller, action, caller.user_name).name

    def _owned_key(self, caller: Caller, access_key_id: str, owner: str | None) -> AccessKey:
        key = self._store.get_access_key(access_key_id)
        if key is None or key.account_id != caller.account_id or key.user_name != owner:
            raise no_such_entity(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    def create_access_key(self, caller: Caller, user_name: str | None = None) -> AccessKey:
        owner = self._key_owner(caller, "CreateAccessKey", user_name)
        if owner is None:
            return self._identities.create_root_access_key(caller.account_id)
        if len(self._store.list_access_keys(caller.account_id, owner)) >= MAX_ACCESS_KEYS_PER_USER:
            raise limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}")
        try:
            return self._identities.create_access_key(caller.account_id, owner)
        except ConflictError as exc:  # the quota, checked again by IdentityService
            raise limit_exceeded(exc.message) from exc

    def list_access_keys(self, caller: Caller, user_name: str | None = None) -> list[AccessKey]:
        owner = self._key_owner(caller, "ListAccessKeys", user_name)
        if owner is None:
            raise AwsCodedError("ValidationError", 400, "Must specify userName: Coffer does not list root keys")
        return self._store.list_access_keys(caller.account_id, owner)

    def update_access_key(self, caller: Caller, access_key_id: str, status: str, user_name: str | None = None) -> None:
        if status not in ("Active", "Inactive"):
            raise validation_error("status", status, "Member must satisfy enum value set: [Active, Inactive]")
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
            raise no_such_entity(f"The Access Key with id {access_key_id} cannot be found.")
        user = None if key.user_name is None else self._store.get_user(key.account_id, key.user_name)
        if user is not None:
            owner_arn = user.arn
        elif key.user_name is not None:
            owner_arn = self._arn(key.account_id, "user", key.user_name)
        else:
            owner_arn = f"arn:aws:iam::{key.account_id}:root"
        self._require(caller, "GetAccessKeyLastUsed", owner_arn)
        used = self._store.get_access_key_last_used(access_key_id)
        if used is None:
            return AccessKeyLastUsed(key.user_name, None, "N/A", "N/A")
        when, service, region = used
        return AccessKeyLastUsed(key.user_name, when, service, region)

    # --- roles ------------------------------------------------------------------------------------------------

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
        validate_name("roleName", name, 64)
        validate_path("path", path)
        validate_description("description", description)
        duration = MIN_SESSION_DURATION if max_session_duration is None else max_session_duration
        validate_max_session_duration(duration)
        check_document(trust_policy, "trust", "ACLSizePerRole")
        arn = self._arn(caller.account_id, "role", name, path)
        self._require(caller, "CreateRole", arn)
        if self._store.get_role(caller.account_id, name) is not None:
            raise entity_already_exists(f"Role with name {name} already exists.")
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
        return [r for r in self._store.list_roles(caller.account_id) if _under(r.path, path_prefix)]

    def update_role(
        self, caller: Caller, name: str, *, description: str | None = None, max_session_duration: int | None = None
    ) -> Role:
        if description is not None:
            validate_description("description", description)
        if max_session_duration is not None:
            validate_max_session_duration(max_session_duration)
        role = self._role(caller, "UpdateRole", name)
        updated = replace(
            role,
            description=role.description if description is None else description,
            max_session_duration=role.max_session_duration if max_session_duration is None else max_session_duration,
        )
        with self._store_errors():
            self._store.update_role(updated)
        self._changed()
        return updated

    def update_assume_role_policy(self, caller: Caller, name: str, document: str) -> Role:
        check_document(document, "trust", "ACLSizePerRole")
        role = self._role(caller, "UpdateAssumeRolePolicy", name)
        updated = replace(role, trust_policy=document)
        with self._store_errors():
            self._store.update_role(updated)
        self._changed()
        return updated

    def delete_role(self, caller: Caller, name: str) -> None:
        role = self._role(caller, "DeleteRole", name)
        if self._store.list_inline_policies(caller.account_id, "role", name):
            raise delete_conflict("Cannot delete entity, must delete policies first.")
        if self._store.list_attached_policies(caller.account_id, "role", name):
            raise delete_conflict("Cannot delete entity, must detach all policies first.")
        with self._store_errors("DeleteConflict"):
            self._store.delete_role(caller.account_id, name)
        self._untag_all(role.arn)
        self._changed()

    # --- inline policies (users, groups, roles) ---------------------------------------------------------------

    def put_inline_policy(
        self, caller: Caller, kind: PrincipalType, principal: str, policy_name: str, document: str
    ) -> None:
        validate_name("policyName", policy_name, 128)
        quota = INLINE_POLICY_QUOTA[kind]
        check_document(document, "identity", "PolicySize", max(INLINE_POLICY_QUOTA.values()))
        self._authorized_entity(caller, f"Put{_LABEL[kind]}Policy", kind, principal)
        others = [
            p for p in self._store.list_inline_policies(caller.account_id, kind, principal) if p.name != policy_name
        ]
        total = sum(len("".join(p.document.split())) for p in others) + len("".join(document.split()))
        if total > quota:
            raise limit_exceeded(f"Maximum policy size of {quota} bytes exceeded for {kind} {principal}")
        with self._store_errors():
            self._store.put_inline_policy(caller.account_id, kind, principal, NamedPolicy(policy_name, document))
        self._changed()

    def get_inline_policy(self, caller: Caller, kind: PrincipalType, principal: str, policy_name: str) -> NamedPolicy:
        self._authorized_entity(caller, f"Get{_LABEL[kind]}Policy", kind, principal)
        policy = self._store.get_inline_policy(caller.account_id, kind, principal, policy_name)
        if policy is None:
            raise no_such_entity(f"The {kind} policy with name {policy_name} cannot be found.")
        return policy

    def list_inline_policies(self, caller: Caller, kind: PrincipalType, principal: str) -> list[NamedPolicy]:
        self._authorized_entity(caller, f"List{_LABEL[kind]}Policies", kind, principal)
        return self._store.list_inline_policies(caller.account_id, kind, principal)

    def delete_inline_policy(self, caller: Caller, kind: PrincipalType, principal: str, policy_name: str) -> None:
        self._authorized_entity(caller, f"Delete{_LABEL[kind]}Policy", kind, principal)
        if self._store.get_inline_policy(caller.account_id, kind, principal, policy_name) is None:
            raise no_such_entity(f"The {kind} policy with name {policy_name} cannot be found.")
        with self._store_errors():
            self._store.delete_inline_policy(caller.account_id, kind, principal, policy_name)
        self._changed()

    # --- managed policies -------------------------------------------------------------------------------------

    def _visible_policy(self, caller: Caller, action: str, arn: str) -> ManagedPolicy:
        """A policy of the caller's account or an AWS managed one, after authorizing ``action`` on its ARN."""
        account, _path, _name = parse_policy_arn(arn)
        self._require(caller, action, arn)
        policy = self._store.get_managed_policy(arn) if account in (caller.account_id, AWS_MANAGED) else None
        if policy is None:
            raise no_such_entity(f"Policy {arn} was not found.")
        return self._with_local_count(caller, policy)

    def _own_policy(self, caller: Caller, action: str, arn: str) -> ManagedPolicy:
        """As ``_visible_policy``, for changes: AWS managed policies cannot be changed."""
        policy = self._visible_policy(caller, action, arn)
        if policy.account_id == AWS_MANAGED:
            raise AwsCodedError(
                "AccessDenied",
                403,
                f"User: {caller.arn} is not authorized to perform: iam:{action} on resource: policy {arn}",
            )
        return policy

    def _with_local_count(self, caller: Caller, policy: ManagedPolicy) -> ManagedPolicy:
        """AWS managed policies are shared by every account; each account sees its own attachment count."""
        if policy.account_id != AWS_MANAGED:
            return policy
        count = sum(1 for a in self._store.list_policy_attachments(policy.arn) if a[0] == caller.account_id)
        return replace(policy, attachment_count=count)

    def create_policy(
        self,
        caller: Caller,
        name: str,
        document: str,
        *,
        path: str = "/",
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ManagedPolicy:
        validate_name("policyName", name, 128)
        validate_path("path", path, policy=True)
        validate_description("description", description)
        check_document(document, "identity", "PolicySize")
        arn = self._arn(caller.account_id, "policy", name, path)
        self._require(caller, "CreatePolicy", arn)
        taken = {p.name.lower() for p in self._store.list_managed_policies(caller.account_id)}
        if name.lower() in taken:
            raise entity_already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
        now = self._clock()
        policy = ManagedPolicy(
            account_id=caller.account_id,
            name=name,
            policy_id=new_policy_id(),
            default_version_id="v1",
            created_at=now,
            updated_at=now,
            path=path,
            description=description,
        )
        with self._store_errors():
            self._store.create_managed_policy(policy, document)
        self._tag(policy.arn, tags)
        return policy

    def get_policy(self, caller: Caller, arn: str) -> ManagedPolicy:
        return self._visible_policy(caller, "GetPolicy", arn)

    def list_policies(
        self,
        caller: Caller,
        *,
        scope: PolicyScope = "All",
        only_attached: bool = False,
        path_prefix: str | None = None,
    ) -> list[ManagedPolicy]:
        if scope not in ("All", "AWS", "Local"):
            raise validation_error("scope", scope, "Member must satisfy enum value set: [All, AWS, Local]")
        self._require(caller, "ListPolicies", "*")
        found: list[ManagedPolicy] = []
        if scope in ("All", "AWS"):
            found += [self._with_local_count(caller, p) for p in self._store.list_managed_policies(AWS_MANAGED)]
        if scope in ("All", "Local"):
            found += self._store.list_managed_policies(caller.account_id)
        return sorted(
            (p for p in found if _under(p.path, path_prefix) and (not only_attached or p.attachment_count > 0)),
            key=lambda p: (p.name.lower(), p.arn),
        )

    def delete_policy(self, caller: Caller, arn: str) -> None:
        policy = self._own_policy(caller, "DeletePolicy", arn)
        if self._store.list_policy_attachments(arn):
            raise delete_conflict("Cannot delete a policy attached to entities.")
        if len(self._store.list_policy_versions(arn)) > 1:
            raise delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's "
                "versions. The default version is deleted with the policy."
            )
        with self._store_errors("DeleteConflict"):
            self._store.delete_managed_policy(arn)
        self._untag_all(policy.arn)
        self._changed()

    def create_policy_version(
        self, caller: Caller, arn: str, document: str, set_as_default: bool = False
    ) -> PolicyVersion:
        parse_policy_arn(arn)
        check_document(document, "identity", "PolicySize")
        self._own_policy(caller, "CreatePolicyVersion", arn)
        too_many = limit_exceeded(
            f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, "
            "you must delete an existing version."
        )
        if len(self._store.list_policy_versions(arn)) >= MAX_POLICY_VERSIONS:
            raise too_many
        try:
            version = self._store.create_policy_version(arn, document, set_as_default, self._clock())
        except ConflictError as exc:
            raise too_many from exc
        except ResourceNotFoundError as exc:
            raise no_such_entity(f"Policy {arn} was not found.") from exc
        self._changed()
        return version

    def get_policy_version(self, caller: Caller, arn: str, version_id: str) -> PolicyVersion:
        validate_version_id(version_id)
        self._visible_policy(caller, "GetPolicyVersion", arn)
        version = self._store.get_policy_version(arn, version_id)
        if version is None:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        return version

    def list_policy_versions(self, caller: Caller, arn: str) -> list[PolicyVersion]:
        self._visible_policy(caller, "ListPolicyVersions", arn)
        return sorted(self._store.list_policy_versions(arn), key=lambda v: v.created_at, reverse=True)

    def delete_policy_version(self, caller: Caller, arn: str, version_id: str) -> None:
        validate_version_id(version_id)
        self._own_policy(caller, "DeletePolicyVersion", arn)
        version = self._store.get_policy_version(arn, version_id)
        if version is None:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        if version.is_default:
            raise delete_conflict("Cannot delete the default version of a policy.")
        with self._store_errors("DeleteConflict"):
            self._store.delete_policy_version(arn, version_id)
        self._changed()

    def set_default_policy_version(self, caller: Caller, arn: str, version_id: str) -> None:
        validate_version_id(version_id)
        self._own_policy(caller, "SetDefaultPolicyVersion", arn)
        if self._store.get_policy_version(arn, version_id) is None:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        with self._store_errors():
            self._store.set_default_policy_version(arn, version_id)
        self._changed()

    # --- attachments ------------------------------------------------------------------------------------------

    def _attachable(self, caller: Caller, arn: str) -> ManagedPolicy:
        account, _path, _name = parse_policy_arn(arn)
        policy = self._store.get_managed_policy(arn) if account in (caller.account_id, AWS_MANAGED) else None
        if policy is None:
            raise no_such_entity(f"Policy {arn} does not exist or is not attachable.")
        return policy

    def attach_policy(self, caller: Caller, kind: PrincipalType, principal: str, arn: str) -> None:
        parse_policy_arn(arn)
        entity = self._entity(caller.account_id, kind, principal)
        resource = entity.arn if entity is not None else self._arn(caller.account_id, kind, principal)
        self._require(caller, f"Attach{_LABEL[kind]}Policy", resource, {"iam:PolicyARN": arn})
        if entity is None:
            raise no_such_entity(f"The {kind} with name {principal} cannot be found.")
        self._attachable(caller, arn)
        attached = self._store.list_attached_policies(caller.account_id, kind, principal)
        if arn in {p.arn for p in attached}:
            return
        if len(attached) >= MAX_ATTACHED_POLICIES:
            raise limit_exceeded(f"Cannot exceed quota for PoliciesPer{_LABEL[kind]}: {MAX_ATTACHED_POLICIES}")
        with self._store_errors():
            self._store.attach_policy(caller.account_id, kind, principal, arn)
        self._changed()

    def detach_policy(self, caller: Caller, kind: PrincipalType, principal: str, arn: str) -> None:
        parse_policy_arn(arn)
        entity = self._entity(caller.account_id, kind, principal)
        resource = entity.arn if entity is not None else self._arn(caller.account_id, kind, principal)
        self._require(caller, f"Detach{_LABEL[kind]}Policy", resource, {"iam:PolicyARN": arn})
        if entity is None:
            raise no_such_entity(f"The {kind} with name {principal} cannot be found.")
        attached = self._store.list_attached_policies(caller.account_id, kind, principal)
        if arn not in {p.arn for p in attached}:
            raise no_such_entity(f"Policy {arn} was not found.")
        with self._store_errors():
            self._store.detach_policy(caller.account_id, kind, principal, arn)
        self._changed()

    def list_attached_policies(
        self, caller: Caller, kind: PrincipalType, principal: str, path_prefix: str | None = None
    ) -> list[ManagedPolicy]:
        self._authorized_entity(caller, f"ListAttached{_LABEL[kind]}Policies", kind, principal)
        attached = self._store.list_attached_policies(caller.account_id, kind, principal)
        return [p for p in attached if _under(p.path, path_prefix)]

    def list_entities_for_policy(
        self,
        caller: Caller,
        arn: str,
        *,
        entity_filter: EntityFilter | None = None,
        path_prefix: str | None = None,
    ) -> PolicyEntities:
        self._visible_policy(caller, "ListEntitiesForPolicy", arn)
        users: list[User] = []
        groups: list[Group] = []
        roles: list[Role] = []
        for account, kind, name in self._store.list_policy_attachments(arn):
            if account != caller.account_id:
                continue
            entity = self._entity(account, kind, name)
            if entity is None or not _under(entity.path, path_prefix):
                continue
            if isinstance(entity, User) and entity_filter in (None, "User"):
                users.append(entity)
            elif isinstance(entity, Group) and entity_filter in (None, "Group"):
                groups.append(entity)
            elif isinstance(entity, Role) and entity_filter in (None, "Role"):
                roles.append(entity)
        return PolicyEntities(
            users=tuple(sorted(users, key=lambda u: u.name)),
            groups=tuple(sorted(groups, key=lambda g: g.name)),
            roles=tuple(sorted(roles, key=lambda r: r.name)),
        )
