"""The ports core needs from the outside world, as Protocols. Adapters implement them.

Store contract (every implementation must honour it; ``tests/contract`` checks it on each backend):
- Every method is atomic: it either fully happens or not at all, also if the process dies mid-call.
- Lookups return ``None`` when the thing is absent; mutations of absent things raise
  ``ResourceNotFoundError``; creating something that exists raises ``ConflictError``.
- Listings are ordered by the key named in the method's doc and start strictly after ``after``.
"""

from __future__ import annotations

from typing import Protocol

from coffer.core.codeartifact.resource_store import DomainStore, PolicyStore, RepositoryStore, RevocationStore
from coffer.core.identity.identity_store import IamStore, IdentityStore
from coffer.core.packages.package_group_store import PackageGroupStore
from coffer.core.packages.package_store import PackageStore
from coffer.core.shared.clock import Clock
from coffer.core.shared.tag_store import TagStore

__all__ = ["Clock", "Store"]


class Store(
    IdentityStore,
    DomainStore,
    RepositoryStore,
    PolicyStore,
    TagStore,
    PackageStore,
    PackageGroupStore,
    RevocationStore,
    IamStore,
    Protocol,
):
    """Everything core persists. ``close()`` releases connections."""

    def close(self) -> None: ...
