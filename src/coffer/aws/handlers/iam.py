"""IAM operations on the query wire: each turns the parsed, validated params (botocore member names) into an
:class:`~coffer.core.identity.iam_service.IamService` call and the result into the output shape's members.

Policy documents are returned as JSON text: the query serializer URL-encodes ``policyDocumentType`` strings as
IAM does. Timestamps are epoch seconds. Listings page with ``Marker``/``MaxItems`` (default 100), the marker
being the same signed token as CodeArtifact's ``nextToken`` (bound to the caller and the listing). Operations
missing from ``HANDLERS`` answer NotImplemented (the endpoint does it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_errors import InvalidInputError
from coffer.core.identity.iam_models import (
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
from coffer.core.identity.iam_service import IamService
from coffer.core.shared.errors import ValidationError
from coffer.core.shared.pagination import Paginator, Scope

Params = Mapping[str, Any]
Result = dict[str, Any]
T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


@dataclass(frozen=True)
class IamHandlerServices:
    iam: IamService
    paginator: Paginator


Handler = Callable[[IamHandlerServices, Caller, Params], Result]


# --- shape builders ------------------------------------------------------------------------------------------


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _tags_param(p: Params) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in p.get("Tags") or ()}


def user_shape(u: User, tags: Mapping[str, str] | None = None) -> Result:
    out: Result = {"Path": u.path, "UserName": u.name, "UserId": u.user_id, "Arn": u.arn, "CreateDate": u.created_at}
    if tags:
        out["Tags"] = _tag_list(tags)
    return out


def root_user_shape(account: Account) -> Result:
    """What GetUser answers the root user: no name, the account id as its id."""
    return {
        "UserId": account.account_id,
        "Arn": f"arn:aws:iam::{account.account_id}:root",
        "CreateDate": account.created_at,
    }


def group_shape(g: Group) -> Result:
    return {"Path": g.path, "GroupName": g.name, "GroupId": g.group_id, "Arn": g.arn, "CreateDate": g.created_at}


def role_shape(r: Role, tags: Mapping[str, str] | None = None, *, last_used: bool = False) -> Result:
    out: Result = {
        "Path": r.path,
        "RoleName": r.name,
        "RoleId": r.role_id,
        "Arn": r.arn,
        "CreateDate": r.created_at,
        "AssumeRolePolicyDocument": r.trust_policy,
        "MaxSessionDuration": r.max_session_duration,
    }
    if r.description:
        out["Description"] = r.description
    if tags:
        out["Tags"] = _tag_list(tags)
    if last_used:
        out["RoleLastUsed"] = {}
    return out


def _key_user(k: AccessKey) -> str:
    return k.user_name if k.user_name is not None else "root"


def access_key_shape(k: AccessKey, *, secret: bool = False) -> Result:
    out: Result = {
        "UserName": _key_user(k),
        "AccessKeyId": k.access_key_id,
        "Status": k.status,
        "CreateDate": k.created_at,
    }
    if secret:
        out["SecretAccessKey"] = k.secret_access_key
    return out


def policy_shape(p: ManagedPolicy, tags: Mapping[str, str] | None = None, *, description: bool = True) -> Result:
    out: Result = {
        "PolicyName": p.name,
        "PolicyId": p.policy_id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version_id,
        "AttachmentCount": p.attachment_count,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": p.created_at,
        "UpdateDate": p.updated_at,
    }
    if description and p.description:
        out["Description"] = p.description
    if tags:
        out["Tags"] = _tag_list(tags)
    return out


def policy_version_shape(v: PolicyVersion, *, document: bool = True) -> Result:
    out: Result = {"VersionId": v.version_id, "IsDefaultVersion": v.is_default, "CreateDate": v.created_at}
    if document:
        out["Document"] = v.document
    return out


def attached_shape(p: ManagedPolicy) -> Result:
    return {"PolicyName": p.name, "PolicyArn": p.arn}


# --- paging ------------------------------------------------------------------------------------------------------


_NOT_SELECTORS = frozenset(("Marker", "MaxItems"))


def _scope(field: str, p: Params) -> Scope:
    """The listing a marker belongs to: the result field and every parameter that selects its items."""
    return (f"iam/{field}", *(f"{k}={v}" for k, v in sorted(p.items()) if k not in _NOT_SELECTORS))


def page(
    s: IamHandlerServices,
    c: Caller,
    items: Sequence[T],
    p: Params,
    key: Callable[[T], str],
    field: str,
    shape: Callable[[T], Any],
) -> Result:
    """One page of ``items`` (in listing order): ``field`` holds the shaped items, with IsTruncated and Marker.
    The marker names the last item returned; a page resumes after it (or after where it would be, when it has
    gone meanwhile and the listing is ordered by ``key``)."""
    max_items = p.get("MaxItems")
    limit = DEFAULT_MAX_ITEMS if max_items is None else int(max_items)
    scope = _scope(field, p)
    start = 0
    marker = p.get("Marker")
    if marker:
        try:
            last = s.paginator.decode(scope, str(marker), c)
        except ValidationError as exc:
            raise InvalidInputError("Invalid Marker.") from exc
        assert last is not None
        keys = [key(i) for i in items]
        start = keys.index(last) + 1 if last in keys else next((n for n, k in enumerate(keys) if k > last), len(keys))
    chunk = items[start : start + limit]
    out: Result = {field: [shape(i) for i in chunk], "IsTruncated": start + limit < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = s.paginator.encode(scope, key(chunk[-1]), c)
    return out


def _names(s: IamHandlerServices, c: Caller, policies: Sequence[NamedPolicy], p: Params) -> Result:
    return page(s, c, policies, p, lambda n: n.name, "PolicyNames", lambda n: n.name)


# --- users -------------------------------------------------------------------------------------------------------


def create_user(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    tags = _tags_param(p)
    user = s.iam.create_user(c, p["UserName"], p.get("Path") or "/", tags)
    return {"User": user_shape(user, tags)}


def get_user(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    found = s.iam.get_user(c, p.get("UserName"))
    if isinstance(found, Account):
        return {"User": root_user_shape(found)}
    return {"User": user_shape(found, s.iam.tags(found.arn))}


def list_users(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return page(s, c, s.iam.list_users(c, p.get("PathPrefix")), p, lambda u: u.name, "Users", user_shape)


def delete_user(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.delete_user(c, p["UserName"])
    return {}


# --- groups ------------------------------------------------------------------------------------------------------


def create_group(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return {"Group": group_shape(s.iam.create_group(c, p["GroupName"], p.get("Path") or "/"))}


def get_group(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    group, members = s.iam.get_group(c, p["GroupName"])
    return {"Group": group_shape(group), **page(s, c, members, p, lambda u: u.name, "Users", user_shape)}


def list_groups(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return page(s, c, s.iam.list_groups(c, p.get("PathPrefix")), p, lambda g: g.name, "Groups", group_shape)


def delete_group(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.delete_group(c, p["GroupName"])
    return {}


def add_user_to_group(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.add_user_to_group(c, p["GroupName"], p["UserName"])
    return {}


def remove_user_from_group(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.remove_user_from_group(c, p["GroupName"], p["UserName"])
    return {}


def list_groups_for_user(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return page(s, c, s.iam.list_groups_for_user(c, p["UserName"]), p, lambda g: g.name, "Groups", group_shape)


# --- access keys -------------------------------------------------------------------------------------------------


def create_access_key(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return {"AccessKey": access_key_shape(s.iam.create_access_key(c, p.get("UserName")), secret=True)}


def list_access_keys(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    keys = s.iam.list_access_keys(c, p.get("UserName"))
    return page(s, c, keys, p, lambda k: k.access_key_id, "AccessKeyMetadata", access_key_shape)


def update_access_key(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.update_access_key(c, p["AccessKeyId"], p["Status"], p.get("UserName"))
    return {}


def delete_access_key(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.delete_access_key(c, p["AccessKeyId"], p.get("UserName"))
    return {}


def get_access_key_last_used(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    used = s.iam.get_access_key_last_used(c, p["AccessKeyId"])
    last: Result = {"ServiceName": used.service_name, "Region": used.region}
    if used.last_used_at is not None:
        last["LastUsedDate"] = used.last_used_at
    return {"UserName": used.user_name if used.user_name is not None else "root", "AccessKeyLastUsed": last}


# --- roles -------------------------------------------------------------------------------------------------------


def create_role(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    tags = _tags_param(p)
    role = s.iam.create_role(
        c,
        p["RoleName"],
        p["AssumeRolePolicyDocument"],
        path=p.get("Path") or "/",
        description=p.get("Description") or "",
        max_session_duration=p.get("MaxSessionDuration"),
        tags=tags,
    )
    return {"Role": role_shape(role, tags)}


def get_role(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    role = s.iam.get_role(c, p["RoleName"])
    return {"Role": role_shape(role, s.iam.tags(role.arn), last_used=True)}


def list_roles(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return page(s, c, s.iam.list_roles(c, p.get("PathPrefix")), p, lambda r: r.name, "Roles", role_shape)


def update_role(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.update_role(
        c, p["RoleName"], description=p.get("Description"), max_session_duration=p.get("MaxSessionDuration")
    )
    return {}


def update_assume_role_policy(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.update_assume_role_policy(c, p["RoleName"], p["PolicyDocument"])
    return {}


def delete_role(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.delete_role(c, p["RoleName"])
    return {}


# --- inline policies ---------------------------------------------------------------------------------------------


def _inline_handlers(kind: PrincipalType, label: str) -> dict[str, Handler]:
    """Put/Get/List/Delete{label}Policy for one principal type; the principal is named by ``{label}Name``."""
    name_key = f"{label}Name"

    def put(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        s.iam.put_inline_policy(c, kind, p[name_key], p["PolicyName"], p["PolicyDocument"])
        return {}

    def get(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        policy = s.iam.get_inline_policy(c, kind, p[name_key], p["PolicyName"])
        return {name_key: p[name_key], "PolicyName": policy.name, "PolicyDocument": policy.document}

    def list_(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        return _names(s, c, s.iam.list_inline_policies(c, kind, p[name_key]), p)

    def delete(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        s.iam.delete_inline_policy(c, kind, p[name_key], p["PolicyName"])
        return {}

    return {
        f"Put{label}Policy": put,
        f"Get{label}Policy": get,
        f"List{label}Policies": list_,
        f"Delete{label}Policy": delete,
    }


# --- managed policies --------------------------------------------------------------------------------------------


def create_policy(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    tags = _tags_param(p)
    policy = s.iam.create_policy(
        c,
        p["PolicyName"],
        p["PolicyDocument"],
        path=p.get("Path") or "/",
        description=p.get("Description") or "",
        tags=tags,
    )
    return {"Policy": policy_shape(policy, tags)}


def get_policy(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    policy = s.iam.get_policy(c, p["PolicyArn"])
    return {"Policy": policy_shape(policy, s.iam.tags(policy.arn))}


def list_policies(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    policies = s.iam.list_policies(
        c,
        scope=p.get("Scope") or "All",
        only_attached=bool(p.get("OnlyAttached")),
        path_prefix=p.get("PathPrefix"),
    )
    return page(
        s,
        c,
        policies,
        p,
        lambda x: f"{x.name.lower()}\x00{x.arn}",
        "Policies",
        lambda x: policy_shape(x, description=False),
    )


def delete_policy(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.delete_policy(c, p["PolicyArn"])
    return {}


def create_policy_version(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    version = s.iam.create_policy_version(c, p["PolicyArn"], p["PolicyDocument"], bool(p.get("SetAsDefault")))
    return {"PolicyVersion": policy_version_shape(version, document=False)}


def get_policy_version(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    return {"PolicyVersion": policy_version_shape(s.iam.get_policy_version(c, p["PolicyArn"], p["VersionId"]))}


def list_policy_versions(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    versions = s.iam.list_policy_versions(c, p["PolicyArn"])
    return page(
        s, c, versions, p, lambda v: v.version_id, "Versions", lambda v: policy_version_shape(v, document=False)
    )


def delete_policy_version(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.delete_policy_version(c, p["PolicyArn"], p["VersionId"])
    return {}


def set_default_policy_version(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    s.iam.set_default_policy_version(c, p["PolicyArn"], p["VersionId"])
    return {}


def _attachment_handlers(kind: PrincipalType, label: str) -> dict[str, Handler]:
    """Attach/Detach{label}Policy and ListAttached{label}Policies for one principal type."""
    name_key = f"{label}Name"

    def attach(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        s.iam.attach_policy(c, kind, p[name_key], p["PolicyArn"])
        return {}

    def detach(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        s.iam.detach_policy(c, kind, p[name_key], p["PolicyArn"])
        return {}

    def list_attached(s: IamHandlerServices, c: Caller, p: Params) -> Result:
        policies = s.iam.list_attached_policies(c, kind, p[name_key], p.get("PathPrefix"))
        return page(s, c, policies, p, lambda x: x.arn, "AttachedPolicies", attached_shape)

    return {
        f"Attach{label}Policy": attach,
        f"Detach{label}Policy": detach,
        f"ListAttached{label}Policies": list_attached,
    }


def list_entities_for_policy(s: IamHandlerServices, c: Caller, p: Params) -> Result:
    found = s.iam.list_entities_for_policy(
        c, p["PolicyArn"], entity_filter=p.get("EntityFilter"), path_prefix=p.get("PathPrefix")
    )
    return {
        "PolicyGroups": [{"GroupName": g.name, "GroupId": g.group_id} for g in found.groups],
        "PolicyUsers": [{"UserName": u.name, "UserId": u.user_id} for u in found.users],
        "PolicyRoles": [{"RoleName": r.name, "RoleId": r.role_id} for r in found.roles],
        "IsTruncated": False,
    }


HANDLERS: dict[str, Handler] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "DeleteGroup": delete_group,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "ListGroupsForUser": list_groups_for_user,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "UpdateRole": update_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "DeleteRole": delete_role,
    **_inline_handlers("user", "User"),
    **_inline_handlers("group", "Group"),
    **_inline_handlers("role", "Role"),
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    **_attachment_handlers("user", "User"),
    **_attachment_handlers("group", "Group"),
    **_attachment_handlers("role", "Role"),
    "ListEntitiesForPolicy": list_entities_for_policy,
}

__all__ = ["HANDLERS", "Handler", "IamHandlerServices"]
