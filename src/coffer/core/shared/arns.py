"""ARNs of CodeArtifact and IAM resources (spec §4)."""

from __future__ import annotations

from urllib.parse import quote


def domain_arn(region: str, owner: str, domain: str) -> str:
    return f"arn:aws:codeartifact:{region}:{owner}:domain/{domain}"


def repository_arn(region: str, owner: str, domain: str, repository: str) -> str:
    return f"arn:aws:codeartifact:{region}:{owner}:repository/{domain}/{repository}"


def package_arn(
    region: str, owner: str, domain: str, repository: str, fmt: str, namespace: str | None, package: str
) -> str:
    return f"arn:aws:codeartifact:{region}:{owner}:package/{domain}/{repository}/{fmt}/{namespace or ''}/{package}"


def package_group_arn(region: str, owner: str, domain: str, pattern: str) -> str:
    """``package-group/${DomainName}${EncodedPackageGroupPattern}`` (IAM's resource type): the pattern, which starts
    with ``/``, percent-encoded except for ``/`` and the unreserved characters (the root ``/*`` is ``/%2A``)."""
    return f"arn:aws:codeartifact:{region}:{owner}:package-group/{domain}{quote(pattern, safe='/')}"


def kms_key_arn(region: str, owner: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{owner}:key/{key_id}"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def user_arn(account_id: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account_id}:user{path}{name}"


def parse_codeartifact_arn(arn: str) -> tuple[str, str, str, tuple[str, ...]] | None:
    """Split ``arn:aws:codeartifact:REGION:OWNER:TYPE/a/b`` into (region, owner, type, parts); None if not one."""
    pieces = arn.split(":", 5)
    if len(pieces) != 6 or pieces[0] != "arn" or pieces[1] != "aws" or pieces[2] != "codeartifact":
        return None
    region, owner, rest = pieces[3], pieces[4], pieces[5]
    kind, _, tail = rest.partition("/")
    if not tail:
        return None
    return region, owner, kind, tuple(tail.split("/"))
