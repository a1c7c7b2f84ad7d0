"""What one request carries through the app for the access log: its record in the ASGI scope, the principal the
endpoints note on it, its request id.

The access log (``coffer.http.access_log``, at the server) puts a :class:`RequestRecord` in the scope under
:data:`RECORD_KEY`; the endpoints that authenticate a caller fill in its ARN (:func:`note_principal`), and the AWS
endpoints answer with its request id in ``x-amzn-RequestId`` (:func:`request_id_for`), so the id a client sees is
the one logged. Without the access log there is no record and these do nothing. Kept apart from the log itself so
that the wire adapters (``coffer.aws``, ``coffer.formats``) depend on this small module only.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Final, Protocol

from starlette.types import Message, Scope, Send

RECORD_KEY: Final = "coffer.request"
"""The scope key of the :class:`RequestRecord` of the request being served."""


class RequestRecord:
    """What the log line of one request needs from the app: filled in by the middleware and the endpoints.

    ``refused`` is set by the HTTP guard when it answers the request itself while the app still serves it (a
    body that stalled): ``(status, bytes, request id)`` of the answer that went out."""

    __slots__ = ("_send", "complete", "disconnected", "principal", "refused", "request_id", "sent", "status")

    def __init__(self, send: Send | None = None) -> None:
        self._send = send  # the server's
        self.request_id = ""  # made when first asked for (request_id_for, or when the line is written)
        self.principal: str | None = None
        self.status = 0
        self.sent = 0
        self.complete = False
        self.disconnected = False
        self.refused: tuple[int, int, str] | None = None

    async def send(self, message: Message) -> None:
        """The app's ``send``: the server's, noting the status and counting the body's bytes."""
        assert self._send is not None
        kind = message["type"]
        if kind == "http.response.body":
            await self._send(message)
            if not self.disconnected:
                self.sent += len(message.get("body", b""))
                self.complete = not message.get("more_body", False)
        elif kind == "http.response.start":
            self.status = message["status"]
            await self._send(message)
        elif kind == "http.response.zerocopysend":  # a file's bytes, sent by the server
            await self._send(message)
            if not self.disconnected:
                self.sent += message.get("count") or 0  # without a count: to the file's end, not known here
                self.complete = not message.get("more_body", False)
        else:  # http.response.pathsend and other extensions: the length is not known here
            await self._send(message)
            self.complete = True


class Principal(Protocol):
    """What the log needs of a caller (``coffer.core.identity.callers.Caller`` is one)."""

    @property
    def arn(self) -> str: ...


def note_principal(scope: Scope, caller: Principal) -> None:
    """Record the ARN of the request's authenticated caller (nothing happens without the access log)."""
    record = scope.get(RECORD_KEY)
    if record is not None:
        record.principal = caller.arn


def request_id_for(scope: Scope) -> str | None:
    """The request id the log line will carry, for the endpoint to put in its response (``x-amzn-RequestId``);
    None without the access log (the endpoint makes its own)."""
    record = scope.get(RECORD_KEY)
    if record is None:
        return None
    if not record.request_id:
        record.request_id = new_request_id()
    request_id: str = record.request_id
    return request_id


_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_id_prefix = ""
_id_counter: Iterator[int] = itertools.count()


def _new_id_prefix() -> None:
    global _id_prefix, _id_counter
    h = os.urandom(16).hex()
    _id_prefix = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-"
    _id_counter = itertools.count(int(h[20:], 16))


_new_id_prefix()
os.register_at_fork(after_in_child=_new_id_prefix)  # workers forked from one process get prefixes of their own


def new_request_id() -> str:
    """A version 4 UUID string, unique, not secret: a random prefix per process and a counter from a random start
    (a third of the cost of 16 random bytes per request)."""
    return f"{_id_prefix}{next(_id_counter) & 0xFFFFFFFFFFFF:012x}"
