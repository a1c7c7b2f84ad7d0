"""Domains: create, describe, list, delete, and their permissions policies."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from coffer.core.codeartifact import permissions
from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Domain, ResourcePolicy
from coffer.core.identity.callers import Caller
from coffer.core.shared.arns import kms_key_arn
from coffer.core.shared.errors import ConflictError
from coffer.core.shared.pagination import Page


class DomainService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    def create(
        self, caller: Caller, name: str, encryption_key: str | None, tags: Mapping[str, str] | None = None
    ) -> Domain:
        owner = caller.account_id
        arn = self._d.authorize_domain(caller, "CreateDomain", owner, name)
        if self._d.store.get_domain(owner, name) is not None:
            raise ConflictError(f"Domain {name} already exists in account {owner}", name, "domain")
        key = encryption_key or kms_key_arn(self._d.region, owner, str(uuid.uuid5(uuid.NAMESPACE_URL, arn)))
        domain = Domain(name=name, owner=owner, arn=arn, created_time=self._d.clock(), encryption_key=key)
        self._d.store.create_domain(domain, dict(tags or {}))
        self._d.invalidate()
        return domain

    def describe(self, caller: Caller, name: str, domain_owner: str | None) -> Domain:
        """DescribeDomain. ``asset_size_bytes`` is the storage the domain holds, as CodeArtifact accounts it: the
        sizes of the assets of its repositories' versions (not Disposed), each content counted once per domain
        however many repositories hold it; deleting or disposing a version lowers it at once (see the store's
        ``get_domain``). DescribeRepository and the listings have no size field in AWS's model."""
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_domain(caller, "DescribeDomain", owner, name)
        domain = self._d.store.get_domain(owner, name, with_size=True)
        if domain is None:
            return self._d.require_domain(owner, name)  # raises ResourceNotFoundException
        return domain

    def list_page(
        self, caller: Caller, max_results: int | None, next_token: str | None
    ) -> tuple[list[Domain], str | None]:
        self._d.authorizer.require(caller, "codeartifact:ListDomains", "*")
        scope = ("ListDomains", caller.account_id)
        after = self._d.paginator.decode(scope, next_token, caller)
        page: Page[Domain] = self._d.store.list_domains(caller.account_id, after, self._d.page_size(max_results))
        return list(page.items), self._d.paginator.encode(scope, page.next_key, caller)

    def delete(self, caller: Caller, name: str, domain_owner: str | None) -> Domain:
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_domain(caller, "DeleteDomain", owner, name)
        self._d.require_domain(owner, name)
        deleted = self._d.store.delete_domain(owner, name)
        self._d.invalidate()
        return deleted

    # --- permissions policy -------------------------------------------------------------------------------

    def put_policy(
        self, caller: Caller, name: str, domain_owner: str | None, document: str, revision: str | None
    ) -> ResourcePolicy:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.domain_arn(owner, name)
        # Put*PermissionsPolicy ignores the existing resource policy so an owner cannot lock itself out.
        self._d.authorizer.require(
            caller, "codeartifact:PutDomainPermissionsPolicy", arn, resource_account=owner, resource_policy=None
        )
        self._d.require_domain(owner, name)
        policy = permissions.put_policy(self._d.store, arn, document, revision)
        self._d.invalidate()
        return policy

    def get_policy(self, caller: Caller, name: str, domain_owner: str | None) -> ResourcePolicy:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.authorize_domain(caller, "GetDomainPermissionsPolicy", owner, name)
        self._d.require_domain(owner, name)
        return permissions.get_policy(self._d.store, arn, "domain", name)

    def delete_policy(
        self, caller: Caller, name: str, domain_owner: str | None, revision: str | None
    ) -> ResourcePolicy:
        owner = self._d.owner_of(caller, domain_owner)
        arn = self._d.authorize_domain(caller, "DeleteDomainPermissionsPolicy", owner, name)
        self._d.require_domain(owner, name)
        policy = permissions.delete_policy(self._d.store, arn, revision)
        self._d.invalidate()
        return policy
