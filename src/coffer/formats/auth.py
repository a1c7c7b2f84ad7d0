"""Token authentication for the package endpoints (pip, uv, twine, npm ...).

Clients present the token from GetAuthorizationToken as HTTP Basic with user ``aws`` (pip, uv, twine, nuget),
as ``Bearer <token>`` (npm), or bare (cargo, gem). A refusal raises a ``TokenError`` whose ``reason`` names the
check that failed; ``coffer.formats.responses`` answers it with the 401.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from coffer.core.codeartifact.authorization_tokens import AuthorizationTokenService
from coffer.core.codeartifact.token_format import TokenClaims, TokenError
from coffer.core.identity.callers import Caller

BASIC_USER = "aws"
MAX_AUTHORIZATION_LENGTH = 4096


class CredentialsError(TokenError):
    """The request carries no usable credentials (before any token is looked at)."""


class MissingCredentialsError(CredentialsError):
    reason = "authorization required: send the token as HTTP Basic (user aws) or as Bearer"


class MalformedAuthorizationError(CredentialsError):
    reason = "malformed Authorization header"


class WrongBasicUserError(CredentialsError):
    reason = "HTTP Basic user name must be aws"


@dataclass(frozen=True)
class Authenticated:
    claims: TokenClaims
    caller: Caller


def extract_token(headers: Mapping[str, str]) -> str:
    """The token in an ``Authorization`` header: ``Basic base64(aws:<token>)``, ``Bearer <token>`` or the bare
    token. Raises a CredentialsError (never quoting the header)."""
    value = headers.get("authorization")
    if value is None or not value.strip():
        raise MissingCredentialsError()
    return _token_of(value)


@functools.lru_cache(maxsize=1024)  # pure; a client sends the same header with every request (refusals: not kept)
def _token_of(value: str) -> str:
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        raise MalformedAuthorizationError()
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if not rest:
        return scheme  # a bare token (no scheme)
    lowered = scheme.lower()
    if lowered == "bearer":
        return rest
    if lowered == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise MalformedAuthorizationError() from exc
        user, sep, password = decoded.partition(":")
        if not sep or not password:
            raise MalformedAuthorizationError()
        if user != BASIC_USER:
            raise WrongBasicUserError()
        return password
    raise MalformedAuthorizationError()


class TokenAuthenticator:
    """Authenticates package requests against ``domain_owner``/``domain`` with the token service."""

    def __init__(self, tokens: AuthorizationTokenService) -> None:
        self._tokens = tokens

    def verify(self, headers: Mapping[str, str], domain_owner: str, domain: str) -> Authenticated:
        """The identity a request acts for. Raises TokenError (a CredentialsError or the token service's own)
        saying which check failed (``coffer.formats.responses.to_response`` makes it the 401)."""
        token = extract_token(headers)
        claims, caller = self._tokens.verify(token, domain_owner, domain)
        return Authenticated(claims, caller)

    async def authenticate(self, headers: Mapping[str, str], domain_owner: str, domain: str) -> Authenticated:
        """``verify`` off the event loop."""
        return await run_in_threadpool(self.verify, headers, domain_owner, domain)
