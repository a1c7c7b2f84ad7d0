"""What the unit tests of the package service share: a domain in a store, repositories in it, and callers."""

from __future__ import annotations

import json
from typing import Any

from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Domain, ExternalConnection, Repository
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import RepoRef
from coffer.core.policy import parse_policy
from coffer.core.shared.arns import domain_arn, repository_arn, user_arn
from coffer.core.shared.clock import Clock
from coffer.core.shared.pagination import Paginator
from coffer.core.shared.signing import KeyRing, SigningKey
from coffer.store.sql_store import SqlStore
from tests.conftest import Ticker

REGION = "us-east-1"
OWNER = "111122223333"
DOMAIN = "dom"


def deps_on(store: Any, clock: Clock, **options: Any) -> Deps:
    """The services' dependencies on ``store`` (the real one, or a wrapper of it) with ``clock``; ``options`` are
    more ``Deps`` fields (``cache_ttl=1.0``)."""
    ring = KeyRing([SigningKey.generate(0.0)])
    return Deps(
        store=store,
        clock=clock,
        region=REGION,
        authorizer=Authorizer(clock, REGION),
        paginator=Paginator(lambda: ring),
        **options,
    )


def make_deps(store: SqlStore) -> Deps:
    """The service's dependencies on ``store``, with domain ``DOMAIN`` created and a ``Ticker`` clock."""
    deps = deps_on(store, Ticker())
    store.create_domain(
        Domain(name=DOMAIN, owner=OWNER, arn=domain_arn(REGION, OWNER, DOMAIN), created_time=0.0, encryption_key="k"),
        {},
    )
    return deps


def make_repo(
    store: SqlStore, name: str, upstreams: tuple[str, ...] = (), connections: tuple[ExternalConnection, ...] = ()
) -> RepoRef:
    store.create_repository(
        Repository(
            domain_name=DOMAIN,
            domain_owner=OWNER,
            name=name,
            arn=repository_arn(REGION, OWNER, DOMAIN, name),
            administrator_account=OWNER,
            created_time=0.0,
            upstreams=upstreams,
            external_connections=connections,
        ),
        {},
    )
    return RepoRef(OWNER, DOMAIN, name)


def caller(policy: dict[str, Any] | None, name: str = "alice") -> Caller:
    return Caller(
        account_id=OWNER,
        arn=user_arn(OWNER, name),
        user_id="AIDAEXAMPLE" + name.upper(),
        user_name=name,
        kind="user",
        access_key_id="AKIAEXAMPLE",
        policies=() if policy is None else (parse_policy(json.dumps(policy), "identity"),),
    )


ADMIN = caller({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, "admin")
