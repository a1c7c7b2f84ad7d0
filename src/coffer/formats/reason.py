"""Custom HTTP reason phrases (``HTTP/1.1 400 File already exists ...``) for responses that need them.

Upload tools (twine, pip's uploaders) print the reason phrase of a refused upload, so PyPI-style servers put the
error message there. ASGI has no field for it; the server adapter (``coffer.app.server``) consults
``RESPONSE_REASON`` while it writes the status line, and ``ReasonResponse`` sets it for exactly that moment (the
ASGI ``send`` runs in the task that set the variable, so concurrent requests never see each other's phrase).
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

RESPONSE_REASON: ContextVar[str | None] = ContextVar("coffer_response_reason", default=None)
MAX_REASON = 512
_UNSAFE = re.compile(r"[^\x20-\x7e]+")  # a reason phrase is visible ASCII and spaces; no CR/LF injection


def clean_reason(text: str) -> str:
    return _UNSAFE.sub(" ", text).strip()[:MAX_REASON]


class ReasonResponse(PlainTextResponse):
    """A text/plain response whose message is also its reason phrase."""

    def __init__(self, message: str, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message + "\n", status_code=status_code, headers=headers)
        self.reason = clean_reason(message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = RESPONSE_REASON.set(self.reason)
        try:
            await super().__call__(scope, receive, send)
        finally:
            RESPONSE_REASON.reset(token)
