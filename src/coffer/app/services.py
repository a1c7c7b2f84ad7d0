"""Wiring: the one place that turns a store, key ring and settings into core's services."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from coffer.core.codeartifact import (
    AuthorizationTokenService,
    Deps,
    DomainService,
    RepositoryService,
    TagService,
)
from coffer.core.codeartifact.resource_store import RevocationStore
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.iam_service import IamService
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.identity.sts import StsService
from coffer.core.packages.package_group_service import PackageGroupService
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_store import BlobStore
from coffer.core.packages.upstream_cache import UpstreamCaches
from coffer.core.packages.upstreams import UpstreamRegistry
from coffer.core.ports import Store
from coffer.core.shared.blocking import may_block
from coffer.core.shared.clock import Clock, system_clock
from coffer.core.shared.pagination import Paginator
from coffer.core.shared.signing import KeyRing
from coffer.settings import DEFAULT_CACHE_TTL, DEFAULT_UPSTREAM_TTL


class RevocationCache:
    """``is_revoked`` for token verification: the store's list of revoked, unexpired token ids, re-read at most
    once per ``ttl`` seconds (so ``coffer admin revoke-token`` ends a token everywhere within a second) and
    shared by every request thread."""

    def __init__(
        self,
        store: RevocationStore,
        clock: Clock = system_clock,
        ttl: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._revoked: frozenset[str] = frozenset()
        self._loaded_at: float | None = None

    def _fresh(self) -> bool:
        loaded = self._loaded_at
        return loaded is not None and 0 <= self._monotonic() - loaded < self._ttl

    def revoked(self) -> frozenset[str]:
        if not self._fresh():
            may_block()  # the store's read, or another thread's under the lock
            with self._lock:
                if not self._fresh():  # another thread may have refreshed while we waited
                    started = self._monotonic()
                    self._revoked = frozenset(self._store.revoked_tokens(self._clock()))
                    self._loaded_at = started
        return self._revoked

    def __call__(self, token_id: str) -> bool:
        return token_id in self.revoked()


@dataclass(frozen=True)
class Services:
    identities: IdentityService
    domains: DomainService
    repositories: RepositoryService
    tags: TagService
    tokens: AuthorizationTokenService
    packages: PackageService
    package_groups: PackageGroupService
    sts: StsService
    iam: IamService
    paginator: Paginator


def build_services(
    store: Store,
    region: str,
    key_ring: Callable[[], KeyRing],
    base_url: Callable[[], str],
    blobs: BlobStore,
    clock: Clock = system_clock,
    endpoint_dns_suffix: str | None = None,
    cache_ttl: float = DEFAULT_CACHE_TTL,
    upstreams: UpstreamRegistry | None = None,
    upstream_ttl: float = DEFAULT_UPSTREAM_TTL,
    max_fetch_bytes: int = 0,
) -> Services:
    """``endpoint_dns_suffix``: GetRepositoryEndpoint answers host-style URLs under it (else path style). The
    caches live ``cache_ttl`` seconds (``Settings.cache_ttl``, ``COFFER_CACHE_TTL``). ``upstreams``: the
    registries external connections fetch from (None: nothing is fetched), their project pages fresh for
    ``upstream_ttl`` seconds."""
    identities = IdentityService(store, clock, cache_ttl)
    deps = Deps(
        store=store,
        clock=clock,
        region=region,
        authorizer=Authorizer(clock, region),
        paginator=Paginator(key_ring),
        cache_ttl=cache_ttl,
    )
    package_groups = PackageGroupService(deps)
    return Services(
        identities=identities,
        domains=DomainService(deps),
        repositories=RepositoryService(deps, base_url, endpoint_dns_suffix),
        tags=TagService(deps),
        tokens=AuthorizationTokenService(
            deps, identities, key_ring, is_revoked=RevocationCache(store, clock, cache_ttl)
        ),
        packages=PackageService(
            deps,
            blobs,
            None if upstreams is None else UpstreamCaches(upstreams, clock, upstream_ttl),
            max_fetch_bytes=max_fetch_bytes,
            groups=package_groups,
        ),
        package_groups=package_groups,
        sts=StsService(store, identities, deps.authorizer, clock),
        iam=IamService(store, identities, deps.authorizer, clock),
        paginator=deps.paginator,
    )
