"""The access log: one line per request, to stderr by default, as readable text or as one JSON object per line.

Each line has the time the request arrived (ISO 8601, UTC, milliseconds), the remote address, the method, the path
and query with every credential taken out, the status, the response body's bytes, the duration in milliseconds,
the principal's ARN when the request was authenticated (``-`` / null when not) and the request id::

    2026-12-02T12:00:00.123Z 203.0.113.5 "GET /pypi/d/acme-111122223333/internal/simple/ HTTP/1.1" 200 1234
        3.21ms arn:aws:iam::111122223333:user/ci req=0f1e...      (one line)
    {"time": "2026-12-02T12:00:00.123Z", "remote": "203.0.113.5", "method": "GET", "path": "/pypi/...", ...}

A response that did not go out whole (the client went away, or the app failed after it had begun) is marked
``incomplete`` (``"complete": false``). Headers and bodies are never logged. Out of the path and query come:

- anything that looks like a Coffer token (``cf1.`` and the base64url run after it, also with the dot percent-encoded
  once or twice), anywhere;
- the value of every query parameter whose name, percent-decoded (up to twice) and without separators, contains
  ``token``, ``secret``, ``pass``, ``pwd``, ``sig``, ``credential``, ``authorization``, ``apikey`` or ``assertion``
  (``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``, ``Password``, ``SAMLAssertion``, ...),
  and of any parameter whose value holds a token (percent-decoded up to twice).

Each is replaced by :data:`MARK`. The path is logged percent-decoded (as the app routes it), the query as sent,
both with control characters, quotes and backslashes escaped, so a line is always one line. A target longer than
:data:`MAX_TARGET` characters is cut (after the redaction), which keeps every line under ``PIPE_BUF``. The remote
address is the connection's peer (``coffer serve`` does not trust ``X-Forwarded-For``); in a text line everything
in it but printable ASCII, and quotes, backslashes and spaces, are escaped too, so it stays one field.

:class:`AccessLog` is the ASGI middleware. It puts a :class:`RequestRecord` in the scope under :data:`RECORD_KEY`;
the endpoints that authenticate a caller fill in its ARN (:func:`note_principal`), and the AWS endpoints answer
with its request id in ``x-amzn-RequestId`` (:func:`request_id_for`), so the id a client sees is the one logged.
Other responses carry no id (a header more cost about 5 % of a ``/health`` request). The HTTP guard
(``coffer serve``) logs the requests it refuses before the app sees them through :meth:`AccessLogWriter.write`.

Lines are written in batches (:class:`AccessLogWriter`): a ``write(2)`` per line cost more than all the rest.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import sys
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_string
from typing import Final, NamedTuple
from urllib.parse import unquote, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coffer.core.shared.bounded import remember
from coffer.request_context import RECORD_KEY, RequestRecord, new_request_id
from coffer.settings import LOG_FORMATS

MARK: Final = "[REDACTED]"
MAX_TARGET: Final = 2048
"""Characters of path and query logged; longer targets end in ``...`` (a line stays under PIPE_BUF, 4096)."""

# a token: the dot as is, or percent-encoded once or twice
_TOKEN = re.compile(r"cf1(?:\.|%2e|%252e)[A-Za-z0-9_.=~%+-]*", re.IGNORECASE)
_SENSITIVE = (  # "pass" covers password and passwd, "sig" signature
    "token", "secret", "pass", "pwd", "sig", "credential", "authorization", "apikey", "assertion",
)  # fmt: skip
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\\u2028\u2029]')
_UNSAFE_REMOTE = re.compile(r'[^\x21-\x7e]|["\\]')  # a text line's remote is one field: no space either
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


# --- the target, without credentials ---------------------------------------------------------------------------


def _sensitive_name(name: str) -> bool:
    lowered = name.lower()
    if not lowered.isalnum():
        lowered = _NOT_ALNUM.sub("", lowered)
    return any(word in lowered for word in _SENSITIVE)


def _decoded(text: str) -> str:
    """``text`` percent-decoded, twice when the first time leaves a ``%`` (``cf1%252E...``: a client, a proxy or
    the app may decode it once more)."""
    if "%" in text or "+" in text:
        text = unquote_plus(text, errors="replace")
        if "%" in text:
            text = unquote_plus(text, errors="replace")
    return text


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
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


_CLEAN_TARGETS: dict[tuple[str, str], str] = {}  # targets seen with nothing to take out (clients repeat them)
_MAX_CLEAN_TARGETS: Final = 4096


def log_target(path: str, query: str) -> str:
    """What the log shows of a request's target: ``path`` (decoded) and ``query`` (as sent) without credentials,
    escaped for a one-line log and cut at :data:`MAX_TARGET` characters."""
    key = (path, query)
    known = _CLEAN_TARGETS.get(key)
    if known is not None:
        return known
    plain = f"{path}?{query}" if query else path
    if "cf1" in path.lower():
        path = _TOKEN.sub(MARK, path)
    target = f"{path}?{redact_query(query)}" if query else path
    if _UNSAFE.search(target) is not None:
        target = _UNSAFE.sub(_escape, target)
    if len(target) > MAX_TARGET:
        target = target[: MAX_TARGET - 3] + "..."
    elif target == plain:  # only what holds no credential is kept
        remember(_CLEAN_TARGETS, key, target, _MAX_CLEAN_TARGETS)
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

_last_ms = -1
_last_time = ""


def iso_time(epoch: float) -> str:
    """``2026-12-02T12:00:00.123Z``, kept from the last call within the same millisecond."""
    global _last_ms, _last_time
    ms = int(epoch * 1000)
    if ms != _last_ms:
        seconds, millis = divmod(ms, 1000)
        _last_time = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"
        _last_ms = ms
    return _last_time


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


FLUSH_SECONDS: Final = 0.1
"""How long a line may wait for the lines after it."""
FLUSH_LINES: Final = 512
PIPE_BUF: Final = 4096
"""Bytes of whole lines per ``write(2)``: a pipe takes them atomically, so lines of several processes never mix."""
_PROTOCOLS: Final = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0", "2": "HTTP/2"}
# what a request's line is made of, until it is written: started, remote, method, path, query, HTTP version,
# duration, status, bytes, principal, request id, complete
_Entry = tuple[float, str | None, str, str, bytes, str, float, int, int, str | None, str, bool]


class _Line(NamedTuple):
    """The fields of one line, in the order the text format prints them."""

    when: str
    remote: str | None
    method: str | None
    target: str | None
    protocol: str | None
    status: int
    sent: int
    ms: float
    principal: str | None
    request_id: str
    complete: bool


class AccessLogWriter:
    """Formats a request's line (``fmt``: text or json) and hands it to ``sink`` (default: stderr).

    On the event loop lines are gathered for up to ``flush_after`` seconds (or :data:`FLUSH_LINES`) and written in
    chunks of whole lines of at most :data:`PIPE_BUF` bytes; without a running loop, or with ``flush_after`` 0, each
    line is written at once. :meth:`flush` writes what is waiting (the middleware calls it at shutdown; for
    stderr it is also registered with ``atexit``)."""

    def __init__(
        self, fmt: str = "text", sink: Callable[[bytes], None] | None = None, flush_after: float = FLUSH_SECONDS
    ) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
        self.format = fmt
        self.flush_after = flush_after
        self._line = self._json if fmt == "json" else self._text
        self._pending: list[bytes | _Entry] = []
        self._timer: asyncio.TimerHandle | None = None
        if sink is None:
            sink = _stderr_sink()
            atexit.register(self.flush)
        self.sink = sink

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
            _Line(
                iso_time(started), remote, method, target, protocol, status, sent, duration * 1000.0, principal,
                request_id, complete,
            )
        )  # fmt: skip
        self._emit(line)

    def request(self, scope: Scope, record: RequestRecord, started: float, duration: float) -> None:
        """The line of a request the app served (``started``: ``time.perf_counter()``). Its fields are kept (plain
        values, which the garbage collector soon stops tracking) and the line is formatted with the others when
        they are written: in one loop, half the cost of formatting it on the request's path."""
        status = record.status
        if record.refused is not None:
            status, sent, request_id = record.refused
            complete = True
        else:
            sent, request_id = record.sent, record.request_id
            complete = record.complete and not record.disconnected
            if not status:  # the app failed before it answered: the server sends a 500 of its own
                status, complete = 500, not record.disconnected
        client = scope.get("client")
        self._pending.append(
            (
                started,
                client[0] if client else None,
                scope["method"],
                scope["path"],
                scope.get("query_string", b""),
                scope.get("http_version", "1.1"),
                duration,
                status,
                sent,
                record.principal,
                request_id,
                complete,
            )
        )
        self._queued()

    def _emit(self, line: str) -> None:
        self._pending.append(line.encode("utf-8", "backslashreplace"))
        self._queued()

    def _queued(self) -> None:
        if self._timer is None:
            if self.flush_after <= 0:
                self.flush()
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self.flush_after, self.flush)
        elif len(self._pending) >= FLUSH_LINES:
            self.flush()

    def _format(self, entry: _Entry, wall_offset: float) -> bytes:
        started, remote, method, path, query, version, duration, status, sent, principal, request_id, complete = entry
        line = self._line(
            _Line(
                iso_time(started + wall_offset), remote, method,
                log_target(path, query.decode("latin-1") if query else ""),
                _PROTOCOLS.get(version) or f"HTTP/{version}", status, 0 if method == "HEAD" else sent,
                duration * 1000.0, principal, request_id or new_request_id(), complete,
            )
        )  # fmt: skip
        return line.encode("utf-8", "backslashreplace")

    def flush(self) -> None:
        """Write every line that waits, in chunks of whole lines of at most :data:`PIPE_BUF` bytes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        entries, self._pending = self._pending, []
        wall_offset = time.time() - time.perf_counter()
        chunk: list[bytes] = []
        size = 0
        for entry in entries:
            data = entry if isinstance(entry, bytes) else self._format(entry, wall_offset)
            if chunk and size + len(data) > PIPE_BUF:
                self.sink(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(data)
            size += len(data)
        if chunk:
            self.sink(b"".join(chunk))

    @staticmethod
    def _text(line: _Line) -> str:
        when, remote, method, target, protocol, status, sent, ms, principal, request_id, complete = line
        if method and protocol:
            request = f"{method} {target or '-'} {protocol}"
        else:
            request = f"{method} {target or '-'}" if method else "-"
        if not remote:
            remote = "-"
        elif _UNSAFE_REMOTE.search(remote) is not None:
            remote = _UNSAFE_REMOTE.sub(_escape, remote)
        return (
            f'{when} {remote} "{request}" {status} {sent} {ms:.2f}ms {principal or "-"} req={request_id}'
            f"{'' if complete else ' incomplete'}\n"
        )

    @staticmethod
    def _json(line: _Line) -> str:
        when, remote, method, target, protocol, status, sent, ms, principal, request_id, complete = line
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
    went away or the app raised: a failure before any response is logged as the 500 the server then sends).
    The lines still waiting are written when the app's lifespan ends."""

    def __init__(self, app: ASGIApp, writer: AccessLogWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                send = self._flushing(send)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = scope[RECORD_KEY] = RequestRecord(send)
        try:
            await self.app(scope, receive, record.send)
        finally:
            record._send = None  # the line waits a little: it must not keep the server's request objects alive
            self.writer.request(scope, record, started, time.perf_counter() - started)

    def _flushing(self, send: Send) -> Send:
        async def send_lifespan(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown"):
                self.writer.flush()
            await send(message)

        return send_lifespan


__all__ = [
    "LOG_FORMATS",
    "MARK",
    "MAX_TARGET",
    "RECORD_KEY",
    "AccessLog",
    "AccessLogWriter",
    "RequestRecord",
    "log_target",
    "new_request_id",
    "redact_query",
    "split_target",
]
