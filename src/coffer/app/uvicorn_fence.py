"""uvicorn's httptools protocol with Coffer's limits enforced as bytes arrive (:class:`GuardedHttpToolsProtocol`).

uvicorn's httptools protocol has no limit on the request head and no timeout while a head or a body arrives.
httptools also joins each header value by repeated ``bytes`` concatenation, so a 64 MB value costs seconds of
event-loop time and stalls every other connection. This subclass counts the bytes of each request head *before*
handing them to the parser and refuses a head that is too long without ever parsing it; it also adds the missing
timeouts and a cap on open connections. The limits are :class:`coffer.settings.http_limits.HttpLimits`.

Fence: this module and ``coffer.app.zero_copy_cycle`` (the ``http.response.zerocopysend`` extension, which this
protocol offers on every plain connection) are the ones that rely on uvicorn internals (the attributes and methods
named in :data:`PROTOCOL_METHODS`, :data:`PROTOCOL_STATE`, :data:`CYCLE_METHODS`, :data:`CYCLE_STATE` and
:data:`FLOW_STATE`). ``coffer serve`` checks the methods at start (:func:`uvicorn_problems`) and
``tests/security/test_http_limits.py`` checks all of them on real objects, so an upgrade of uvicorn that changes them
fails loudly instead of silently dropping a limit or sending files wrongly.

How each limit works:

- **head size**: while a head is incomplete, every received chunk is counted; the request line (up to the first
  LF) is refused with 414 past ``max_request_line``, the head with 431 past ``max_header_bytes`` unless the chunk
  that crosses the limit also ends the head within it. The parser never sees the refused bytes. A head that
  follows another request in the same received chunk (pipelining) is counted from the next chunk on, so it can
  overshoot by at most one read (256 KiB). ``max_headers`` is checked when the head is complete: 431.
- **header timeout**: armed when a read leaves a head incomplete; 408 if the head is not complete
  ``header_timeout`` seconds later. A head that arrives whole in one read never arms a timer. (A head begun in
  the read that ended the request before it is timed from its next read; until then keep-alive applies.)
- **body timeout**: while a request body is unfinished, no byte for ``body_timeout`` seconds closes the
  connection (408 if no response was started). Time during which the server itself is not reading (the app has
  not consumed the buffered body yet, or ``Expect: 100-continue`` is pending) does not count.
- **keep-alive**: uvicorn's timer, also armed on a new connection before its first byte (uvicorn arms it only
  after a response).
- **connections**: a connection beyond ``max_connections`` gets 503 at once.

Every refusal is shaped by :func:`coffer.http.refusals.refusal` and followed by a lingering close: the write side
is shut down at once and what the client still sends is read and discarded for up to ``linger`` seconds, so the
client reads the refusal instead of a connection reset.

With an access log (:meth:`GuardedHttpToolsProtocol.with_limits`), a refusal of a request the app has not seen gets
its own line (its request id in ``x-amzn-RequestId``, the one the AWS dialects' bodies carry); a refusal of a
request the app is serving (a stalled body) is logged by the app's line, with the refusal's status, and a connection
lost mid-response marks that line incomplete.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import httptools
import uvicorn
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from coffer.app.zero_copy_cycle import ZeroCopyCycle
from coffer.formats.reason import RESPONSE_REASON
from coffer.http.access_log import AccessLogWriter, log_target, split_target
from coffer.http.refusals import refusal, request_target
from coffer.request_context import RECORD_KEY, RequestRecord, new_request_id
from coffer.settings.http_limits import HttpLimits

log = logging.getLogger("coffer.http")

HEAD_KEPT: Final = 4096
"""Bytes of each request head kept to shape a refusal (method, target, maybe the credential scope)."""

PROTOCOL_METHODS: Final = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_headers_complete",
    "on_message_complete",
    "on_response_complete",
    "shutdown",
    "timeout_keep_alive_handler",
    "_unset_keepalive_if_required",
    "_should_upgrade",
    "handle_websocket_upgrade",
    "_unsupported_upgrade_warning",
    "_start_asgi_task",
)
PROTOCOL_STATE: Final = (
    "loop",
    "parser",
    "transport",
    "flow",
    "cycle",
    "pipeline",
    "connections",
    "server_state",
    "headers",
    "scope",
    "timeout_keep_alive",
    "timeout_keep_alive_task",
)
CYCLE_METHODS: Final = ("send", "run_asgi")
CYCLE_STATE: Final = (
    "scope",
    "transport",
    "flow",
    "response_started",
    "response_complete",
    "disconnected",
    "keep_alive",
    "chunked_encoding",
    "expected_content_length",
    "message_event",
    "on_response",
    "waiting_for_100_continue",
)
FLOW_STATE: Final = ("read_paused", "write_paused", "resume_reading", "drain")


def uvicorn_problems() -> list[str]:
    """What this module needs from uvicorn's classes and does not find (empty when all is there)."""
    problems = [
        f"HttpToolsProtocol.{name}" for name in PROTOCOL_METHODS if not callable(getattr(HttpToolsProtocol, name, None))
    ]
    problems += [
        f"RequestResponseCycle.{name}"
        for name in CYCLE_METHODS
        if not callable(getattr(RequestResponseCycle, name, None))
    ]
    problems += [
        f"FlowControl.{name}" for name in ("resume_reading", "drain") if not callable(getattr(FlowControl, name, None))
    ]
    return [f"uvicorn {uvicorn.__version__} lacks {p}" for p in problems]


def instance_problems(protocol: HttpToolsProtocol, cycle: RequestResponseCycle, flow: FlowControl) -> list[str]:
    """What this module needs on live uvicorn objects and does not find (for the fence test)."""
    missing = [f"HttpToolsProtocol().{n}" for n in PROTOCOL_STATE if not hasattr(protocol, n)]
    missing += [f"RequestResponseCycle().{n}" for n in CYCLE_STATE if not hasattr(cycle, n)]
    missing += [f"FlowControl().{n}" for n in FLOW_STATE if not hasattr(flow, n)]
    return [f"uvicorn {uvicorn.__version__} lacks {m}" for m in missing] + uvicorn_problems()


_REQUEST_ID = re.compile(rb"\r\nx-amzn-requestid: *([^\r\n]*)\r\n", re.IGNORECASE)
_PROTOCOL = re.compile(rb"[^\r\n]* (HTTP/[0-9.]{1,5})\r?\n")


class _Refused(Exception):
    """Raised in a parser callback to stop the parser; the refusal is in ``_pending``."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One connection. Use :meth:`with_limits` to get the class to hand to ``uvicorn.Config(http=...)``."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    request_log: ClassVar[AccessLogWriter | None] = None  # uvicorn's own access_log is a bool, off

    @classmethod
    def with_limits(
        cls, limits: HttpLimits, access_log: AccessLogWriter | None = None
    ) -> type[GuardedHttpToolsProtocol]:
        """The protocol class with ``limits``, logging its refusals to ``access_log`` (None: not logged)."""
        attributes = {"limits": limits, "request_log": access_log, "__module__": cls.__module__}
        return type(cls.__name__, (cls,), attributes)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]  # uvicorn: int seconds
        self._refused = False
        self._pending: tuple[int, str] | None = None
        # the request head being received
        self._in_head = True
        self._line_done = False
        self._head_bytes = 0  # 0 again once a message is complete
        self._head_began = 0.0  # loop time of the head's first read
        self._head_kept: list[bytes] = []
        self._tail = b""
        # the request body being received
        self._in_body = False
        self._last_read = 0.0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.limits.max_connections
        super().connection_made(transport)
        if full:
            self._refuse(503, f"Too many open connections (limit {self.limits.max_connections}); try again later.")
            return
        # uvicorn arms its keep-alive timer only after a response: a connection that never sends would stay open
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            record = cycle.scope.get(RECORD_KEY)
            if isinstance(record, RequestRecord):  # the app's line: what it sends from now on goes nowhere
                record.disconnected = True
            if isinstance(cycle, ZeroCopyCycle):
                cycle.connection_lost()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: discard
        self._unset_keepalive_if_required()
        if self._in_head:
            if not self._head_fits(data):
                return
        elif self._in_body:
            self._last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._cancel_timers()
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            pending, self._pending = self._pending, None
            self._refuse(*(pending or (400, _parser_message(exc))))
            return
        if self._in_head:
            if self._head_bytes:  # this read was all head, and the head goes on
                self._tail = data[-3:]
                if self._head_timer is None:
                    self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)
            # else a message ended in this read; the head after it, if any, is counted from the next read on
        elif self._in_body and self._body_timer is None:
            self._last_read = self.loop.time()
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timeout)

    def shutdown(self) -> None:
        if self._refused:
            self.transport.close()
        else:
            super().shutdown()

    # uvicorn's protocol

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        ZeroCopyCycle.adopt(cycle)  # before its app runs: the scope offers http.response.zerocopysend
        super()._start_asgi_task(cycle, app)

    # parser callbacks

    def on_headers_complete(self) -> None:
        if len(self.headers) > self.limits.max_headers:  # counted once: the head's size bounds their number
            self._pending = (431, f"Too many header fields (limit {self.limits.max_headers}).")
            raise _Refused
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        self._in_body = not (self.parser.should_upgrade() and self._should_upgrade())

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        cycle = self.cycle
        if cycle.response_complete and not self.pipeline and self.timeout_keep_alive_task is None:
            # the response went out before the body was in: uvicorn armed keep-alive then, and each body read since
            # disarmed it; the connection is idle now
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        self._in_head = True
        self._line_done = False
        self._head_bytes = 0
        self._head_kept.clear()
        self._tail = b""

    def on_response_complete(self) -> None:
        if self._in_body and not self._refused and not self.transport.is_closing():
            # The app answered before the request's body was in (a 401, 403 or 413 sent without reading it). uvicorn
            # would read the rest to keep the connection, so any client could make the server drain a body of any
            # size; end the connection instead, lingering briefly so that the client reads the answer, not a reset.
            self.server_state.total_requests += 1
            self._refused = True
            self._cancel_timers()
            self.pipeline.clear()
            self._end_connection(self.transport)
            return
        super().on_response_complete()

    # limits

    def _head_fits(self, data: bytes) -> bool:
        """Count ``data`` into the head being received; False (and refused) when it passes a limit."""
        limits = self.limits
        seen = self._head_bytes
        if seen < HEAD_KEPT:
            if not seen:
                self._head_began = self.loop.time()
            self._head_kept.append(data[: HEAD_KEPT - seen])
        if not self._line_done:
            lf = data.find(b"\n")
            if lf >= 0:
                self._line_done = True
            if seen + (lf if lf >= 0 else len(data)) > limits.max_request_line:
                self._refuse(414, f"The request line is too long (limit {limits.max_request_line} bytes).")
                return False
        total = seen + len(data)
        if total > limits.max_header_bytes:
            end = self._head_end(data)
            if end < 0 or seen + end > limits.max_header_bytes:
                self._refuse(431, f"The request header fields are too large (limit {limits.max_header_bytes} bytes).")
                return False
        self._head_bytes = total
        return True

    def _head_end(self, data: bytes) -> int:
        """Offset in ``data`` just past the empty line that ends the head, or -1."""
        tail = self._tail
        joined = tail + data[:3]
        ends = []
        for sep in (b"\n\r\n", b"\n\n"):
            k = joined.find(sep)
            if k >= 0:
                ends.append(max(0, k + len(sep) - len(tail)))
            k = data.find(sep)
            if k >= 0:
                ends.append(k + len(sep))
        return min(ends) if ends else -1

    def _busy(self) -> bool:
        """The server, not the client, is what the connection waits for (a response is being produced)."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._refused or not self._in_head or self.transport.is_closing():
            return
        if self._busy():
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)
            return
        self._refuse(408, f"The request head was not received within {self.limits.header_timeout:g} seconds.")

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self._refused or not self._in_body or self.transport.is_closing():
            return
        now = self.loop.time()
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            self._last_read = now  # the server is not reading: not the client's delay
        remaining = self.limits.body_timeout - (now - self._last_read)
        if remaining > 0:
            self._body_timer = self.loop.call_later(remaining, self._body_timeout)
            return
        self._refuse(408, f"The request body stalled: no data for {self.limits.body_timeout:g} seconds.")

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` (unless a response has started), then close the connection."""
        if self._refused:
            return
        self._refused = True
        self._cancel_timers()
        self._unset_keepalive_if_required()
        self.pipeline.clear()
        log.info("refused %s: %d %s", self.client, status, message)
        cycle = self.cycle
        # a response already (partly) sent for this request, or for the one before whose head this is: just close
        answered = cycle is not None and cycle.response_started and not (self._in_head and cycle.response_complete)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's further sends are dropped; its receive() gets http.disconnect
            cycle.message_event.set()
        transport = self.transport
        if transport.is_closing():
            return
        if answered:
            transport.close()
            return
        head = b"".join(self._head_kept)
        method = target = None
        if not self._in_head and self.scope is not None and "method" in self.scope:
            method = self.scope["method"].encode("ascii")
            query = self.scope.get("query_string", b"")
            target = self.scope.get("raw_path", b"") + (b"?" + query if query else b"")
        response = refusal(
            status,
            message,
            head,
            method=method,
            target=target,
            extra_headers=self.server_state.default_headers,
        )
        if self.request_log is not None:
            response = self._log_refusal(self.request_log, status, response, head)
        transport.write(response)
        self._end_connection(transport)

    def _end_connection(self, transport: asyncio.Transport) -> None:
        """Stop sending, keep reading (and discarding) for a moment so the client reads the answer, not a reset."""
        self.flow.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()
            self._linger_timer = self.loop.call_later(self.limits.linger, transport.close)
        else:
            transport.close()

    def _log_refusal(self, log: AccessLogWriter, status: int, response: bytes, head: bytes) -> bytes:
        """Log the refusal ``response`` (adding the request id it lacks) and return what to send."""
        found = _REQUEST_ID.search(response)
        if found is not None:
            request_id = found.group(1).decode("latin-1")
        else:  # a plain-text refusal: give it the id its log line has
            request_id = new_request_id()
            response = response.replace(b"\r\n", b"\r\nx-amzn-requestid: " + request_id.encode("ascii") + b"\r\n", 1)
        sent = len(response) - response.find(b"\r\n\r\n") - 4
        cycle = self.cycle
        if not self._in_head and cycle is not None:
            record = cycle.scope.get(RECORD_KEY)
            if isinstance(record, RequestRecord):  # the app is serving this request: its line tells what it got
                record.refused = (status, sent, request_id)
                record.disconnected = True
                return response
        started, method, path, query, protocol = time.time(), None, None, "", None
        if not self._in_head and self.scope is not None and "method" in self.scope:  # parsed, never handed on
            scope = self.scope
            method, path, query = scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")
            protocol = f"HTTP/{scope.get('http_version', '1.1')}"
        elif head:
            verb, raw_target = request_target(head)
            if verb:
                method = verb.decode("latin-1")
                path, query = split_target(raw_target.decode("latin-1"))
                line = _PROTOCOL.match(head)
                protocol = line.group(1).decode("latin-1") if line is not None else None
        if head:
            started -= max(0.0, self.loop.time() - self._head_began)
        log.write(
            started=started,
            remote=self.client[0] if self.client else None,
            method=method,
            target=log_target(path, query) if path is not None else None,
            protocol=protocol,
            status=status,
            sent=sent,
            duration=time.time() - started,
            principal=None,
            request_id=request_id,
        )
        return response


def _parser_message(exc: httptools.HttpParserError) -> str:
    if isinstance(exc, httptools.HttpParserCallbackError) or not str(exc):
        return "Invalid HTTP request."
    text = str(exc).strip().rstrip(".")
    return f"Invalid HTTP request: {text[:1].lower()}{text[1:]}."


__all__ = [
    "CYCLE_METHODS",
    "CYCLE_STATE",
    "FLOW_STATE",
    "HEAD_KEPT",
    "PROTOCOL_METHODS",
    "PROTOCOL_STATE",
    "GuardedHttpToolsProtocol",
    "install_reason_phrases",
    "instance_problems",
    "uvicorn_problems",
]


# --- reason phrases in status lines ----------------------------------------------------------------------
# Let uvicorn send the reason phrase a response asks for (``coffer.formats.reason``).
#
# uvicorn writes status lines from two module-level tables (``STATUS_LINE`` for httptools, ``STATUS_PHRASES`` for
# h11) and takes no phrase from the ASGI app. ``install()`` wraps each table in a mapping that answers with the
# phrase in ``RESPONSE_REASON`` when the current response set one, and with uvicorn's own entry otherwise. The
# lookup happens inside the ASGI ``send`` call, in the task of the response that set the variable.


class _StatusLines(dict[int, bytes]):
    """uvicorn's httptools table: ``HTTP/1.1 <code> <phrase>\\r\\n``."""

    def __getitem__(self, status: int) -> bytes:
        reason = RESPONSE_REASON.get()
        if reason:
            return b"HTTP/1.1 %d %s\r\n" % (status, reason.encode("ascii", "replace"))
        return super().__getitem__(status)


class _StatusPhrases(dict[int, bytes]):
    """uvicorn's h11 table: the phrase alone."""

    def __getitem__(self, status: int) -> bytes:
        reason = RESPONSE_REASON.get()
        if reason:
            return reason.encode("ascii", "replace")
        return super().__getitem__(status)


def install_reason_phrases() -> None:
    """Idempotent; checked by the upload tests (twine prints the phrase)."""
    from uvicorn.protocols.http import h11_impl, httptools_impl

    if not isinstance(httptools_impl.STATUS_LINE, _StatusLines):
        httptools_impl.STATUS_LINE = _StatusLines(_as_mapping(httptools_impl.STATUS_LINE))
    if not isinstance(h11_impl.STATUS_PHRASES, _StatusPhrases):
        h11_impl.STATUS_PHRASES = _StatusPhrases(_as_mapping(h11_impl.STATUS_PHRASES))


def _as_mapping(table: Mapping[int, bytes]) -> dict[int, bytes]:
    return dict(table)
