"""A ``keyring`` backend that answers for Coffer / CodeArtifact PyPI URLs with a fresh authorization token.

pip (``--keyring-provider import`` or ``subprocess``), uv (``--keyring-provider subprocess``, through the ``keyring``
command) and twine ask keyring for the credentials of an index URL. For a URL that names a repository
(``http(s)://host[:port]/pypi/d/{domain}-{owner}/{repo}/...`` or AWS's
``https://{domain}-{owner}.d.codeartifact.{region}.amazonaws.com/pypi/{repo}/...``) this backend calls
GetAuthorizationToken and answers user ``aws`` with the token, kept in memory until shortly before it expires. Any
other URL gets ``None`` so that the other backends (through keyring's chainer) answer. It never raises into the
caller: failures are logged and answered with ``None``.

The API endpoint is ``COFFER_ENDPOINT_URL``, else ``AWS_ENDPOINT_URL_CODEARTIFACT`` / ``AWS_ENDPOINT_URL``, else the
index URL's own scheme and host (Coffer serves the API there), else AWS's endpoint for AWS URLs. Credentials come from
the normal AWS chain (``AWS_PROFILE`` ...). ``COFFER_KEYRING_DURATION_SECONDS`` asks for a token lifetime other than
the server's default.

Where the token may go: an index URL names any host, and it can come from a project's config or a dependency's
instructions, so a token is handed out only for an index host its issuer vouches for. Without an endpoint variable the
issuer is the index host itself (or AWS for AWS's own hosts), so that holds by construction. With one
(:func:`endpoint_vouches_for`), the index host must be the endpoint's host and port, or one of AWS's CodeArtifact
repository hosts (``*.d.codeartifact.{region}.amazonaws.com``, ``.vpce.amazonaws.com``, ``.amazonaws.com.cn``), or equal
to or under a DNS suffix listed in ``COFFER_KEYRING_HOST_SUFFIXES``; any other URL gets ``None`` and a warning that
names the host.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from keyring import credentials, errors
from keyring.backend import KeyringBackend
from keyring.compat import properties

from coffer.login import (
    ENDPOINT_ENV_VARS,
    IssuedToken,
    PypiEndpoint,
    index_host,
    is_aws_repository_host,
    parse_pypi_url,
)

log = logging.getLogger(__name__)

USERNAME = "aws"
ENDPOINT_ENV = "COFFER_ENDPOINT_URL"
DURATION_ENV = "COFFER_KEYRING_DURATION_SECONDS"
HOST_SUFFIXES_ENV = "COFFER_KEYRING_HOST_SUFFIXES"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# refresh a cached token when less than this part of its lifetime (at most 5 minutes) is left
_REFRESH_FRACTION = 0.25
_REFRESH_MAX = timedelta(minutes=5)

_CacheKey = tuple[str | None, str | None, str | None, str, str, int | None]


class _CannotStore(errors.PasswordSetError, NotImplementedError):
    """A PasswordSetError that keyring's chainer also skips (it passes over NotImplementedError only)."""


class _CannotDelete(errors.PasswordDeleteError, NotImplementedError):
    """A PasswordDeleteError that keyring's chainer also skips."""


class CofferKeyring(KeyringBackend):
    """Fresh CodeArtifact authorization tokens for Coffer / CodeArtifact PyPI index URLs."""

    _cache: dict[_CacheKey, tuple[IssuedToken, datetime]] = {}  # noqa: RUF012 - shared by design, guarded by _lock
    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's __init__ has no annotations

    @properties.classproperty
    def priority(cls) -> float:
        """High (chosen ahead of the OS keyrings, which answer None for these URLs anyway) when boto3 is importable;
        not viable without it."""
        if importlib.util.find_spec("boto3") is None:
            raise RuntimeError("boto3 is not installed")
        return 9.9

    # ---- the keyring interface

    def get_password(self, service: str, username: str) -> str | None:
        credential = self.get_credential(service, username)
        return credential.password if credential is not None else None

    def get_credential(self, service: str, username: str | None) -> credentials.Credential | None:
        try:
            target = parse_pypi_url(service)
            if target is None or username not in (None, "", USERNAME):
                return None
            endpoint = _env_endpoint()
            if endpoint is not None and not endpoint_vouches_for(endpoint[1], service, _host_suffixes()):
                log.warning(
                    "coffer keyring: no token for host %s: it is not the host and port of %s=%s, not an AWS "
                    "CodeArtifact host and not under a suffix in %s",
                    index_host(service),
                    endpoint[0],
                    _redact_url(endpoint[1]),
                    HOST_SUFFIXES_ENV,
                )
                return None
            token = self._token(target, endpoint[1] if endpoint is not None else target.api_endpoint)
        except Exception as exc:  # never raise into pip/uv/twine: let them fall back or prompt
            log.warning("coffer keyring: no token for %s: %s", _redact_url(service), exc)
            return None
        return credentials.SimpleCredential(USERNAME, token.token)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise _CannotStore("the Coffer keyring backend issues tokens; it cannot store passwords")

    def delete_password(self, service: str, username: str) -> None:
        raise _CannotDelete("the Coffer keyring backend issues tokens; it has nothing to delete")

    # ---- tokens

    def _token(self, target: PypiEndpoint, endpoint: str | None) -> IssuedToken:
        from coffer.login import get_authorization_token, make_client

        region = target.region
        profile = os.environ.get("AWS_PROFILE") or None
        duration = _duration()
        key: _CacheKey = (endpoint, region, profile, target.domain, target.owner, duration)
        now = datetime.now(UTC)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now < cached[1]:
                return cached[0]
        client = make_client(endpoint, region, None)
        issued = get_authorization_token(client, target.domain, target.owner, duration)
        lifetime = issued.expiration - now
        refresh_at = issued.expiration - min(lifetime * _REFRESH_FRACTION, _REFRESH_MAX)
        with self._lock:
            self._cache[key] = (issued, refresh_at)
        return issued

    @classmethod
    def clear_cache(cls) -> None:
        with cls._lock:
            cls._cache.clear()


def endpoint_vouches_for(endpoint: str, index_url: str, suffixes: tuple[str, ...]) -> bool:
    """Whether a token issued by the API at ``endpoint`` (an endpoint variable) may be handed to ``index_url``'s host:
    the index host is the endpoint's host with the same port (the scheme's default if none is given), or one of AWS's
    CodeArtifact repository hosts, or equal to or under one of ``suffixes`` (lower-case DNS names, no leading dot).
    Hosts are compared as written, so ``localhost`` is not ``127.0.0.1``."""
    host = index_host(index_url)
    if host is None:
        return False
    if host == index_host(endpoint) and _port(index_url) == _port(endpoint):
        return True
    return is_aws_repository_host(host) or any(host == s or host.endswith("." + s) for s in suffixes)


def _port(url: str) -> int | None:
    parts = urlsplit(url.strip())  # only called once index_host() accepted the URL, so .port does not raise
    return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme)


def _host_suffixes() -> tuple[str, ...]:
    """``COFFER_KEYRING_HOST_SUFFIXES``: comma-separated DNS suffixes, lower-cased, outer dots and blanks dropped."""
    value = os.environ.get(HOST_SUFFIXES_ENV, "")
    return tuple(s for s in (part.strip().strip(".").lower() for part in value.split(",")) if s)


def _env_endpoint() -> tuple[str, str] | None:
    """The endpoint variable that is set, and its value."""
    for name in (ENDPOINT_ENV, *ENDPOINT_ENV_VARS):
        value = os.environ.get(name)
        if value:
            return name, value
    return None


def _duration() -> int | None:
    value = os.environ.get(DURATION_ENV)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        log.warning("coffer keyring: ignoring %s=%r (not an integer)", DURATION_ENV, value)
        return None


def _redact_url(url: str) -> str:
    """The URL without any userinfo (an index URL may carry an old token)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"
