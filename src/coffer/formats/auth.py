"""Token authentication for the package endpoints (pip, uv, twine, npm ...), and the 401/403 answers.

Clients present the token from GetAuthorizationToken as HTTP Basic with user ``aws`` (pip, uv, twine, nuget),
as ``Bearer <token>`` (npm), or bare (cargo, gem). Every refusal is a 401 carrying
``WWW-Authenticate: Bearer realm="<domain>/<repo>", Basic realm="<domain>/<repo>"`` and a short plain-text
message naming the check that failed, also as the reason phrase (``HTTP/1.1 401 authorization token has
expired``: twine and pip print the phrase, not the body); never a 404 (a client must be able to tell an expired
token from a missing package) and never the token itself. A token whose principal may not use the repository gets
403, its message likewise in the body and the reason phrase.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from coffer.core.codeartifact.authorization_tokens import AuthorizationTokenService
from coffer.core.codeartifact.token_format import TokenClaims, TokenError
from coffer.core.identity.callers import Caller
from coffer.formats.reason import ReasonResponse

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


def realm(domain: str, repository: str) -> str:
    return f"{domain}/{repository}"


def unauthorized(realm_name: str, message: str) -> Response:
    """401 with the challenge CodeArtifact sends; ``message`` (never holding a token) is the body and the reason
    phrase."""
    quoted = realm_name.replace("\\", "\\\\").replace('"', '\\"')
    return ReasonResponse(
        message,
        401,
        headers={"WWW-Authenticate": f'Bearer realm="{quoted}", Basic realm="{quoted}"', "Cache-Control": "no-store"},
    )


def forbidden(message: str) -> Response:
    """403; ``message`` (an IAM denial) is the body and the reason phrase."""
    return ReasonResponse(message, 403, headers={"Cache-Control": "no-store"})


class TokenAuthenticator:
    """Authenticates package requests against ``domain_owner``/``domain`` with the token service."""

    def __init__(self, tokens: AuthorizationTokenService) -> None:
        self._tokens = tokens

    def verify(self, headers: Mapping[str, str], domain_owner: str, domain: str) -> Authenticated:
        """Raises TokenError (a CredentialsError or the token service's own) saying which check failed."""
        token = extract_token(headers)
        claims, caller = self._tokens.verify(token, domain_owner, domain)
        return Authenticated(claims, caller)

    async def authenticate(
        self, headers: Mapping[str, str], domain_owner: str, domain: str, repository: str
    ) -> Authenticated | Response:
        """The identity a request acts for, or the 401 response to send."""
        return await run_in_threadpool(self.authenticate_sync, headers, domain_owner, domain, repository)

    def authenticate_sync(
        self, headers: Mapping[str, str], domain_owner: str, domain: str, repository: str
    ) -> Authenticated | Response:
        """``authenticate`` for code already running in a worker thread."""
        try:
            return self.verify(headers, domain_owner, domain)
        except TokenError as exc:
            return unauthorized(realm(domain, repository), exc.reason)
