"""Resource (permissions) policies on domains and repositories: validated, revisioned, optimistic."""

from __future__ import annotations

from coffer.core.codeartifact.resource_store import PolicyStore
from coffer.core.codeartifact.resources import ResourcePolicy
from coffer.core.policy import parse_policy
from coffer.core.shared.errors import ResourceNotFoundError

MAX_RESOURCE_POLICY_LENGTH = 5120


def put_policy(store: PolicyStore, arn: str, document: str, revision: str | None) -> ResourcePolicy:
    parse_policy(document, "resource", max_size=MAX_RESOURCE_POLICY_LENGTH)
    return store.put_resource_policy(arn, document, revision)


def get_policy(store: PolicyStore, arn: str, kind: str, name: str) -> ResourcePolicy:
    policy = store.get_resource_policy(arn)
    if policy is None:
        raise ResourceNotFoundError(f"No resource policy is set on {kind} {name}", name, kind)
    return policy


def delete_policy(store: PolicyStore, arn: str, revision: str | None) -> ResourcePolicy:
    return store.delete_resource_policy(arn, revision)
