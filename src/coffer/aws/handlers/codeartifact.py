"""CodeArtifact operations: each turns the parsed, validated params into a service call and the result into
the output shape's members. Operations missing from ``HANDLERS`` answer NotImplemented (the endpoint does it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from coffer.core.codeartifact import AuthorizationTokenService, DomainService, RepositoryService, TagService
from coffer.core.codeartifact.resources import Domain, Repository, ResourcePolicy
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_group_service import PackageGroupService
from coffer.core.packages.package_service import PackageService

Params = Mapping[str, Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class CodeArtifactServices:
    domains: DomainService
    repositories: RepositoryService
    tags: TagService
    tokens: AuthorizationTokenService
    packages: PackageService
    package_groups: PackageGroupService


Handler = Callable[[CodeArtifactServices, Caller, Params], Result]


# --- shape builders ------------------------------------------------------------------------------------------


def domain_summary(d: Domain) -> Result:
    return {
        "name": d.name,
        "owner": d.owner,
        "arn": d.arn,
        "status": d.status,
        "createdTime": d.created_time,
        "encryptionKey": d.encryption_key,
    }


def domain_description(d: Domain) -> Result:
    return {**domain_summary(d), "repositoryCount": d.repository_count, "assetSizeBytes": d.asset_size_bytes}


def repository_summary(r: Repository) -> Result:
    return {
        "name": r.name,
        "administratorAccount": r.administrator_account,
        "domainName": r.domain_name,
        "domainOwner": r.domain_owner,
        "arn": r.arn,
        "description": r.description,
        "createdTime": r.created_time,
    }


def repository_description(r: Repository) -> Result:
    return {
        **repository_summary(r),
        "upstreams": [{"repositoryName": u} for u in r.upstreams],
        "externalConnections": [
            {"externalConnectionName": c.name, "packageFormat": c.package_format, "status": c.status}
            for c in r.external_connections
        ],
    }


def resource_policy(p: ResourcePolicy) -> Result:
    return {"resourceArn": p.resource_arn, "revision": p.revision, "document": p.document}


def _tags(p: Params, name: str = "tags") -> dict[str, str]:
    return {t["key"]: t["value"] for t in p.get(name) or ()}


def _upstreams(p: Params) -> list[str] | None:
    ups = p.get("upstreams")
    return None if ups is None else [u["repositoryName"] for u in ups]


# --- handlers ----------------------------------------------------------------------------------------------------


def create_domain(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"domain": domain_description(s.domains.create(c, p["domain"], p.get("encryptionKey"), _tags(p)))}


def describe_domain(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"domain": domain_description(s.domains.describe(c, p["domain"], p.get("domainOwner")))}


def list_domains(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    items, token = s.domains.list_page(c, p.get("maxResults"), p.get("nextToken"))
    return {"domains": [domain_summary(d) for d in items], "nextToken": token}


def delete_domain(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"domain": domain_description(s.domains.delete(c, p["domain"], p.get("domainOwner")))}


def create_repository(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    repo = s.repositories.create(
        c, p["domain"], p.get("domainOwner"), p["repository"], p.get("description"), _upstreams(p) or [], _tags(p)
    )
    return {"repository": repository_description(repo)}


def describe_repository(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    repo = s.repositories.describe(c, p["domain"], p.get("domainOwner"), p["repository"])
    return {"repository": repository_description(repo)}


def update_repository(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    repo = s.repositories.update(
        c, p["domain"], p.get("domainOwner"), p["repository"], p.get("description"), _upstreams(p)
    )
    return {"repository": repository_description(repo)}


def delete_repository(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    repo = s.repositories.delete(c, p["domain"], p.get("domainOwner"), p["repository"])
    return {"repository": repository_description(repo)}


def associate_external_connection(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    repo = s.repositories.associate_external_connection(
        c, p["domain"], p.get("domainOwner"), p["repository"], p["externalConnection"]
    )
    return {"repository": repository_description(repo)}


def disassociate_external_connection(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    repo = s.repositories.disassociate_external_connection(
        c, p["domain"], p.get("domainOwner"), p["repository"], p["externalConnection"]
    )
    return {"repository": repository_description(repo)}


def list_repositories(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    items, token = s.repositories.list_page(c, p.get("repositoryPrefix"), p.get("maxResults"), p.get("nextToken"))
    return {"repositories": [repository_summary(r) for r in items], "nextToken": token}


def list_repositories_in_domain(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    items, token = s.repositories.list_in_domain(
        c,
        p["domain"],
        p.get("domainOwner"),
        p.get("administratorAccount"),
        p.get("repositoryPrefix"),
        p.get("maxResults"),
        p.get("nextToken"),
    )
    return {"repositories": [repository_summary(r) for r in items], "nextToken": token}


def get_repository_endpoint(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    url = s.repositories.endpoint(c, p["domain"], p.get("domainOwner"), p["repository"], p["format"])
    return {"repositoryEndpoint": url}


def put_domain_permissions_policy(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    policy = s.domains.put_policy(c, p["domain"], p.get("domainOwner"), p["policyDocument"], p.get("policyRevision"))
    return {"policy": resource_policy(policy)}


def get_domain_permissions_policy(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    return {"policy": resource_policy(s.domains.get_policy(c, p["domain"], p.get("domainOwner")))}


def delete_domain_permissions_policy(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    policy = s.domains.delete_policy(c, p["domain"], p.get("domainOwner"), p.get("policyRevision"))
    return {"policy": resource_policy(policy)}


def put_repository_permissions_policy(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    policy = s.repositories.put_policy(
        c, p["domain"], p.get("domainOwner"), p["repository"], p["policyDocument"], p.get("policyRevision")
    )
    return {"policy": resource_policy(policy)}


def get_repository_permissions_policy(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    policy = s.repositories.get_policy(c, p["domain"], p.get("domainOwner"), p["repository"])
    return {"policy": resource_policy(policy)}


def delete_repository_permissions_policy(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    policy = s.repositories.delete_policy(
        c, p["domain"], p.get("domainOwner"), p["repository"], p.get("policyRevision")
    )
    return {"policy": resource_policy(policy)}


def tag_resource(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    s.tags.tag(c, p["resourceArn"], _tags(p))
    return {}


def untag_resource(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    s.tags.untag(c, p["resourceArn"], list(p["tagKeys"]))
    return {}


def list_tags_for_resource(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    tags = s.tags.list_tags(c, p["resourceArn"])
    return {"tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]}


def get_authorization_token(s: CodeArtifactServices, c: Caller, p: Params) -> Result:
    issued = s.tokens.issue(c, p["domain"], p.get("domainOwner"), p.get("durationSeconds"))
    return {"authorizationToken": issued.token, "expiration": issued.expiration}


HANDLERS: dict[str, Handler] = {
    "CreateDomain": create_domain,
    "DescribeDomain": describe_domain,
    "ListDomains": list_domains,
    "DeleteDomain": delete_domain,
    "CreateRepository": create_repository,
    "DescribeRepository": describe_repository,
    "UpdateRepository": update_repository,
    "DeleteRepository": delete_repository,
    "AssociateExternalConnection": associate_external_connection,
    "DisassociateExternalConnection": disassociate_external_connection,
    "ListRepositories": list_repositories,
    "ListRepositoriesInDomain": list_repositories_in_domain,
    "GetRepositoryEndpoint": get_repository_endpoint,
    "PutDomainPermissionsPolicy": put_domain_permissions_policy,
    "GetDomainPermissionsPolicy": get_domain_permissions_policy,
    "DeleteDomainPermissionsPolicy": delete_domain_permissions_policy,
    "PutRepositoryPermissionsPolicy": put_repository_permissions_policy,
    "GetRepositoryPermissionsPolicy": get_repository_permissions_policy,
    "DeleteRepositoryPermissionsPolicy": delete_repository_permissions_policy,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "GetAuthorizationToken": get_authorization_token,
}

# The package operations live in their own module, which needs the names above (hence the late import).
from coffer.aws.handlers.packages import PACKAGE_HANDLERS  # noqa: E402

HANDLERS.update(PACKAGE_HANDLERS)

from coffer.aws.handlers.package_groups import PACKAGE_GROUP_HANDLERS  # noqa: E402

HANDLERS.update(PACKAGE_GROUP_HANDLERS)
