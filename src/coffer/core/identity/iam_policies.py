"""IAM policies: inline policies of users, groups and roles; managed policies with their versions; attachments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_common import (
    INLINE_POLICY_QUOTA,
    LABEL,
    MAX_ATTACHED_POLICIES,
    IamBase,
    check_document,
    constraint_message,
    iam_arn,
    parse_policy_arn,
    under,
)
from coffer.core.identity.iam_errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    IamAccessDeniedError,
    IamValidationError,
    LimitExceededError,
    NoSuchEntityError,
)
from coffer.core.identity.iam_models import (
    AWS_MANAGED,
    Group,
    ManagedPolicy,
    NamedPolicy,
    PolicyVersion,
    PrincipalType,
    Role,
    User,
)
from coffer.core.identity.identity_ids import new_policy_id
from coffer.core.identity.managed_policies import MAX_POLICY_VERSIONS
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError

PolicyScope = Literal["All", "AWS", "Local"]
EntityFilter = Literal["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]

_POLICY_DESCRIPTION = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]*")
_DESCRIPTION_CONSTRAINT = "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]*"


@dataclass(frozen=True)
class PolicyEntities:
    users: tuple[User, ...]
    groups: tuple[Group, ...]
    roles: tuple[Role, ...]


class PolicyAdmin(IamBase):
    # --- inline policies (users, groups, roles) ---------------------------------------------------------------

    def put_inline_policy(
        self, caller: Caller, kind: PrincipalType, principal: str, policy_name: str, document: str
    ) -> None:
        quota = INLINE_POLICY_QUOTA[kind]
        check_document(document, "identity", "PolicySize", max(INLINE_POLICY_QUOTA.values()))
        self._authorized_entity(caller, f"Put{LABEL[kind]}Policy", kind, principal)
        others = [
            p for p in self._store.list_inline_policies(caller.account_id, kind, principal) if p.name != policy_name
        ]
        total = sum(len("".join(p.document.split())) for p in others) + len("".join(document.split()))
        if total > quota:
            raise LimitExceededError(f"Maximum policy size of {quota} bytes exceeded for {kind} {principal}")
        with self._store_errors():
            self._store.put_inline_policy(caller.account_id, kind, principal, NamedPolicy(policy_name, document))
        self._changed()

    def get_inline_policy(self, caller: Caller, kind: PrincipalType, principal: str, policy_name: str) -> NamedPolicy:
        self._authorized_entity(caller, f"Get{LABEL[kind]}Policy", kind, principal)
        policy = self._store.get_inline_policy(caller.account_id, kind, principal, policy_name)
        if policy is None:
            raise NoSuchEntityError(f"The {kind} policy with name {policy_name} cannot be found.")
        return policy

    def list_inline_policies(self, caller: Caller, kind: PrincipalType, principal: str) -> list[NamedPolicy]:
        self._authorized_entity(caller, f"List{LABEL[kind]}Policies", kind, principal)
        return self._store.list_inline_policies(caller.account_id, kind, principal)

    def delete_inline_policy(self, caller: Caller, kind: PrincipalType, principal: str, policy_name: str) -> None:
        self._authorized_entity(caller, f"Delete{LABEL[kind]}Policy", kind, principal)
        if self._store.get_inline_policy(caller.account_id, kind, principal, policy_name) is None:
            raise NoSuchEntityError(f"The {kind} policy with name {policy_name} cannot be found.")
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
            raise NoSuchEntityError(f"Policy {arn} was not found.")
        return self._with_local_count(caller, policy)

    def _own_policy(self, caller: Caller, action: str, arn: str) -> ManagedPolicy:
        """As ``_visible_policy``, for changes: AWS managed policies cannot be changed."""
        policy = self._visible_policy(caller, action, arn)
        if policy.account_id == AWS_MANAGED:
            raise IamAccessDeniedError(
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
        if not _POLICY_DESCRIPTION.fullmatch(description):  # the model has a pattern for roles' only
            raise IamValidationError(constraint_message("description", description, _DESCRIPTION_CONSTRAINT))
        check_document(document, "identity", "PolicySize")
        arn = iam_arn(caller.account_id, "policy", name, path)
        self._require(caller, "CreatePolicy", arn)
        taken = {p.name.lower() for p in self._store.list_managed_policies(caller.account_id)}
        if name.lower() in taken:
            raise EntityAlreadyExistsError(f"A policy called {name} already exists. Duplicate names are not allowed.")
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
        self._require(caller, "ListPolicies", "*")
        found: list[ManagedPolicy] = []
        if scope in ("All", "AWS"):
            found += [self._with_local_count(caller, p) for p in self._store.list_managed_policies(AWS_MANAGED)]
        if scope in ("All", "Local"):
            found += self._store.list_managed_policies(caller.account_id)
        return sorted(
            (p for p in found if under(p.path, path_prefix) and (not only_attached or p.attachment_count > 0)),
            key=lambda p: (p.name.lower(), p.arn),
        )

    def delete_policy(self, caller: Caller, arn: str) -> None:
        self._own_policy(caller, "DeletePolicy", arn)
        if self._store.list_policy_attachments(arn):
            raise DeleteConflictError("Cannot delete a policy attached to entities.")
        if len(self._store.list_policy_versions(arn)) > 1:
            raise DeleteConflictError(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's "
                "versions. The default version is deleted with the policy."
            )
        with self._store_errors(DeleteConflictError):
            self._store.delete_managed_policy(arn)
        self._changed()

    def create_policy_version(
        self, caller: Caller, arn: str, document: str, set_as_default: bool = False
    ) -> PolicyVersion:
        parse_policy_arn(arn)
        check_document(document, "identity", "PolicySize")
        self._own_policy(caller, "CreatePolicyVersion", arn)
        too_many = LimitExceededError(
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
            raise NoSuchEntityError(f"Policy {arn} was not found.") from exc
        self._changed()
        return version

    def get_policy_version(self, caller: Caller, arn: str, version_id: str) -> PolicyVersion:
        self._visible_policy(caller, "GetPolicyVersion", arn)
        version = self._store.get_policy_version(arn, version_id)
        if version is None:
            raise NoSuchEntityError(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        return version

    def list_policy_versions(self, caller: Caller, arn: str) -> list[PolicyVersion]:
        self._visible_policy(caller, "ListPolicyVersions", arn)
        return sorted(self._store.list_policy_versions(arn), key=lambda v: v.created_at, reverse=True)

    def delete_policy_version(self, caller: Caller, arn: str, version_id: str) -> None:
        self._own_policy(caller, "DeletePolicyVersion", arn)
        version = self._store.get_policy_version(arn, version_id)
        if version is None:
            raise NoSuchEntityError(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        if version.is_default:
            raise DeleteConflictError("Cannot delete the default version of a policy.")
        with self._store_errors(DeleteConflictError):
            self._store.delete_policy_version(arn, version_id)
        self._changed()

    def set_default_policy_version(self, caller: Caller, arn: str, version_id: str) -> None:
        self._own_policy(caller, "SetDefaultPolicyVersion", arn)
        if self._store.get_policy_version(arn, version_id) is None:
            raise NoSuchEntityError(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        with self._store_errors():
            self._store.set_default_policy_version(arn, version_id)
        self._changed()

    # --- attachments ------------------------------------------------------------------------------------------

    def _attachable(self, caller: Caller, arn: str) -> ManagedPolicy:
        account, _path, _name = parse_policy_arn(arn)
        policy = self._store.get_managed_policy(arn) if account in (caller.account_id, AWS_MANAGED) else None
        if policy is None:
            raise NoSuchEntityError(f"Policy {arn} does not exist or is not attachable.")
        return policy

    def attach_policy(self, caller: Caller, kind: PrincipalType, principal: str, arn: str) -> None:
        parse_policy_arn(arn)
        self._authorized_entity(caller, f"Attach{LABEL[kind]}Policy", kind, principal, {"iam:PolicyARN": arn})
        self._attachable(caller, arn)
        attached = self._store.list_attached_policies(caller.account_id, kind, principal)
        if arn in {p.arn for p in attached}:
            return
        if len(attached) >= MAX_ATTACHED_POLICIES:
            raise LimitExceededError(f"Cannot exceed quota for PoliciesPer{LABEL[kind]}: {MAX_ATTACHED_POLICIES}")
        with self._store_errors():
            self._store.attach_policy(caller.account_id, kind, principal, arn)
        self._changed()

    def detach_policy(self, caller: Caller, kind: PrincipalType, principal: str, arn: str) -> None:
        parse_policy_arn(arn)
        self._authorized_entity(caller, f"Detach{LABEL[kind]}Policy", kind, principal, {"iam:PolicyARN": arn})
        attached = self._store.list_attached_policies(caller.account_id, kind, principal)
        if arn not in {p.arn for p in attached}:
            raise NoSuchEntityError(f"Policy {arn} was not found.")
        with self._store_errors():
            self._store.detach_policy(caller.account_id, kind, principal, arn)
        self._changed()

    def list_attached_policies(
        self, caller: Caller, kind: PrincipalType, principal: str, path_prefix: str | None = None
    ) -> list[ManagedPolicy]:
        self._authorized_entity(caller, f"ListAttached{LABEL[kind]}Policies", kind, principal)
        attached = self._store.list_attached_policies(caller.account_id, kind, principal)
        return [p for p in attached if under(p.path, path_prefix)]

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
            if entity is None or not under(entity.path, path_prefix):
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
