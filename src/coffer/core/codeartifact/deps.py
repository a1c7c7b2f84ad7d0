"""What every CodeArtifact service needs, and the lookups they share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from coffer.core.codeartifact.resources import Domain, Repository
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller
from coffer.core.policy import PolicyDocument, parse_policy
from coffer.core.ports import Store
from coffer.core.shared.arns import domain_arn, repository_arn
from coffer.core.shared.cache import TtlCache
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ResourceNotFoundError
from coffer.core.shared.pagination import Paginator

DEFAULT_MAX_RESULTS = 100


@functools.lru_cache(maxsize=1024)
def parse_resource_policy(document: str) -> PolicyDocument:
    """Stored resource policies are parsed once per distinct text."""
    return parse_policy(document, "resource")


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    region: str
    authorizer: Authorizer
    paginator: Paginator
    cache_ttl: float = 1.0
    # Resource policies and domain existence are read by nearly every request (GetAuthorizationToken, each
    # package download) and rarely written: cached briefly, dropped at once by writes through this process.
    _policies: TtlCache[str, PolicyDocument | None] = field(init=False, repr=False, compare=False)
    _domains: TtlCache[tuple[str, str], bool] = field(init=False, repr=False, compare=False)
    _repositories: TtlCache[tuple[str, str, str], Repository | None] = field(init=False, repr=False, compare=False)
    _listeners: list[Callable[[], None]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_policies", TtlCache(self.clock, self.cache_ttl))
        object.__setattr__(self, "_domains", TtlCache(self.clock, self.cache_ttl))
        object.__setattr__(self, "_repositories", TtlCache(self.clock, self.cache_ttl))
        object.__setattr__(self, "_listeners", [])

    def on_invalidate(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` at every ``invalidate()``: for caches built from repositories, domains, policies or
        package groups (the package service's views)."""
        self._listeners.append(listener)

    def invalidate(self) -> None:
        """Forget cached policies, domains and repositories, and what the listeners keep of them (after a write
        through this process: a repository's upstreams or external connections, a domain, a policy, a group)."""
        self._policies.invalidate()
        self._domains.invalidate()
        self._repositories.invalidate()
        for listener in self._listeners:
            listener()

    def cached_repository(self, owner: str, domain: str, name: str) -> Repository | None:
        """The repository as the package endpoints see it (upstreams included), cached like policies."""
        return self._repositories.get_or_load((owner, domain, name), self._load_repository)

    def _load_repository(self, key: tuple[str, str, str]) -> Repository | None:
        return self.store.get_repository(*key)

    def owner_of(self, caller: Caller, domain_owner: str | None) -> str:
        return domain_owner or caller.account_id

    def domain_arn(self, owner: str, domain: str) -> str:
        return domain_arn(self.region, owner, domain)

    def repository_arn(self, owner: str, domain: str, repository: str) -> str:
        return repository_arn(self.region, owner, domain, repository)

    def resource_policy(self, arn: str) -> PolicyDocument | None:
        return self._policies.get_or_load(arn, self._load_policy)

    def _load_policy(self, arn: str) -> PolicyDocument | None:
        stored = self.store.get_resource_policy(arn)
        return None if stored is None else parse_resource_policy(stored.document)

    def domain_exists(self, owner: str, name: str) -> bool:
        return self._domains.get_or_load((owner, name), self._load_domain_exists)

    def _load_domain_exists(self, key: tuple[str, str]) -> bool:
        return self.store.get_domain(*key) is not None

    def authorize_domain(self, caller: Caller, action: str, owner: str, domain: str) -> str:
        """Authorize ``codeartifact:<action>`` on the domain (with its resource policy); returns the ARN."""
        return self._authorize(caller, action, owner, self.domain_arn(owner, domain))

    def authorize_repository(self, caller: Caller, action: str, owner: str, domain: str, repository: str) -> str:
        """Authorize ``codeartifact:<action>`` on the repository (with its resource policy); returns the ARN."""
        return self._authorize(caller, action, owner, self.repository_arn(owner, domain, repository))

    def authorize_resource(self, caller: Caller, action: str, owner: str, arn: str) -> str:
        """Authorize ``codeartifact:<action>`` on any CodeArtifact resource ``arn`` owned by ``owner`` (with its
        resource policy, if it has one); returns the ARN. For resources without a helper of their own (package
        groups)."""
        return self._authorize(caller, action, owner, arn)

    def _authorize(self, caller: Caller, action: str, owner: str, arn: str) -> str:
        self.authorizer.require(
            caller, f"codeartifact:{action}", arn, resource_account=owner, resource_policy=self.resource_policy(arn)
        )
        return arn

    def require_domain(self, owner: str, name: str) -> Domain:
        domain = self.store.get_domain(owner, name)
        if domain is None:
            raise ResourceNotFoundError(f"Domain {name} not found in account {owner}", name, "domain")
        return domain

    def require_repository(self, owner: str, domain: str, name: str) -> Repository:
        self.require_domain(owner, domain)
        repo = self.store.get_repository(owner, domain, name)
        if repo is None:
            raise ResourceNotFoundError(
                f"Repository {name} not found in domain {domain} owned by {owner}", name, "repository"
            )
        return repo

    def page_size(self, max_results: int | None) -> int:
        return max_results or DEFAULT_MAX_RESULTS
