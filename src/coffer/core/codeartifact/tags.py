"""Tags on domains, repositories and package groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from coffer.core.codeartifact.deps import Deps
from coffer.core.identity.callers import Caller
from coffer.core.shared.arns import package_group_arn, parse_codeartifact_arn
from coffer.core.shared.errors import ResourceNotFoundError, ServiceQuotaExceededError

MAX_TAGS = 50


class TagService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    def _authorize_existing(self, caller: Caller, action: str, arn: str) -> None:
        parsed = parse_codeartifact_arn(arn)
        if parsed is None or parsed[0] != self._d.region:
            raise ResourceNotFoundError(f"Resource {arn} not found", arn)
        _, owner, kind, parts = parsed
        self._d.authorizer.require(
            caller,
            f"codeartifact:{action}",
            arn,
            resource_account=owner,
            resource_policy=self._d.resource_policy(arn),
        )
        exists = (kind == "domain" and len(parts) == 1 and self._d.store.get_domain(owner, parts[0]) is not None) or (
            kind == "repository"
            and len(parts) == 2
            and self._d.store.get_repository(owner, parts[0], parts[1]) is not None
        )
        if kind == "package-group" and len(parts) >= 2:
            exists = self._package_group_exists(owner, parts[0], "/" + "/".join(parts[1:]), arn)
        if not exists:
            raise ResourceNotFoundError(f"Resource {arn} not found", arn, kind if kind else None)

    def _package_group_exists(self, owner: str, domain: str, encoded_pattern: str, arn: str) -> bool:
        """A package group by its ARN as Coffer spells it (``package_group_arn``); the root ``/*`` exists with its
        domain (it is stored only once changed)."""
        pattern = unquote(encoded_pattern)
        if package_group_arn(self._d.region, owner, domain, pattern) != arn:
            return False
        if pattern == "/*":
            return self._d.store.get_domain(owner, domain) is not None
        return self._d.store.get_package_group(owner, domain, pattern) is not None

    def list_tags(self, caller: Caller, arn: str) -> dict[str, str]:
        self._authorize_existing(caller, "ListTagsForResource", arn)
        return self._d.store.get_tags(arn)

    def tag(self, caller: Caller, arn: str, tags: Mapping[str, str]) -> None:
        self._authorize_existing(caller, "TagResource", arn)
        merged = {**self._d.store.get_tags(arn), **tags}
        if len(merged) > MAX_TAGS:
            raise ServiceQuotaExceededError(f"A resource can have at most {MAX_TAGS} tags", arn)
        self._d.store.tag_resource(arn, tags)

    def untag(self, caller: Caller, arn: str, keys: Sequence[str]) -> None:
        self._authorize_existing(caller, "UntagResource", arn)
        self._d.store.untag_resource(arn, keys)
