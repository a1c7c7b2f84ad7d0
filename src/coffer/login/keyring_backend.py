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
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from datetime import UTC, datetime, timedelta

from keyring import credentials, errors
from keyring.backend import KeyringBackend
from keyring.compat import properties

from coffer.login import ENDPOINT_ENV_VARS, IssuedToken, PypiEndpoint, parse_pypi_url

log = logging.getLogger(__name__)

USERNAME = "aws"
ENDPOINT_ENV = "COFFER_ENDPOINT_URL"
DURATION_ENV = "COFFER_KEYRING_DURATION_SECONDS"
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
            token = self._token(target)
        except Exception as exc:  # never raise into pip/uv/twine: let them fall back or prompt
            log.warning("coffer keyring: no token for %s: %s", _redact_url(service), exc)
            return None
        return credentials.SimpleCredential(USERNAME, token.token)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise _CannotStore("the Coffer keyring backend issues tokens; it cannot store passwords")

    def delete_password(self, service: str, username: str) -> None:
        raise _CannotDelete("the Coffer keyring backend issues tokens; it has nothing to delete")

    # ---- tokens

    def _token(self, target: PypiEndpoint) -> IssuedToken:
        from coffer.login import get_authorization_token, make_client

        endpoint = _api_endpoint(target)
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


def _api_endpoint(target: PypiEndpoint) -> str | None:
    for name in (ENDPOINT_ENV, *ENDPOINT_ENV_VARS):
        value = os.environ.get(name)
        if value:
            return value
    return target.api_endpoint


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
