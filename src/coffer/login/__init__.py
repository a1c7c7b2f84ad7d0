"""Client-side login helpers: ``coffer login`` config writers and the ``keyring`` backend.

Nothing here talks to the store: it is client code that reaches a Coffer server (or AWS CodeArtifact) through the
CodeArtifact API with boto3, exactly as ``aws codeartifact login`` does. boto3 is imported lazily so that loading the
keyring backend (which every ``keyring`` user does through the entry point) stays cheap.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

# {domain}-{owner}: domain pattern from the service model, owner exactly 12 digits.
_DOMAIN_OWNER = r"(?P<domain>[a-z][a-z0-9\-]{0,48}[a-z0-9])-(?P<owner>[0-9]{12})"
_REPOSITORY = r"(?P<repository>[A-Za-z0-9][A-Za-z0-9._\-]{1,99})"
_PATH_STYLE = re.compile(rf"^(?P<prefix>(?:/[^/]+)*?)/pypi/d/{_DOMAIN_OWNER}/{_REPOSITORY}(?:/.*)?$")
_HOST_STYLE_HOST = re.compile(rf"^{_DOMAIN_OWNER}\.d\.codeartifact\.(?P<region>[a-z0-9\-]+)\.(?P<suffix>[a-z0-9.\-]+)$")
# AWS's own CodeArtifact repository hosts: host style and VPC endpoints (``vpce-....d.codeartifact.{region}.vpce...``)
_AWS_REPOSITORY_HOST = re.compile(
    r"^[a-z0-9][a-z0-9\-]*\.d\.codeartifact\.(?P<region>[a-z0-9\-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)
# a host name of DNS letters, digits, hyphens and dots, or an IPv6 literal (urlsplit drops the brackets)
_PLAIN_HOST = re.compile(r"^(?:[a-z0-9.\-]+|[0-9a-f:.]+)$")
_HOST_STYLE_PATH = re.compile(rf"^/pypi/{_REPOSITORY}(?:/.*)?$")


@dataclass(frozen=True)
class PypiEndpoint:
    """What a CodeArtifact/Coffer PyPI URL names."""

    domain: str
    owner: str
    repository: str
    api_endpoint: str | None  # where the CodeArtifact API is; None: the AWS default for the region
    region: str | None  # only known for host-style URLs


def parse_pypi_url(url: str) -> PypiEndpoint | None:
    """Recognise ``http(s)://host[:port][/prefix]/pypi/d/{domain}-{owner}/{repo}/...`` (Coffer and AWS path style)
    and ``https://{domain}-{owner}.d.codeartifact.{region}.amazonaws.com/pypi/{repo}/...`` (AWS host style; under
    another DNS suffix, Coffer's host style, whose API is on the index's own host)."""
    host = index_host(url)
    if host is None:
        return None
    parts = urlsplit(url.strip())
    aws = _AWS_REPOSITORY_HOST.match(host)
    m = _HOST_STYLE_HOST.match(host)
    if m:
        p = _HOST_STYLE_PATH.match(parts.path)
        if not p:
            return None
        api = None if aws else _origin(parts.scheme, host, parts.port)  # else Coffer host style
        return PypiEndpoint(m["domain"], m["owner"], p["repository"], api, m["region"])
    p = _PATH_STYLE.match(parts.path)
    if not p:
        return None
    if aws:  # AWS path style (VPC endpoints): the API is AWS's, not this host
        return PypiEndpoint(p["domain"], p["owner"], p["repository"], None, aws["region"])
    api = _origin(parts.scheme, host, parts.port) + p["prefix"]
    return PypiEndpoint(p["domain"], p["owner"], p["repository"], api, None)


def index_host(url: str) -> str | None:
    """The lower-case host of an ``http(s)`` URL, or None: not such a URL, or one that HTTP clients might read another
    host from than ``urlsplit`` does (a backslash, whitespace or a control character anywhere, a host of other than
    plain DNS characters or an IPv6 literal, a bad port). The keyring backend's decisions rest on this host being the
    one pip or uv then sends the token to."""
    url = url.strip()
    if "\\" in url or any(c <= " " or c == "\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname or not _PLAIN_HOST.match(hostname):
        return None
    return hostname


def is_aws_repository_host(host: str) -> bool:
    """``*.d.codeartifact.{region}.amazonaws.com`` (or ``.vpce.amazonaws.com``, ``.amazonaws.com.cn``): a name only
    AWS serves (or the hosts-file entry the README describes for ``keyrings.codeartifact``)."""
    return _AWS_REPOSITORY_HOST.match(host) is not None


def _origin(scheme: str, host: str, port: int | None) -> str:
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


# ---------------------------------------------------------------------------------------------------------------------
# The CodeArtifact API through boto3 (typed at the edge: boto3 has no type hints)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expiration: datetime  # aware, UTC


ENDPOINT_ENV_VARS = ("AWS_ENDPOINT_URL_CODEARTIFACT", "AWS_ENDPOINT_URL")
FALLBACK_REGION = "us-east-1"  # Coffer's default region


def make_client(endpoint_url: str | None = None, region: str | None = None, profile: str | None = None) -> Any:
    """A boto3 CodeArtifact client. Credentials come from the normal AWS chain (``profile`` if given); the endpoint
    from ``endpoint_url``, else boto3's own ``AWS_ENDPOINT_URL_CODEARTIFACT`` / ``AWS_ENDPOINT_URL`` handling. With an
    endpoint override and no region configured anywhere, Coffer's default region is used."""
    import boto3

    session = boto3.Session(profile_name=profile)
    region = region or session.region_name
    if region is None and (endpoint_url or any(os.environ.get(v) for v in ENDPOINT_ENV_VARS)):
        region = FALLBACK_REGION
    return session.client("codeartifact", endpoint_url=endpoint_url or None, region_name=region)


def get_authorization_token(
    client: Any, domain: str, domain_owner: str | None = None, duration_seconds: int | None = None
) -> IssuedToken:
    """GetAuthorizationToken, sending no duration when it is None or 0 (as ``aws codeartifact login`` does)."""
    kwargs: dict[str, Any] = {"domain": domain}
    if domain_owner:
        kwargs["domainOwner"] = domain_owner
    if duration_seconds:
        kwargs["durationSeconds"] = duration_seconds
    response = client.get_authorization_token(**kwargs)
    expiration = response["expiration"]
    if not isinstance(expiration, datetime):  # botocore parses the epoch number into an aware datetime
        expiration = datetime.fromtimestamp(float(expiration), tz=UTC)
    return IssuedToken(str(response["authorizationToken"]), expiration.astimezone(UTC))


def get_repository_endpoint(
    client: Any, domain: str, repository: str, domain_owner: str | None = None, package_format: str = "pypi"
) -> str:
    kwargs: dict[str, Any] = {"domain": domain, "repository": repository, "format": package_format}
    if domain_owner:
        kwargs["domainOwner"] = domain_owner
    return str(client.get_repository_endpoint(**kwargs)["repositoryEndpoint"])
