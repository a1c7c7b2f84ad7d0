"""The package endpoints' answers to errors: the one translation of ``CofferError`` for package clients.

``to_response`` is used by every package route for every error of the tree:

- a ``TokenError`` (no usable token, or one refused) is a 401 carrying
  ``WWW-Authenticate: Bearer realm="<domain>/<repo>", Basic realm="<domain>/<repo>"`` and a short plain-text
  message naming the check that failed, also as the reason phrase (``HTTP/1.1 401 authorization token has
  expired``: twine and pip print the phrase, not the body); never a 404 (a client must be able to tell an expired
  token from a missing package) and never the token itself;
- an ``AccessDeniedError`` (the token's principal may not do this) is a 403, its message likewise in the body and
  the reason phrase;
- any other error is its status with its message as a plain-text body; with ``phrase`` (the upload API, whose
  tools print the reason phrase, as Warehouse answers) also as the reason phrase, like the refusals above.

Refusals carry ``Cache-Control: no-store``; ``close`` adds ``Connection: close`` (the body was not read to its end,
so the connection cannot carry another request).
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response

from coffer.core.codeartifact.token_format import TokenError
from coffer.core.packages.package_models import RepoRef
from coffer.core.shared.errors import AccessDeniedError, CofferError
from coffer.formats.reason import ReasonResponse


def realm(domain: str, repository: str) -> str:
    return f"{domain}/{repository}"


def challenge(realm_name: str) -> str:
    """The ``WWW-Authenticate`` value of a 401: the two schemes package clients use, for the repository."""
    quoted = realm_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'Bearer realm="{quoted}", Basic realm="{quoted}"'


def unauthorized(realm_name: str, message: str, *, close: bool = False) -> Response:
    """401 with the challenge CodeArtifact sends; ``message`` (never holding a token) is the body and the reason
    phrase."""
    headers = refusal_headers(close)
    headers["WWW-Authenticate"] = challenge(realm_name)
    return ReasonResponse(message, 401, headers=headers)


def refusal_headers(close: bool) -> dict[str, str]:
    """The headers of every refusal: never cached; ``close`` when the request body was not read to its end."""
    headers = {"Cache-Control": "no-store"}
    if close:
        headers["Connection"] = "close"
    return headers


def refusal(status: int, message: str, *, close: bool = False) -> Response:
    """A refused request: the message is the reason phrase and the body."""
    return ReasonResponse(message, status, headers=refusal_headers(close))


def plain(status: int, message: str) -> Response:
    """``message`` as a plain-text body, with the status's usual reason phrase."""
    return PlainTextResponse(message + "\n", status_code=status)


def to_response(error: CofferError, repo: RepoRef, *, phrase: bool = False, close: bool = False) -> Response:
    """The answer to ``error`` raised while serving a request to ``repo`` (see the module's description)."""
    if isinstance(error, TokenError):
        return unauthorized(realm(repo.domain, repo.name), error.reason, close=close)
    status = error.status if 400 <= error.status < 600 else 500
    if phrase or isinstance(error, AccessDeniedError):
        return refusal(status, error.message, close=close)
    return plain(status, error.message)
