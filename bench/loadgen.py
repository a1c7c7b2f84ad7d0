"""The load generator: client processes, each an asyncio keep-alive HTTP/1.1 client on raw sockets.

A worker process is started once and then runs one load phase per command it receives over a pipe. In a
phase it opens its share of the connections, each of which sends a request, reads the status line, headers
and Content-Length body, and sends the next one, for a ramp-up that is not measured and then for the
measured window. Token requests are signed at send time, one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from sigv4_fast import Credentials, FastSigner

TOKEN_PATH = "/v1/authorization-token"
HEALTH_PATH = "/health"
MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    domain: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    @property
    def host_header(self) -> str:
        return f"{self.host}:{self.port}"

    def token_query(self) -> str:
        return f"domain={self.domain}&duration=900"

    def token_signer(self) -> FastSigner:
        return FastSigner(
            Credentials(self.access_key_id, self.secret_access_key),
            region=self.region,
            service="codeartifact",
            method="POST",
            host=self.host_header,
            path=TOKEN_PATH,
            query=self.token_query(),
        )

    def health_request(self) -> bytes:
        return f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {self.host_header}\r\nUser-Agent: coffer-bench\r\n\r\n".encode()


@dataclass
class PhaseResult:
    ok: int = 0
    errors: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    error_samples: list[str] = field(default_factory=list)
    window: float = 0.0
    cpu_seconds: float = 0.0

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(text)

    def to_message(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "latencies": self.latencies.tobytes(),
            "error_samples": self.error_samples,
            "window": self.window,
            "cpu_seconds": self.cpu_seconds,
        }


class HttpError(Exception):
    pass


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server wants the connection closed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 ") and not head.startswith(b"HTTP/1.0 "):
        raise HttpError(f"bad status line: {head[:40]!r}")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        j = lower.index(b"\r\n", i + 17)
        length = int(lower[i + 17 : j])
        body = await reader.readexactly(length) if length else b""
    elif b"\r\ntransfer-encoding: chunked\r\n" in lower:  # devpi-server streams its simple pages
        body = await _read_chunked(reader)
    else:
        raise HttpError(f"response without Content-Length (status {status})")
    close = b"\r\nconnection: close\r\n" in lower or head.startswith(b"HTTP/1.0 ")
    return status, body, close


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the empty line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError("bad chunk ending")


async def one_request(host: str, port: int, request: bytes) -> tuple[int, bytes]:
    """Send one request on a fresh connection (used for the checks before the load)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        status, body, _ = await read_response(reader)
        return status, body
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _connection(
    target: Target, kind: str, result: PhaseResult, measure_from: float, measure_until: float
) -> None:
    signer = target.token_signer() if kind == "token" else None
    health = target.health_request()
    latencies = result.latencies
    perf = time.perf_counter
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while True:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(target.host, target.port)
            request = signer.request_bytes() if signer is not None else health  # signed now, for this request
            t0 = perf()
            if t0 >= measure_until:
                break
            try:
                writer.write(request)
                status, body, close = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HttpError, ValueError) as exc:
                result.error(f"{type(exc).__name__}: {exc}")  # during the ramp too: any error fails the run
                writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            t1 = perf()
            if status != 200:
                result.error(f"HTTP {status}: {body[:300]!r}")
            elif t0 >= measure_from and t1 <= measure_until:
                result.ok += 1
                latencies.append(t1 - t0)
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def run_phase(
    target: Target, kind: str, connections: int, measure_from: float, measure_until: float
) -> PhaseResult:
    """Load from now until ``measure_until`` (``time.perf_counter`` values, which all processes share); only
    responses to requests sent at or after ``measure_from`` and received by ``measure_until`` are measured."""
    result = PhaseResult()
    tasks = [
        asyncio.create_task(_connection(target, kind, result, measure_from, measure_until)) for _ in range(connections)
    ]
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu0 = time.process_time()
    await asyncio.gather(*tasks)
    result.cpu_seconds = time.process_time() - cpu0
    result.window = measure_until - measure_from
    return result


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop()


def worker_main(conn: Connection, cpus: list[int] | None) -> None:
    """Entry point of a client process: run phases until told to stop."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        while True:
            command: dict[str, Any] = conn.recv()
            if command["op"] == "stop":
                break
            target: Target = command["target"]
            result = loop.run_until_complete(
                run_phase(target, command["kind"], command["connections"], command["from"], command["until"])
            )
            conn.send(result.to_message())
    finally:
        loop.close()
        conn.close()
