"""Download load: N keep-alive HTTP/1.1 connections, each fetching one file over and over, counting the body bytes
that arrive inside a window.

A client process (``pypi_index.Clients(1, cpus, worker=worker_main)``, the same commands as its own workers) runs
one blocking socket per connection in a thread of its own; the body is read with ``recv_into`` into one reused
1 MiB buffer and dropped, so the client costs little besides the kernel's copy. Bytes count when they arrive inside
the window, whatever response they belong to; a response counts (and its latency, request to last byte) when it
was sent and finished inside it. Requests are sent until the window closes, and the responses still arriving then
are read to their end (not counted), so the server is idle when the next phase starts.

    measure_download(url, headers, connections, seconds) -> bytes per second
"""

from __future__ import annotations

import os
import socket
import threading
import time
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from loadgen import PhaseResult

BUFFER = 1 << 20


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0
        self.lock = threading.Lock()


def _response(
    sock: socket.socket, view: memoryview, measure_from: float, measure_until: float
) -> tuple[int, int, bool]:
    """Read one response: (status, body bytes counted inside the window, server closes)."""
    perf = time.perf_counter
    head = b""
    while True:
        n = sock.recv_into(view)
        if n == 0:
            raise ConnectionError("connection closed before the response's head")
        head += bytes(view[:n])
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(head) > 65536:
            raise ValueError("response head over 64 KiB")
    status = int(head[9:12])
    lower = head[:end].lower()
    i = lower.find(b"\r\ncontent-length:")
    if i < 0:
        raise ValueError(f"response without Content-Length (status {status})")
    j = lower.find(b"\r\n", i + 17)
    length = int(lower[i + 17 : j if j > 0 else None])
    first = len(head) - end - 4
    counted = first if measure_from <= perf() <= measure_until else 0
    remaining = length - first
    while remaining > 0:
        n = sock.recv_into(view[: min(remaining, BUFFER)])
        if n == 0:
            raise ConnectionError(f"connection closed with {remaining} body bytes to come")
        remaining -= n
        if measure_from <= perf() <= measure_until:
            counted += n
    close = b"\r\nconnection: close" in lower or head.startswith(b"HTTP/1.0 ")
    return status, counted, close


def _connection(
    host: str, port: int, request: bytes, result: PhaseResult, counter: _Counter, measure_from: float, until: float
) -> None:
    view = memoryview(bytearray(BUFFER))
    perf = time.perf_counter
    sock: socket.socket | None = None
    try:
        while True:
            t0 = perf()
            if t0 >= until:
                break
            try:
                if sock is None:
                    sock = socket.create_connection((host, port))
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(request)
                status, counted, close = _response(sock, view, measure_from, until)
            except (OSError, ValueError) as exc:
                with counter.lock:
                    result.error(f"{type(exc).__name__}: {exc}")
                if sock is not None:
                    sock.close()
                sock = None
                time.sleep(0.01)
                continue
            t1 = perf()
            with counter.lock:
                counter.bytes += counted
                if status != 200:
                    result.error(f"HTTP {status}")
                elif measure_from <= t0 and t1 <= until:
                    result.ok += 1
                    result.latencies.append(t1 - t0)
            if close:
                sock.close()
                sock = None
    finally:
        if sock is not None:
            sock.close()


def run_phase(host: str, port: int, request: bytes, connections: int, measure_from: float, until: float) -> dict:
    result, counter = PhaseResult(), _Counter()
    threads = [
        threading.Thread(target=_connection, args=(host, port, request, result, counter, measure_from, until))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu0 = time.process_time()  # every thread of this process
    for thread in threads:
        thread.join()
    result.cpu_seconds = time.process_time() - cpu0
    result.window = until - measure_from
    return {**result.to_message(), "bytes": counter.bytes}


def worker_main(conn: Connection, cpus: list[int] | None) -> None:
    """A client process: run download phases (pypi_index.Clients' commands) until told to stop."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        while True:
            command: dict[str, Any] = conn.recv()
            if command["op"] == "stop":
                break
            message = run_phase(command["host"], command["port"], command["request"], command["connections"],
                                command["from"], command["until"])  # fmt: skip
            conn.send(message)
    finally:
        conn.close()


def download_request(url: str, headers: dict[str, str] | None = None) -> tuple[str, int, bytes]:
    """(host, port, the GET request's bytes) for ``url``."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: coffer-bench"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return parts.hostname or "127.0.0.1", parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode()


def measure_download(url: str, headers: dict[str, str] | None, connections: int, seconds: float) -> float:
    """Body bytes per second of ``connections`` connections fetching ``url`` for ``seconds`` (after a 0.5 s ramp),
    from a client process on any CPU."""
    from pypi_index import Clients

    host, port, request = download_request(url, headers)
    clients = Clients(1, None, worker=worker_main)
    try:
        measure_from = time.perf_counter() + 1.0  # the process starts
        clients.start(host, port, request, connections, measure_from, measure_from + seconds)
        (message,) = clients.results()
    finally:
        clients.close()
    if message["errors"]:
        raise RuntimeError(f"{message['errors']} failed downloads: {message['error_samples']}")
    return float(message["bytes"]) / seconds
