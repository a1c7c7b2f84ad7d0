"""Which repository a package endpoint's path names: ``/{format}/d/{domain}-{owner}/{repository}/...`` (path
style, as CodeArtifact's VPC endpoints spell it; host-style URLs are mapped onto it by ``host_style``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from coffer.core.packages.package_models import RepoRef

_OWNER = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class Location:
    repo: RepoRef
    base: str  # the endpoint's path, ending in '/'


def parse_location(prefix: str, domain_and_owner: str, repository: str) -> Location | None:
    """``{domain}-{owner}`` split on the last '-' (owner: 12 digits) under ``prefix`` (``/pypi/d``); None if it
    does not name a repository."""
    domain, sep, owner = domain_and_owner.rpartition("-")
    if not sep or not domain or not _OWNER.fullmatch(owner) or not repository:
        return None
    base = f"{prefix}/{quote(domain_and_owner)}/{quote(repository)}/"
    return Location(RepoRef(domain_owner=owner, domain=domain, name=repository), base)
