"""The identity store port: accounts, users, access keys, IAM entities, sessions (contract in coffer.core.ports)."""

from __future__ import annotations

from typing import Protocol

from coffer.core.identity.iam_models import (
    AccessKey,
    Account,
    Group,
    ManagedPolicy,
    NamedPolicy,
    PolicyVersion,
    PrincipalType,
    Role,
    Session,
    User,
)
from coffer.core.shared.snapshots import Snapshots
from coffer.core.shared.tag_store import TagStore


class IdentityStore(Snapshots, Protocol):
    # accounts
    def create_account(self, account: Account) -> None: ...
    def get_account(self, account_id: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...

    # users (unique per account by name)
    def create_user(self, user: User) -> None: ...
    def get_user(self, account_id: str, name: str) -> User | None: ...
    def list_users(self, account_id: str) -> list[User]:
        """Ordered by name."""
        ...

    def delete_user(self, account_id: str, name: str, *, cascade: bool = True) -> None:
        """In one transaction, with the user's tags. ``cascade``: deletes the user with its access keys, inline
        policies, group memberships and policy attachments; otherwise ConflictError (IAM's DeleteConflict: "Cannot
        delete entity, must ... first.") while the user has any of them (checked in that order)."""
        ...

    # access keys (globally unique id)
    def create_access_key(self, key: AccessKey) -> None:
        """ResourceNotFoundError if the user does not exist."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    def list_access_keys(self, account_id: str, user_name: str) -> list[AccessKey]: ...
    def delete_access_key(self, access_key_id: str) -> None: ...

    # inline user policies (unique per user by name; put replaces)
    def put_user_policy(self, account_id: str, user_name: str, policy: NamedPolicy) -> None:
        """ResourceNotFoundError if the user does not exist."""
        ...

    def list_user_policies(self, account_id: str, user_name: str) -> list[NamedPolicy]:
        """Ordered by name."""
        ...

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None: ...


class IamStore(Protocol):
    """Roles, groups, inline and managed policies, attachments, access-key state and STS sessions.

    ``principal_type`` is "user", "group" or "role"; the principal must exist (ResourceNotFoundError). Names are
    unique per account (roles, groups, customer managed policies by name; IAM compares them case-insensitively:
    ConflictError on a case-insensitive clash). Deleting something still in use is ConflictError, as IAM's
    DeleteConflict: a role or group with inline or attached policies, a group with members, a policy still attached
    or with non-default versions.
    """

    # roles
    def create_role(self, role: Role) -> None: ...
    def get_role(self, account_id: str, name: str) -> Role | None: ...
    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[Role]:
        """Ordered by name."""
        ...

    def update_role(self, role: Role) -> None:
        """Replaces trust policy, description and max session duration."""
        ...

    def delete_role(self, account_id: str, name: str) -> None:
        """With its tags, in one transaction."""
        ...

    # groups and membership
    def create_group(self, group: Group) -> None: ...
    def get_group(self, account_id: str, name: str) -> Group | None: ...
    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[Group]: ...
    def delete_group(self, account_id: str, name: str) -> None: ...
    def add_user_to_group(self, account_id: str, group_name: str, user_name: str) -> None:
        """Idempotent."""
        ...

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None: ...
    def list_group_members(self, account_id: str, group_name: str) -> list[User]: ...
    def list_groups_for_user(self, account_id: str, user_name: str) -> list[Group]: ...

    # inline policies of any principal type (users too: same rows as put_user_policy)
    def put_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy: NamedPolicy
    ) -> None: ...
    def get_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> NamedPolicy | None: ...
    def list_inline_policies(
        self, account_id: str, principal_type: PrincipalType, principal_name: str
    ) -> list[NamedPolicy]: ...
    def delete_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> None: ...

    # managed policies and versions (AWS managed ones live under account_id "aws")
    def create_managed_policy(self, policy: ManagedPolicy, document: str) -> None:
        """Creates the policy with version ``policy.default_version_id`` (normally "v1") holding ``document``."""
        ...

    def get_managed_policy(self, arn: str) -> ManagedPolicy | None:
        """With ``attachment_count`` filled in."""
        ...

    def list_managed_policies(self, account_id: str | None, only_attached: bool = False) -> list[ManagedPolicy]:
        """``account_id`` None: every account's and AWS's; "aws": AWS managed only. Ordered by name."""
        ...

    def delete_managed_policy(self, arn: str) -> None:
        """With its tags, in one transaction."""
        ...

    def create_policy_version(self, arn: str, document: str, set_as_default: bool, created_at: float) -> PolicyVersion:
        """Next id ("v" + one more than the highest ever used); ConflictError (LimitExceeded) beyond 5 versions."""
        ...

    def get_policy_version(self, arn: str, version_id: str) -> PolicyVersion | None: ...
    def list_policy_versions(self, arn: str) -> list[PolicyVersion]: ...
    def delete_policy_version(self, arn: str, version_id: str) -> None:
        """ConflictError for the default version."""
        ...

    def set_default_policy_version(self, arn: str, version_id: str) -> None: ...

    # attachments
    def attach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """Idempotent; ResourceNotFoundError if the policy or principal does not exist."""
        ...

    def detach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """ResourceNotFoundError if not attached."""
        ...

    def list_attached_policies(
        self, account_id: str, principal_type: PrincipalType, principal_name: str
    ) -> list[ManagedPolicy]: ...
    def list_policy_attachments(self, arn: str) -> list[tuple[str, PrincipalType, str]]:
        """(account_id, principal type, principal name) of everything the policy is attached to."""
        ...

    # access keys
    def update_access_key_status(self, access_key_id: str, status: str) -> None: ...
    def record_access_key_use(self, access_key_id: str, when: float, service: str, region: str) -> None:
        """Best effort, cheap; callers may call it at most once a minute per key."""
        ...

    def get_access_key_last_used(self, access_key_id: str) -> tuple[float, str, str] | None:
        """(when, service, region) of the last recorded use."""
        ...

    # STS sessions
    def create_session(self, session: Session) -> None: ...
    def get_session(self, access_key_id: str) -> Session | None: ...
    def find_role_sessions(
        self, account_id: str, role_name: str, session_name: str, issued_second: int
    ) -> list[Session]:
        """Sessions of that role with that RoleSessionName whose ``int(issued_at) == issued_second``, expired ones
        included (a CodeArtifact token minted by a session acts for it, for up to 12 hours, also after the session
        expired: keep expired sessions that long before ``delete_expired_sessions`` removes them)."""
        ...

    def delete_expired_sessions(self, now: float) -> int: ...


class IdentityBackend(IdentityStore, IamStore, TagStore, Protocol):
    """What the identity context reads and writes: users and keys, roles, groups, policies, sessions and tags."""
