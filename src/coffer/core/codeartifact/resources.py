"""CodeArtifact resources: domains, repositories, their external connections and resource policies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    name: str
    owner: str
    arn: str
    created_time: float
    encryption_key: str
    status: str = "Active"
    repository_count: int = 0
    asset_size_bytes: int = 0


@dataclass(frozen=True)
class ExternalConnection:
    name: str  # e.g. public:pypi
    package_format: str
    status: str = "Available"  # the model's only ExternalConnectionStatus


@dataclass(frozen=True)
class Repository:
    domain_name: str
    domain_owner: str
    name: str
    arn: str
    administrator_account: str
    created_time: float
    description: str = ""
    upstreams: tuple[str, ...] = ()
    external_connections: tuple[ExternalConnection, ...] = ()


@dataclass(frozen=True)
class ResourcePolicy:
    resource_arn: str
    document: str
    revision: str
