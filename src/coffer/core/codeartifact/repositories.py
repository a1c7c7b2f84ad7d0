"""Repositories: create, describe, update, delete, list, endpoints, and their permissions policies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from coffer.core.codeartifact import permissions
from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.external_connections import EXTERNAL_CONNECTIONS
from coffer.core.codeartifact.resources import ExternalConnection, Repository, ResourcePolicy
from coffer.core.identity.callers import Caller
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ServiceQuotaExceededError, ValidationError

MAX_DIRECT_UPSTREAMS = 10
MAX_UPSTREAM_GRAPH = 25
MAX_REPOSITORIES_PER_DOMAIN = 1000
ENDPOINT_FORMATS = ("npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo")  # the model's enum
SERVED_FORMATS = frozenset({"npm", "pypi"})
"""The formats package clients can use: the one list to extend when a format gets its endpoint. GetRepositoryEndpoint
refuses the others, and their paths answer 404 (``unserved_format_message``)."""
UNSERVED_FORMATS = tuple(f for f in ENDPOINT_FORMATS if f not in SERVED_FORMATS)


def unserved_format_message(fmt: str) -> str:
    served = ", ".join(sorted(SERVED_FORMATS))
    if fmt == "generic":
        return (
            "Generic packages have no package-client endpoint: publish and read them with the API "
            "(PublishPackageVersion, GetPackageVersionAsset); only "
            f"{served} repositories can be used by package clients"
        )
    return f"Coffer does not serve the {fmt} format yet; only {served} repositories can be used by package clients"


def endpoint_url(
    base_url: str, dns_suffix: str | None, region: str, domain: str, owner: str, fmt: str, repository: str
) -> str:
    """A repository's endpoint: path style ``{base_url}/{fmt}/d/{domain}-{owner}/{repository}/``, or with a DNS
    suffix AWS's host style ``{scheme}://{domain}-{owner}.d.codeartifact.{region}.{dns_suffix}[:{port}]/{fmt}/
    {repository}/`` with the scheme and port of ``base_url`` (any path of ``base_url`` is not part of it)."""
    if dns_suffix is None:
        return f"{base_url}/{fmt}/d/{domain}-{owner}/{repository}/"
    parts = urlsplit(base_url)
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{domain}-{owner}.d.codeartifact.{region}.{dns_suffix}{port}/{fmt}/{repository}/"


class RepositoryService:
    def __init__(self, deps: Deps, base_url: Callable[[], str], endpoint_dns_suffix: str | None = None) -> None:
        """Endpoints are path style under ``base_url()``, host style with ``endpoint_dns_suffix`` (``endpoint_url``)."""
        self._d = deps
        self._base_url = base_url
        self._dns_suffix = endpoint_dns_suffix

    def _check_upstreams(self, owner: str, domain: str, name: str, upstreams: Sequence[str]) -> None:
        if len(upstreams) > MAX_DIRECT_UPSTREAMS:
            raise ServiceQuotaExceededError(
                f"A repository can have at most {MAX_DIRECT_UPSTREAMS} direct upstream repositories", name, "repository"
            )
        if len(set(upstreams)) != len(upstreams):
            raise ValidationError("The list of upstream repositories contains duplicates")
        if name in upstreams:
            raise ValidationError(f"Repository {name} cannot be an upstream of itself")
        # Walk the graph the new upstreams reach: a path back to `name` is a cycle; its size is capped.
        seen: set[str] = set()
        stack = list(upstreams)
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            repo = self._d.store.get_repository(owner, domain, current)
            if repo is None:
                raise ResourceNotFoundError(
                    f"Upstream repository {current} not found in domain {domain}", current, "repository"
                )
            for nxt in repo.upstreams:
                if nxt == name:
                    raise ValidationError(
                        f"Adding upstream {current} to {name} would create a cycle in the repository graph"
                    )
                stack.append(nxt)
        if len(seen) > MAX_UPSTREAM_GRAPH:
            raise ServiceQuotaExceededError(
                f"A repository can reach at most {MAX_UPSTREAM_GRAPH} upstream repositories in all", name, "repository"
            )

    def create(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        name: str,
        description: str | None,
        upstreams: Sequence[str],
        tags: Mapping[str, str] | None = None,
    ) -> Repository:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.authorize_repository(caller, "CreateRepository", owner, domain, name)
        dom = self._d.require_domain(owner, domain)
        if self._d.store.get_repository(owner, domain, name) is not None:
            raise ConflictError(f"Repository {name} already exists in domain {domain}", name, "repository")
        if dom.repository_count >= MAX_REPOSITORIES_PER_DOMAIN:
            raise ServiceQuotaExceededError(
                f"Domain {domain} already has {MAX_REPOSITORIES_PER_DOMAIN} repositories", domain, "domain"
            )
        self._check_upstreams(owner, domain, name, upstreams)
        repo = Repository(
            domain_name=domain,
            domain_owner=owner,
            name=name,
            arn=arn,
            administrator_account=caller.account_id,
            created_time=self._d.clock(),
            description=description or "",
            upstreams=tuple(upstreams),
        )
        self._d.store.create_repository(repo, dict(tags or {}))
        self._d.invalidate()
        return repo

    def describe(self, caller: Caller, domain: str, domain_owner: str | None, name: str) -> Repository:
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_repository(caller, "DescribeRepository", owner, domain, name)
        return self._d.require_repository(owner, domain, name)

    def update(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        name: str,
        description: str | None,
        upstreams: Sequence[str] | None,
    ) -> Repository:
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_repository(caller, "UpdateRepository", owner, domain, name)
        current = self._d.require_repository(owner, domain, name)
        new_upstreams = current.upstreams if upstreams is None else tuple(upstreams)
        if upstreams is not None:
            self._check_upstreams(owner, domain, name, new_upstreams)
        updated = Repository(
            domain_name=current.domain_name,
            domain_owner=current.domain_owner,
            name=current.name,
            arn=current.arn,
            administrator_account=current.administrator_account,
            created_time=current.created_time,
            description=current.description if description is None else description,
            upstreams=new_upstreams,
            external_connections=current.external_connections,
        )
        self._d.store.update_repository(updated)
        self._d.invalidate()
        return updated

    def associate_external_connection(
        self, caller: Caller, domain: str, domain_owner: str | None, name: str, connection: str
    ) -> Repository:
        """AssociateExternalConnection: one public registry per repository (AWS's limit)."""
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_repository(caller, "AssociateExternalConnection", owner, domain, name)
        current = self._d.require_repository(owner, domain, name)
        package_format = EXTERNAL_CONNECTIONS.get(connection)
        if package_format is None:
            raise ValidationError(
                f"{connection} is not an external connection; use one of {', '.join(sorted(EXTERNAL_CONNECTIONS))}"
            )
        if any(c.name == connection for c in current.external_connections):
            raise ConflictError(
                f"Repository {name} already has the external connection {connection}", name, "repository"
            )
        if current.external_connections:
            raise ServiceQuotaExceededError(
                f"Repository {name} already has the external connection {current.external_connections[0].name}: "
                "a repository can have one external connection",
                name,
                "repository",
            )
        added = ExternalConnection(name=connection, package_format=package_format)
        return self._replace_connections(current, (added,))

    def disassociate_external_connection(
        self, caller: Caller, domain: str, domain_owner: str | None, name: str, connection: str
    ) -> Repository:
        """DisassociateExternalConnection; versions fetched through it stay retained in the repository."""
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_repository(caller, "DisassociateExternalConnection", owner, domain, name)
        current = self._d.require_repository(owner, domain, name)
        if not any(c.name == connection for c in current.external_connections):
            raise ResourceNotFoundError(
                f"Repository {name} has no external connection {connection}", connection, "external-connection"
            )
        kept = tuple(c for c in current.external_connections if c.name != connection)
        return self._replace_connections(current, kept)

    def _replace_connections(self, current: Repository, connections: tuple[ExternalConnection, ...]) -> Repository:
        expected = [c.name for c in current.external_connections]
        self._d.store.set_external_connections(
            current.domain_owner, current.domain_name, current.name, connections, expected=expected
        )
        self._d.invalidate()
        return dataclasses.replace(current, external_connections=connections)

    def delete(self, caller: Caller, domain: str, domain_owner: str | None, name: str) -> Repository:
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_repository(caller, "DeleteRepository", owner, domain, name)
        self._d.require_repository(owner, domain, name)
        deleted = self._d.store.delete_repository(owner, domain, name)
        self._d.invalidate()
        return deleted

    def list_page(
        self,
        caller: Caller,
        prefix: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[Repository], str | None]:
        """ListRepositories: repositories administered by the caller's account."""
        self._d.authorizer.require(caller, "codeartifact:ListRepositories", "*")
        scope = ("ListRepositories", caller.account_id, prefix or "")
        return self._page(caller, scope, next_token, max_results, caller.account_id, None, None, prefix)

    def list_in_domain(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        administrator_account: str | None,
        prefix: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[Repository], str | None]:
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_domain(caller, "ListRepositoriesInDomain", owner, domain)
        self._d.require_domain(owner, domain)
        scope = ("ListRepositoriesInDomain", owner, domain, administrator_account or "", prefix or "")
        return self._page(caller, scope, next_token, max_results, administrator_account, owner, domain, prefix)

    def _page(
        self,
        caller: Caller,
        scope: tuple[str, ...],
        next_token: str | None,
        max_results: int | None,
        administrator_account: str | None,
        owner: str | None,
        domain: str | None,
        prefix: str | None,
    ) -> tuple[list[Repository], str | None]:
        """One page of repositories matching the filters; ``scope`` binds the continuation token to them."""
        after = self._d.paginator.decode(scope, next_token, caller)
        page = self._d.store.list_repositories(
            administrator_account=administrator_account,
            owner=owner,
            domain=domain,
            prefix=prefix,
            after=after,
            limit=self._d.page_size(max_results),
        )
        return list(page.items), self._d.paginator.encode(scope, page.next_key, caller)

    def endpoint(self, caller: Caller, domain: str, domain_owner: str | None, name: str, fmt: str) -> str:
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_repository(caller, "GetRepositoryEndpoint", owner, domain, name)
        self._d.require_repository(owner, domain, name)
        if fmt not in ENDPOINT_FORMATS:
            raise ValidationError(f"Unsupported package format {fmt}")
        if fmt not in SERVED_FORMATS:
            raise ValidationError(unserved_format_message(fmt))
        return endpoint_url(self._base_url(), self._dns_suffix, self._d.region, domain, owner, fmt, name)

    # --- permissions policy -------------------------------------------------------------------------------

    def put_policy(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        name: str,
        document: str,
        revision: str | None,
    ) -> ResourcePolicy:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.repository_arn(owner, domain, name)
        # Ignores the existing resource policy, like AWS, so an owner cannot lock itself out.
        self._d.authorizer.require(
            caller, "codeartifact:PutRepositoryPermissionsPolicy", arn, resource_account=owner, resource_policy=None
        )
        self._d.require_repository(owner, domain, name)
        policy = permissions.put_policy(self._d.store, arn, document, revision)
        self._d.invalidate()
        return policy

    def get_policy(self, caller: Caller, domain: str, domain_owner: str | None, name: str) -> ResourcePolicy:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.authorize_repository(caller, "GetRepositoryPermissionsPolicy", owner, domain, name)
        self._d.require_repository(owner, domain, name)
        return permissions.get_policy(self._d.store, arn, "repository", name)

    def delete_policy(
        self, caller: Caller, domain: str, domain_owner: str | None, name: str, revision: str | None
    ) -> ResourcePolicy:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.authorize_repository(caller, "DeleteRepositoryPermissionsPolicy", owner, domain, name)
        self._d.require_repository(owner, domain, name)
        policy = permissions.delete_policy(self._d.store, arn, revision)
        self._d.invalidate()
        return policy
