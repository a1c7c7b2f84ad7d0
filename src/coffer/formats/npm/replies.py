"""The npm registry's answers: JSON bodies, and errors as npm prints them.

npm shows a refused request as ``<status> <reason phrase> - <METHOD> <url> - <body.error>``, so every error here
is ``{"error": "<message>"}`` under the status's usual reason phrase (the message once, not twice). A refused
token is a 401 with the same ``WWW-Authenticate`` challenge as every package endpoint's; refusals are never
cached, and carry ``Connection: close`` when the request body was not read (``close``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from coffer.core.codeartifact.token_format import TokenError
from coffer.core.packages.package_models import RepoRef
from coffer.core.shared.errors import CofferError
from coffer.formats.responses import challenge, realm, refusal_headers

JSON = "application/json"


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def reply(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    return Response(json_bytes(value), status_code=status, media_type=JSON, headers=headers)


def refuse(status: int, message: str, *, close: bool = False, headers: dict[str, str] | None = None) -> Response:
    """``{"error": message}``; npm prints it after the status line and the URL."""
    merged = refusal_headers(close)
    merged.update(headers or {})
    return reply({"error": message}, status, merged)


def error_reply(error: CofferError, repo: RepoRef, *, close: bool = False) -> Response:
    """The answer to ``error`` raised while serving ``repo``: a refused token is a 401 with the challenge."""
    if isinstance(error, TokenError):
        return refuse(
            401, error.reason, close=close, headers={"WWW-Authenticate": challenge(realm(repo.domain, repo.name))}
        )
    status = error.status if 400 <= error.status < 600 else 500
    return refuse(status, error.message, close=close)
