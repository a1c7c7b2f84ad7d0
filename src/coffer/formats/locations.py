"""Which repository a package endpoint's path names: ``/{format}/d/{domain}-{owner}/{repository}/...`` (path
style, as CodeArtifact's VPC endpoints spell it; host-style URLs are mapped onto it by ``host_style``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from coffer.core.packages.package_models import RepoRef

_OWNER = re.compile(r"[0-9]{12}")
#: every method reaches an endpoint's handler: every request is authenticated, whatever it asks
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(frozen=True)
class Location:
    repo: RepoRef
    base: str  # the endpoint's path, ending in '/'


@functools.lru_cache(maxsize=1024)  # pure; every request of a client names the same few repositories
def parse_location(prefix: str, domain_and_owner: str, repository: str) -> Location | None:
    """``{domain}-{owner}`` split on the last '-' (owner: 12 digits) under ``prefix`` (``/pypi/d``); None if it
    does not name a repository."""
    domain, sep, owner = domain_and_owner.rpartition("-")
    if not sep or not domain or not _OWNER.fullmatch(owner) or not repository:
        return None
    base = f"{prefix}/{quote(domain_and_owner)}/{quote(repository)}/"
    return Location(RepoRef(domain_owner=owner, domain=domain, name=repository), base)


def repository_routes(prefix: str, handle: Callable[[Request], Awaitable[Response]]) -> list[BaseRoute]:
    """The routes of every repository of one format: ``{prefix}/{domain}-{owner}/{repository}[/{rest}]``."""
    return [
        Route(prefix + "/{domain_owner}/{repository}", handle, methods=ALL_METHODS),
        Route(prefix + "/{domain_owner}/{repository}/{rest:path}", handle, methods=ALL_METHODS),
    ]
