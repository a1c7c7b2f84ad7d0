"""Limits before work, replayed on raw sockets against a real server process (issue 7, defects 3 and 10).

- A request head past its limits (request line 16 KiB: 414; head 64 KiB or 100 fields: 431) is refused as its
  bytes arrive, without the server reading it whole; ``/health`` stays fast while a 64 MB header streams, and the
  server does not grow by the header's size.
- Slow clients are cut: a head dribbled past the header timeout gets 408, a stalled body is closed, idle
  connections (new or kept alive) are closed after the keep-alive timeout.
- Connections past the cap get 503; the server serves again once some close.
- Transport-level refusals (bad bytes in the request line, an oversize URL or head, a NUL in a header) answer in
  the dialect of the path: REST-JSON under ``/v1/``, the Query protocol's XML on ``POST /`` and ``GET /?Action=``,
  text elsewhere; each carries ``Connection: close`` and the connection closes.
- The uvicorn internals ``coffer.app.uvicorn_fence`` relies on are all there.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import statistics
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.functional.server import RunningServer, coffer_command, running_server

TIMEOUT = 1.0  # the header, body and keep-alive timeouts of the test server, in seconds
SLACK = 1.5  # what a loaded CI machine may add to a timeout
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_SCOPE = b"Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, x=y\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "COFFER_HEADER_TIMEOUT": str(TIMEOUT),
        "COFFER_BODY_TIMEOUT": str(TIMEOUT),
        "COFFER_KEEP_ALIVE_TIMEOUT": str(TIMEOUT),
    }
    with running_server(tmp_path_factory.mktemp("coffer-limits") / "data", env=env) as srv:
        yield srv


def address(server: RunningServer) -> tuple[str, int]:
    m = re.fullmatch(r"http://([^:/]+):(\d+)", server.url)
    assert m is not None, server.url
    return m.group(1), int(m.group(2))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after it
    rest: bytes = b""  # anything after the body

    def json(self) -> dict[str, object]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def parse(raw: bytes, closed: bool) -> Response:
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response: {raw[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return Response(status, headers, body[:length], closed, body[length:])


def read_all(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything until the server closes (True) or ``timeout`` passes (False)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        return data, True
    return data, False


def exchange(server: RunningServer, data: bytes, timeout: float = 5.0) -> Response:
    """Send ``data`` on a new connection and read until the server closes it."""
    with socket.create_connection(address(server), timeout=timeout) as sock:
        sock.sendall(data)
        raw, closed = read_all(sock, timeout)
    return parse(raw, closed)


def health_ms(host: str, port: int) -> float:
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        raw, _ = read_all(sock, 30)
    elapsed = (time.perf_counter() - start) * 1000
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
    return elapsed


def vm_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def assert_refusal(response: Response, status: int) -> None:
    assert response.status == status, (response.status, response.body[:300])
    assert response.headers.get("connection") == "close"
    assert response.closed, "the server must close the connection after a refusal"


# ---------------------------------------------------------------------------------------------------------------
# sizes


def test_oversize_header_is_refused_with_431_before_it_is_complete(server: RunningServer) -> None:
    """100 KB of header and no end of head: a server that waits for the whole head never answers."""
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000)
        start = time.monotonic()
        raw, closed = read_all(sock, 5)
        elapsed = time.monotonic() - start
    response = parse(raw, closed)
    assert_refusal(response, 431)
    assert elapsed < 1.0
    assert b"65536" in response.body
    assert response.headers["content-type"].startswith("text/plain")


@dataclass
class Streamer:
    """Streams 64 MB header values, one connection after another, until stopped; records what each got."""

    host: str
    port: int
    size: int = 64 * 1024 * 1024
    outcomes: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        chunk = b"a" * 65536
        while not self.stop.is_set():
            with socket.create_connection((self.host, self.port), timeout=30) as sock:
                sock.setblocking(False)
                pending = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: "
                sent = 0
                answer = b""
                try:
                    while sent < self.size and not answer:
                        _, writable, _ = select.select([], [sock], [], 1)
                        if writable:
                            n = sock.send(pending or chunk)
                            if pending:
                                pending = pending[n:]
                            else:
                                sent += n
                        readable, _, _ = select.select([sock], [], [], 0)
                        if readable:
                            answer = sock.recv(200)
                    if not answer:
                        sock.setblocking(True)
                        sock.sendall(b"\r\n\r\n")
                        sock.settimeout(30)
                        answer = sock.recv(200)
                except OSError as exc:
                    answer = answer or type(exc).__name__.encode()
                self.outcomes.append(f"{answer[:12].decode('latin-1')} after {sent} bytes")


def test_health_stays_fast_while_a_64_mb_header_streams(server: RunningServer) -> None:
    host, port = address(server)
    pid = server.process.pid
    for _ in range(20):
        health_ms(host, port)  # warm
    rss_before = vm_kib(pid, "VmRSS")
    streamer = Streamer(host, port)
    thread = threading.Thread(target=streamer.run, daemon=True)
    thread.start()
    latencies: list[float] = []
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline or not streamer.outcomes:
            latencies.append(health_ms(host, port))
            time.sleep(0.01)
            assert time.monotonic() < deadline + 30, "the 64 MB header never got an answer"
    finally:
        streamer.stop.set()
        thread.join(timeout=60)
    grown_mb = (vm_kib(pid, "VmHWM") - rss_before) / 1024
    assert streamer.outcomes and all(o.startswith("HTTP/1.1 431") for o in streamer.outcomes), streamer.outcomes
    assert all(int(o.rsplit(" ", 2)[1]) < 8 * 1024 * 1024 for o in streamer.outcomes), streamer.outcomes
    assert statistics.median(latencies) < 100, sorted(latencies)
    assert max(latencies) < 1000, sorted(latencies)
    assert grown_mb < 32, f"the server grew by {grown_mb:.0f} MB while 64 MB headers streamed"


def test_request_line_over_the_limit_gets_414(server: RunningServer) -> None:
    response = exchange(server, b"GET /pypi/d/acme-1/r/simple/" + b"a" * 17_000 + b"/ HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_refusal(response, 414)
    assert response.headers["content-type"].startswith("text/plain")
    assert b"request line" in response.body


def test_a_request_line_without_an_end_is_refused_as_it_arrives(server: RunningServer) -> None:
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(b"GET /" + b"a" * 20_000)
        raw, closed = read_all(sock, 3)
    assert_refusal(parse(raw, closed), 414)


def test_too_many_header_fields_get_431(server: RunningServer) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(101))
    response = exchange(server, b"GET /health HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n")
    assert_refusal(response, 431)
    assert b"Too many header fields" in response.body


def test_an_early_response_ends_the_connection_instead_of_draining_the_body(server: RunningServer) -> None:
    """The app answers before the body is in (unsigned /v1/ gets 403): the server does not read the rest of a body
    of any size to keep the connection; the client gets the whole answer, then the end of the connection."""
    declared = 4 * 1024**3
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(b"POST /v1/domain?domain=x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % declared)
        sock.settimeout(5)
        answer = b""
        while not answer.endswith(b"}"):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 403 "), answer[:100]
        sock.settimeout(0.05)
        sent, ended, deadline = 0, False, time.monotonic() + 10
        chunk = b"x" * (1 << 20)
        while time.monotonic() < deadline and not ended:
            try:
                sent += sock.send(chunk)
            except (BlockingIOError, TimeoutError):
                pass
            except (BrokenPipeError, ConnectionResetError):
                ended = True
            try:
                ended = ended or sock.recv(65536) == b""
            except (BlockingIOError, TimeoutError):
                pass
            except ConnectionResetError:
                ended = True
    assert ended, "the connection stayed open after the early response"
    assert sent < declared // 2, f"the server drained {sent} bytes of the body"


def test_requests_within_the_limits_pass(server: RunningServer) -> None:
    """Pipelined requests, a large body behind a small head, a head in small pieces, a 60 KB header."""
    pipelined = exchange(
        server,
        b"GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    assert pipelined.status == 200 and pipelined.rest.startswith(b"HTTP/1.1 200 "), pipelined
    body = b"a" * 300_000
    big = exchange(
        server,
        b"POST /v1/domain?domain=x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body,
    )
    assert big.status == 403, big  # unsigned: refused by the app, not by the HTTP layer
    wide = exchange(
        server, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-W: " + b"w" * 60_000 + b"\r\n\r\n"
    )
    assert wide.status == 200, wide
    with socket.create_connection(address(server), timeout=5) as sock:
        for piece in (b"GET /hea", b"lth HTTP/1.1\r\nHo", b"st: t\r\nConnection: close\r", b"\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.1)
        raw, closed = read_all(sock, 5)
    assert parse(raw, closed).status == 200
    with socket.create_connection(address(server), timeout=5) as sock:
        for _ in range(50):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            sock.settimeout(5)
            data = b""
            while not data.endswith(b"}"):
                data += sock.recv(4096)
            assert data.startswith(b"HTTP/1.1 200 ")


# ---------------------------------------------------------------------------------------------------------------
# slow clients


def test_a_head_dribbled_slowly_gets_408_after_the_header_timeout(server: RunningServer) -> None:
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        start = time.monotonic()
        sock.setblocking(False)
        raw = b""
        closed = False
        while time.monotonic() - start < TIMEOUT + SLACK + 3:
            try:
                sock.send(b"a")  # one byte every 0.2 s: never idle, never done
            except OSError:
                pass
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                raw += chunk
        elapsed = time.monotonic() - start
    response = parse(raw, closed)
    assert_refusal(response, 408)
    assert TIMEOUT * 0.9 < elapsed < TIMEOUT + SLACK + 2.5, elapsed  # + the linger while it kept sending


def test_a_new_connection_that_sends_nothing_is_closed(server: RunningServer) -> None:
    with socket.create_connection(address(server), timeout=5) as sock:
        start = time.monotonic()
        raw, closed = read_all(sock, TIMEOUT + SLACK + 2)
        elapsed = time.monotonic() - start
    assert closed and raw == b""
    assert elapsed < TIMEOUT + SLACK, elapsed


def test_an_idle_keep_alive_connection_is_closed(server: RunningServer) -> None:
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        start = time.monotonic()
        raw, closed = read_all(sock, TIMEOUT + SLACK + 4)
        elapsed = time.monotonic() - start
    assert parse(raw, closed).status == 200
    assert closed, "an idle keep-alive connection stayed open"
    assert elapsed < TIMEOUT + SLACK, elapsed


def test_a_stalled_body_is_cut_after_the_body_timeout(server: RunningServer) -> None:
    """The app waits for the form (POST /): 408 in the Query protocol's shape, and the connection closes."""
    head = (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(head + b"Action=GetCallerIdentity&")
        start = time.monotonic()
        raw, closed = read_all(sock, TIMEOUT + SLACK + 4)
        elapsed = time.monotonic() - start
    response = parse(raw, closed)
    assert_refusal(response, 408)
    assert elapsed < TIMEOUT + SLACK, elapsed
    error = ET.fromstring(response.body)
    assert error.tag == f"{{{STS_NS}}}ErrorResponse"
    assert error.findtext(f"{{{STS_NS}}}Error/{{{STS_NS}}}Code") == "RequestTimeout"


def test_a_body_stalled_after_the_response_is_closed(server: RunningServer) -> None:
    """The app answers before reading (unsigned /v1/): the connection is closed once the rest of the body stalls."""
    head = b"POST /v1/domain?domain=x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
    with socket.create_connection(address(server), timeout=5) as sock:
        sock.sendall(head + b"abc")
        start = time.monotonic()
        raw, closed = read_all(sock, TIMEOUT + SLACK + 4)
        elapsed = time.monotonic() - start
    response = parse(raw, closed)
    assert response.status == 403 and closed and response.rest == b"", response
    assert elapsed < TIMEOUT + SLACK, elapsed


# ---------------------------------------------------------------------------------------------------------------
# connections


def test_connections_past_the_cap_get_503_until_some_close(tmp_path: Path) -> None:
    cap = 16
    env = {"COFFER_MAX_CONNECTIONS": str(cap), "COFFER_KEEP_ALIVE_TIMEOUT": "60"}
    with running_server(tmp_path / "data", env=env) as server:
        time.sleep(0.2)  # the start-up health check's connection is gone
        held = [socket.create_connection(address(server), timeout=5) for _ in range(cap)]
        try:
            time.sleep(0.2)
            refused = exchange(server, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            assert_refusal(refused, 503)
            assert refused.headers["content-type"].startswith("text/plain")
            assert refused.headers.get("retry-after") == "1"
            for sock in held[:4]:
                sock.close()
            time.sleep(0.3)
            served = exchange(server, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert served.status == 200
        finally:
            for sock in held:
                sock.close()


def test_a_bad_limit_stops_serve_with_one_line(tmp_path: Path) -> None:
    cmd = [*coffer_command(), "serve", "--port", "0", "--data-dir", str(tmp_path / "data")]
    try:
        done = subprocess.run(
            cmd, env={**os.environ, "COFFER_MAX_CONNECTIONS": "lots"}, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("coffer serve started with COFFER_MAX_CONNECTIONS=lots")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["coffer: COFFER_MAX_CONNECTIONS must be an integer, got 'lots'"]


# ---------------------------------------------------------------------------------------------------------------
# the dialect of refusals

NUL = b"X-Odd: a\x00b\r\n"
BIG = b"X-Big: " + b"a" * 70_000 + b"\r\n"
LONG = b"a" * 17_000


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        pytest.param(b"GET /v1/domains HTTP/1.1\r\nHost: t\r\n" + NUL + b"\r\n", 400, "ValidationException", id="nul"),
        pytest.param(b"GET /v1/dom\x01ains HTTP/1.1\r\nHost: t\r\n\r\n", 400, "ValidationException", id="bad-line"),
        pytest.param(
            b"GET /v1/domains?x=" + LONG + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "RequestURITooLong", id="url"
        ),
        pytest.param(
            b"POST /v1/domain HTTP/1.1\r\nHost: t\r\n" + BIG + b"\r\n", 431, "RequestHeaderSectionTooLarge", id="head"
        ),
    ],
)
def test_refusals_under_v1_are_rest_json(server: RunningServer, request_bytes: bytes, status: int, code: str) -> None:
    response = exchange(server, request_bytes)
    assert_refusal(response, status)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-errortype"] == code
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    assert body["__type"] == code and isinstance(body["message"], str) and body["message"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "code", "namespace"),
    [
        pytest.param(b"POST / HTTP/1.1\r\nHost: t\r\n" + NUL + b"\r\n", 400, "ValidationError", STS_NS, id="nul-sts"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: t\r\n" + IAM_SCOPE + NUL + b"\r\n", 400, "ValidationError", IAM_NS, id="nul-iam"
        ),
        pytest.param(
            b"GET /?Action=GetUser&Version=2010-05-08&x=" + LONG + b" HTTP/1.1\r\nHost: t\r\n\r\n",
            414,
            "RequestURITooLong",
            IAM_NS,
            id="url-iam",
        ),
        pytest.param(
            b"GET /?Action=GetCallerIdentity&Version=2011-06-15 HTTP/1.1\r\nHost: t\r\n" + BIG + b"\r\n",
            431,
            "RequestHeaderSectionTooLarge",
            STS_NS,
            id="head-sts",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: t\r\n" + IAM_SCOPE + BIG + b"\r\n",
            431,
            "RequestHeaderSectionTooLarge",
            IAM_NS,
            id="head-iam",
        ),
    ],
)
def test_refusals_of_the_query_protocol_are_xml(
    server: RunningServer, request_bytes: bytes, status: int, code: str, namespace: str
) -> None:
    response = exchange(server, request_bytes)
    assert_refusal(response, status)
    assert response.headers["content-type"] == "text/xml"
    error = ET.fromstring(response.body)
    assert error.tag == f"{{{namespace}}}ErrorResponse"
    ns = f"{{{namespace}}}"
    assert error.findtext(f"{ns}Error/{ns}Code") == code
    assert error.findtext(f"{ns}Error/{ns}Type") == "Sender"
    assert error.findtext(f"{ns}Error/{ns}Message")
    assert error.findtext(f"{ns}RequestId") == response.headers["x-amzn-requestid"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "says"),
    [
        pytest.param(
            b"GET /pypi/d/a-1/r/simple/ HTTP/1.1\r\nHost: t\r\n" + NUL + b"\r\n", 400, b"header value", id="nul"
        ),
        pytest.param(b"GET /pypi/d/a-1/r/simple/ HTTP/1.1\r\nHost: t\r\n" + BIG + b"\r\n", 431, b"65536", id="head"),
        pytest.param(b"GET /health HTTP/1.1\r\nHost: t\r\n" + NUL + b"\r\n", 400, b"header value", id="health"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400, b"invalid method", id="tls"),
    ],
)
def test_other_refusals_are_plain_text(server: RunningServer, request_bytes: bytes, status: int, says: bytes) -> None:
    response = exchange(server, request_bytes)
    assert_refusal(response, status)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert says in response.body


# ---------------------------------------------------------------------------------------------------------------
# the fence around uvicorn's internals


def test_the_uvicorn_internals_the_guard_relies_on_are_there() -> None:
    """If this fails after a uvicorn upgrade, update coffer/app/uvicorn_fence.py (and the pin) before anything else."""
    import asyncio

    from uvicorn.config import Config
    from uvicorn.protocols.http.flow_control import FlowControl
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
    from uvicorn.server import ServerState

    from coffer.app.uvicorn_fence import GuardedHttpToolsProtocol, instance_problems

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    loop = asyncio.new_event_loop()
    try:
        config = Config(app, http=GuardedHttpToolsProtocol)
        protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)

        class Transport(asyncio.Transport):
            def get_extra_info(self, name: str, default: object = None) -> object:
                return ("127.0.0.1", 1) if name in ("peername", "sockname") else default

        flow = FlowControl(Transport())
        cycle = RequestResponseCycle(
            scope={"type": "http", "method": "GET", "path": "/", "headers": []},  # type: ignore[typeddict-item]
            transport=Transport(),
            flow=flow,
            logger=protocol.logger,
            access_logger=protocol.access_logger,
            access_log=False,
            default_headers=[],
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=True,
            on_response=lambda: None,
        )
        assert instance_problems(protocol, cycle, flow) == []
        guarded = GuardedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        assert guarded.timeout_keep_alive == 5.0
    finally:
        loop.close()


def test_the_iam_namespace_of_refusals_is_the_models() -> None:
    from coffer.aws.query_model import load_query_service
    from coffer.aws.query_xml import DEFAULT_NAMESPACE
    from coffer.http.refusals import IAM_NAMESPACE

    assert load_query_service("iam").xml_namespace == IAM_NAMESPACE
    assert load_query_service("sts").xml_namespace == DEFAULT_NAMESPACE


def test_limits_from_the_environment() -> None:
    from coffer.settings import HttpLimits, Settings, SettingsError

    assert Settings.from_env({}).http_limits == HttpLimits()
    limits = Settings.from_env(
        {"COFFER_HEADER_TIMEOUT": "2.5", "COFFER_MAX_CONNECTIONS": "64", "COFFER_BODY_TIMEOUT": ""}
    ).http_limits
    assert (limits.header_timeout, limits.max_connections, limits.body_timeout) == (2.5, 64, 30.0)
    for env in ({"COFFER_MAX_CONNECTIONS": "0"}, {"COFFER_HEADER_TIMEOUT": "nan"}, {"COFFER_MAX_HEADER_BYTES": "1000"}):
        with pytest.raises(SettingsError, match="COFFER_"):
            Settings.from_env(env)
