"""The access log: one line per request, to stderr by default, as readable text or as one JSON object per line.

Each line has the time the request arrived (ISO 8601, UTC, milliseconds), the remote address, the method, the path
and query with every credential taken out, the status, the response body's bytes, the duration in milliseconds,
the principal's ARN when the request was authenticated (``-`` / null when not) and the request id::

    2026-12-02T12:00:00.123Z 203.0.113.5 "GET /pypi/d/acme-111122223333/internal/simple/ HTTP/1.1" 200 1234
        3.21ms arn:aws:iam::111122223333:user/ci req=0f1e...      (one line)
    {"time": "2026-12-02T12:00:00.123Z", "remote": "203.0.113.5", "method": "GET", "path": "/pypi/...", ...}

A response that did not go out whole (the client went away, or the app failed after it had begun) is marked
``incomplete`` (``"complete": false``). Headers and bodies are never logged. Out of the path and query come:

- anything that looks like a Coffer token (``cf1.`` and the base64url run after it), anywhere;
- the value of every query parameter whose name mentions a token, secret, password, signature, credential or
  authorization (``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``, ``Password``, ...), and of
  any parameter whose value holds a token.

Each is replaced by :data:`MARK`. The path is logged percent-decoded (as the app routes it), the query as sent,
both with control characters, quotes and backslashes escaped, so a line is always one line. A target longer than
:data:`MAX_TARGET` characters is cut (after the redaction), which keeps every line one atomic write.

:class:`AccessLog` is the ASGI middleware. It puts a :class:`RequestRecord` in the scope under :data:`RECORD_KEY`;
the endpoints that authenticate a caller fill in its ARN (:func:`note_principal`) and answer with its request id
(:func:`request_id_for`), so the id in ``x-amzn-RequestId`` of an AWS response is the one logged. Every other
response gets the id in an ``x-amzn-RequestId`` header from the middleware. The HTTP guard (``coffer serve``) logs
the requests it refuses before the app sees them through :meth:`AccessLogWriter.write`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_string
from typing import Final, Protocol
from urllib.parse import unquote, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coffer.settings import LOG_FORMATS

RECORD_KEY: Final = "coffer.request"
"""The scope key of the :class:`RequestRecord` of the request being served."""

ID_HEADER: Final = b"x-amzn-requestid"
MARK: Final = "[REDACTED]"
MAX_TARGET: Final = 2048
"""Characters of path and query logged; longer targets end in ``...`` (a line stays under PIPE_BUF, 4096)."""

_TOKEN = re.compile(r"cf1\.[A-Za-z0-9_.=~%+-]*", re.IGNORECASE)
_SENSITIVE = ("token", "secret", "password", "passwd", "signature", "credential", "authorization", "apikey")
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\\u2028\u2029]')
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


class RequestRecord:
    """What the log line of one request needs from the app: filled in by the middleware and the endpoints.

    ``refused`` is set by the HTTP guard when it answers the request itself while the app still serves it (a
    body that stalled): ``(status, bytes, request id)`` of the answer that went out."""

    __slots__ = ("complete", "disconnected", "id_sent", "principal", "refused", "request_id", "sent", "status")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.principal: str | None = None
        self.id_sent = False  # the app's response carries request_id itself
        self.status = 0
        self.sent = 0
        self.complete = False
        self.disconnected = False
        self.refused: tuple[int, int, str] | None = None


class Principal(Protocol):
    """What the log needs of a caller (``coffer.core.identity.Caller`` is one)."""

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
    record.id_sent = True
    request_id: str = record.request_id
    return request_id


def new_request_id() -> str:
    """A random (version 4) UUID string, as :func:`coffer.aws.auth.new_request_id` makes them."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


# --- the target, without credentials ---------------------------------------------------------------------------


def _sensitive_name(name: str) -> bool:
    lowered = name.lower()
    if not lowered.isalnum():
        lowered = _NOT_ALNUM.sub("", lowered)
    return any(word in lowered for word in _SENSITIVE)


def _decoded(text: str) -> str:
    return unquote_plus(text, errors="replace") if "%" in text or "+" in text else text


def _holds_token(text: str) -> bool:
    return "cf1." in _decoded(text).lower()


def redact_query(query: str) -> str:
    """``query`` (as sent) with the value of every sensitive parameter, and any parameter holding a token,
    replaced by :data:`MARK`."""
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, sep, value = part.partition("=")
        if _holds_token(name):
            parts[i] = MARK
        elif sep and (_sensitive_name(_decoded(name)) or _holds_token(value)):
            parts[i] = f"{name}={MARK}"
    return "&".join(parts)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_target(path: str, query: str) -> str:
    """What the log shows of a request's target: ``path`` (decoded) and ``query`` (as sent) without credentials,
    escaped for a one-line log and cut at :data:`MAX_TARGET` characters."""
    if "cf1." in path.lower():
        path = _TOKEN.sub(MARK, path)
    target = path
    if query:
        target = f"{path}?{redact_query(query)}"
    if _UNSAFE.search(target) is not None:
        target = _UNSAFE.sub(_escape, target)
    if len(target) > MAX_TARGET:
        target = target[: MAX_TARGET - 3] + "..."
    return target


def split_target(target: str) -> tuple[str, str]:
    """``(decoded path, raw query)`` of a request target as it came on the request line (origin or absolute
    form: an absolute form's scheme, user information and host are dropped)."""
    if not target.startswith("/") and "://" in target[:12]:
        slash = target.find("/", target.index("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    return unquote(path, errors="replace"), query


# --- lines ----------------------------------------------------------------------------------------------------

_second = -1
_second_text = ""


def iso_time(epoch: float) -> str:
    """``2026-12-02T12:00:00.123Z``. The seconds part is kept from the last call: requests come many a second."""
    global _second, _second_text
    whole = int(epoch)
    if whole != _second:
        _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = whole
    return f"{_second_text}.{int((epoch - whole) * 1000):03d}Z"


def _stderr_sink() -> Callable[[bytes], None]:
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 2

    def write(data: bytes) -> None:
        try:
            while data:
                data = data[os.write(fd, data) :]
        except OSError:  # a log that cannot be written must never fail a request
            pass

    return write


class AccessLogWriter:
    """Formats a request's line (``fmt``: text or json) and hands it to ``sink`` in one call (default: one
    ``write(2)`` to stderr; lines are at most a few kB, under PIPE_BUF, so lines of several processes do not mix)."""

    def __init__(self, fmt: str = "text", sink: Callable[[bytes], None] | None = None) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
        self.format = fmt
        self.sink = sink or _stderr_sink()
        self._line = self._json if fmt == "json" else self._text

    def write(
        self,
        *,
        started: float,
        remote: str | None,
        method: str | None,
        target: str | None,
        protocol: str | None,
        status: int,
        sent: int,
        duration: float,
        principal: str | None,
        request_id: str,
        complete: bool = True,
    ) -> None:
        """One line. ``started``: epoch seconds; ``duration``: seconds; ``target``: from :func:`log_target`."""
        line = self._line(
            iso_time(started), remote, method, target, protocol, status, sent, duration * 1000.0, principal,
            request_id, complete,
        )  # fmt: skip
        self.sink(line.encode("utf-8", "backslashreplace"))

    @staticmethod
    def _text(
        when: str,
        remote: str | None,
        method: str | None,
        target: str | None,
        protocol: str | None,
        status: int,
        sent: int,
        ms: float,
        principal: str | None,
        request_id: str,
        complete: bool,
    ) -> str:
        request = "-" if not method else f"{method} {target or '-'}" + (f" {protocol}" if protocol else "")
        tail = "\n" if complete else " incomplete\n"
        return (
            f'{when} {remote or "-"} "{request}" {status} {sent} {ms:.2f}ms {principal or "-"} req={request_id}{tail}'
        )

    @staticmethod
    def _json(
        when: str,
        remote: str | None,
        method: str | None,
        target: str | None,
        protocol: str | None,
        status: int,
        sent: int,
        ms: float,
        principal: str | None,
        request_id: str,
        complete: bool,
    ) -> str:
        return (
            f'{{"time": "{when}", "remote": {_json_or_null(remote)}, "method": {_json_or_null(method)}, '
            f'"path": {_json_or_null(target)}, "protocol": {_json_or_null(protocol)}, "status": {status}, '
            f'"bytes": {sent}, "duration_ms": {ms:.3f}, "principal": {_json_or_null(principal)}, '
            f'"request_id": {_json_string(request_id)}, "complete": {"true" if complete else "false"}}}\n'
        )


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else str(_json_string(value))


# --- the middleware ----------------------------------------------------------------------------------------------


class AccessLog:
    """ASGI middleware: one line per HTTP request, written when the app is done with it (also when the client
    went away or the app raised: a failure before any response is logged as the 500 the server then sends)."""

    def __init__(self, app: ASGIApp, writer: AccessLogWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.time()
        clock = time.perf_counter()
        record = RequestRecord(new_request_id())
        scope[RECORD_KEY] = record

        async def send_logged(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                await send(message)
                if not record.disconnected:
                    record.sent += len(message.get("body", b""))
                    record.complete = not message.get("more_body", False)
            elif kind == "http.response.start":
                record.status = message["status"]
                if not record.id_sent:
                    headers = [*message.get("headers", ()), (ID_HEADER, record.request_id.encode("ascii"))]
                    message = {**message, "headers": headers}
                await send(message)
            else:  # http.response.pathsend and other extensions: the length is not known here
                await send(message)
                record.complete = True

        try:
            await self.app(scope, receive, send_logged)
        finally:
            self._log(scope, record, started, time.perf_counter() - clock)

    def _log(self, scope: Scope, record: RequestRecord, started: float, duration: float) -> None:
        status, sent, request_id = record.status, record.sent, record.request_id
        complete = record.complete and not record.disconnected
        if not status:  # the app failed before it answered: the server sends a 500 of its own
            status, complete = 500, not record.disconnected
        if record.refused is not None:
            status, sent, request_id = record.refused
            complete = True
        elif scope["method"] == "HEAD":
            sent = 0
        client = scope.get("client")
        self.writer.write(
            started=started,
            remote=client[0] if client else None,
            method=scope["method"],
            target=log_target(scope["path"], scope["query_string"].decode("latin-1")),
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
            status=status,
            sent=sent,
            duration=duration,
            principal=record.principal,
            request_id=request_id,
            complete=complete,
        )


__all__ = [
    "ID_HEADER",
    "LOG_FORMATS",
    "MARK",
    "MAX_TARGET",
    "RECORD_KEY",
    "AccessLog",
    "AccessLogWriter",
    "RequestRecord",
    "log_target",
    "new_request_id",
    "note_principal",
    "redact_query",
    "request_id_for",
    "split_target",
]
