"""Wiring: the one place that turns a store, key ring and settings into core's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coffer.core.authz import Authorizer
from coffer.core.clock import system_clock
from coffer.core.codeartifact import (
    AuthorizationTokenService,
    Deps,
    DomainService,
    RepositoryService,
    TagService,
)
from coffer.core.identity import IdentityService
from coffer.core.pagination import Paginator
from coffer.core.ports import Clock, Store
from coffer.core.tokens import KeyRing


@dataclass(frozen=True)
class Services:
    identities: IdentityService
    domains: DomainService
    repositories: RepositoryService
    tags: TagService
    tokens: AuthorizationTokenService


def build_services(
    store: Store,
    region: str,
    key_ring: Callable[[], KeyRing],
    base_url: Callable[[], str],
    clock: Clock = system_clock,
) -> Services:
    identities = IdentityService(store, clock)
    deps = Deps(
        store=store,
        clock=clock,
        region=region,
        authorizer=Authorizer(clock, region),
        paginator=Paginator(key_ring),
    )
    return Services(
        identities=identities,
        domains=DomainService(deps),
        repositories=RepositoryService(deps, base_url),
        tags=TagService(deps),
        tokens=AuthorizationTokenService(deps, identities, key_ring),
    )
