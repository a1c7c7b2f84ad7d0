"""CodeArtifact package group operations: params into ``PackageGroupService`` calls, results into the model's
output shapes.

``PACKAGE_GROUP_HANDLERS`` is merged into ``coffer.aws.handlers.codeartifact.HANDLERS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coffer.core.identity.callers import Caller
from coffer.core.packages.package_group_origins import GroupRef
from coffer.core.packages.package_group_service import AssociatedPackage, GroupView
from coffer.core.shared.errors import ValidationError

if TYPE_CHECKING:
    from coffer.aws.handlers.codeartifact import CodeArtifactServices, Handler, Params, Result


# --- shapes -----------------------------------------------------------------------------------------------


def group_reference(ref: GroupRef | None) -> Result | None:
    return None if ref is None else {"arn": ref.arn, "pattern": ref.pattern}


def group_description(view: GroupView) -> Result:
    """PackageGroupDescription (PackageGroupSummary has the same members)."""
    g = view.group
    return {
        "arn": g.arn,
        "pattern": g.pattern,
        "domainName": g.domain_name,
        "domainOwner": g.domain_owner,
        "createdTime": g.created_time,
        "contactInfo": g.contact_info,
        "description": g.description,
        "originConfiguration": {
            "restrictions": {
                kind: {
                    "mode": r.mode,
                    "effectiveMode": r.effective_mode,
                    "inheritedFrom": group_reference(r.inherited_from),
                    "repositoriesCount": r.repositories_count,
                }
                for kind, r in view.restrictions.items()
            }
        },
        "parent": group_reference(view.parent),
    }


def associated_package(p: AssociatedPackage) -> Result:
    return {"format": p.format, "namespace": p.namespace, "package": p.name, "associationType": p.association}


def _owner(p: Params) -> str | None:
    owner: str | None = p.get("domainOwner")
    return owner


def _repository_entries(p: Params, name: str) -> list[tuple[str, str]]:
    out = []
    for entry in p.get(name) or ():
        if not entry.get("repositoryName") or not entry.get("originRestrictionType"):
            raise ValidationError(f"Each entry of {name} needs repositoryName and originRestrictionType")
        out.append((entry["originRestrictionType"], entry["repositoryName"]))
    return out


# --- handlers ---------------------------------------------------------------------------------------------


def create_package_group(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    tags = {t["key"]: t["value"] for t in p.get("tags") or ()}
    view = s.package_groups.create(
        c, p["domain"], _owner(p), p["packageGroup"], p.get("contactInfo"), p.get("description"), tags
    )
    return {"packageGroup": group_description(view)}


def describe_package_group(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"packageGroup": group_description(s.package_groups.describe(c, p["domain"], _owner(p), p["packageGroup"]))}


def update_package_group(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    view = s.package_groups.update(
        c, p["domain"], _owner(p), p["packageGroup"], p.get("contactInfo"), p.get("description")
    )
    return {"packageGroup": group_description(view)}


def delete_package_group(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"packageGroup": group_description(s.package_groups.delete(c, p["domain"], _owner(p), p["packageGroup"]))}


def list_package_groups(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    views, token = s.package_groups.list_page(
        c, p["domain"], _owner(p), p.get("prefix"), p.get("maxResults"), p.get("nextToken")
    )
    return {"packageGroups": [group_description(v) for v in views], "nextToken": token}


def list_sub_package_groups(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    views, token = s.package_groups.list_sub_groups(
        c, p["domain"], _owner(p), p["packageGroup"], p.get("maxResults"), p.get("nextToken")
    )
    return {"packageGroups": [group_description(v) for v in views], "nextToken": token}


def get_associated_package_group(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    view, association = s.package_groups.associated_group(
        c, p["domain"], _owner(p), p["format"], p.get("namespace"), p["package"]
    )
    return {"packageGroup": group_description(view), "associationType": association}


def list_associated_packages(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    items, token = s.package_groups.associated_packages(
        c,
        p["domain"],
        _owner(p),
        p["packageGroup"],
        bool(p.get("preview")),
        p.get("maxResults"),
        p.get("nextToken"),
    )
    return {"packages": [associated_package(i) for i in items], "nextToken": token}


def list_allowed_repositories_for_group(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    names, token = s.package_groups.allowed_repositories(
        c,
        p["domain"],
        _owner(p),
        p["packageGroup"],
        p["originRestrictionType"],
        p.get("maxResults"),
        p.get("nextToken"),
    )
    return {"allowedRepositories": names, "nextToken": token}


def update_package_group_origin_configuration(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    view, updates = s.package_groups.update_origin(
        c,
        p["domain"],
        _owner(p),
        p["packageGroup"],
        p.get("restrictions"),
        _repository_entries(p, "addAllowedRepositories"),
        _repository_entries(p, "removeAllowedRepositories"),
    )
    return {"packageGroup": group_description(view), "allowedRepositoryUpdates": updates}


PACKAGE_GROUP_HANDLERS: dict[str, Handler] = {
    "CreatePackageGroup": create_package_group,
    "DescribePackageGroup": describe_package_group,
    "UpdatePackageGroup": update_package_group,
    "DeletePackageGroup": delete_package_group,
    "ListPackageGroups": list_package_groups,
    "ListSubPackageGroups": list_sub_package_groups,
    "GetAssociatedPackageGroup": get_associated_package_group,
    "ListAssociatedPackages": list_associated_packages,
    "ListAllowedRepositoriesForGroup": list_allowed_repositories_for_group,
    "UpdatePackageGroupOriginConfiguration": update_package_group_origin_configuration,
}
