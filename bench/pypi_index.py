"""Helpers for bench/pypi_bench.py: tiny hand-built wheels, and load client processes that send one fixed request.

The load client reuses bench/loadgen.py's response reader and result record; unlike loadgen's connections (which
sign a GetAuthorizationToken request or send GET /health) each connection here sends the same prepared bytes,
e.g. a ``simple/<project>/`` GET with an ``Authorization: Basic`` header, over a keep-alive HTTP/1.1 connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import multiprocessing
import os
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from loadgen import HttpError, PhaseResult, _new_loop, read_response

# pip's Accept header (pip >= 22.2): JSON (PEP 691) preferred, HTML accepted
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


# ----------------------------------------------------------------------------------------------------------------
# wheels


@dataclass(frozen=True)
class Project:
    name: str
    versions: tuple[str, ...]

    @property
    def latest(self) -> str:
        return self.versions[-1]


def escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(out: Path, name: str, version: str, padding: int = 3000) -> Path:
    """A pure-Python py3-none-any wheel without dependencies: a package ``<escaped name>`` with ``VALUE`` and a
    few KB of distinct (barely compressible) filler, so that each wheel is a few KB."""
    dist = escape(name)
    info = f"{dist}-{version}.dist-info"
    seed = hashlib.sha256(f"{name} {version}".encode()).digest()
    filler = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(padding // 32 + 1))
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name}, a benchmark wheel\n"
        f"Requires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n# {name}\n"
    )
    files = {
        f"{dist}/__init__.py": f'VALUE = "{name} {version}"\n'.encode(),
        f"{dist}/_filler.py": b"DATA = " + repr(base64.b64encode(filler[:padding]).decode()).encode() + b"\n",
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: coffer-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = out / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


def make_projects(count: int) -> list[Project]:
    """``count`` projects; every fifth one has three versions, the others one."""
    projects = []
    for i in range(1, count + 1):
        versions = ("1.0.0", "1.1.0", "2.0.0") if i % 5 == 1 else (f"0.{i}.0",)
        projects.append(Project(f"coffer-bench-pkg{i:02d}", versions))
    return projects


def build_wheels(out: Path, projects: list[Project]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [build_wheel(out, p.name, v) for p in projects for v in p.versions]


# ----------------------------------------------------------------------------------------------------------------
# load: each connection sends the same request


def get_request(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "User-Agent: coffer-bench"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def one_get(host: str, port: int, request: bytes) -> tuple[int, bytes]:
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
    host: str,
    port: int,
    request: bytes,
    result: PhaseResult,
    measure_from: float,
    measure_until: float,
    answered: bool = False,
) -> None:
    latencies = result.latencies
    perf = time.perf_counter
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while True:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port)
            t0 = perf()
            if t0 >= measure_until:
                break
            try:
                writer.write(request)
                status, body, close = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HttpError, ValueError) as exc:
                result.error(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            t1 = perf()
            if status != 200:
                result.error(f"HTTP {status}: {body[:300]!r}")
            elif (measure_from <= t1 if answered else measure_from <= t0) and t1 <= measure_until:
                result.ok += 1
                latencies.append(t1 - t0)
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def run_phase(
    host: str,
    port: int,
    request: bytes,
    connections: int,
    measure_from: float,
    measure_until: float,
    answered: bool = False,
) -> PhaseResult:
    """Load until ``measure_until``; a response counts if its request was sent and answered inside the window,
    or with ``answered`` if it was answered inside it (for a server slower per request than the window is long:
    16 connections queued behind one another wait 16 times a request). Requests still open at the end are
    answered before the phase ends, so the server is idle when the next one starts."""
    result = PhaseResult()
    tasks = [
        asyncio.create_task(_connection(host, port, request, result, measure_from, measure_until, answered))
        for _ in range(connections)
    ]
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu0 = time.process_time()
    await asyncio.gather(*tasks)
    result.cpu_seconds = time.process_time() - cpu0
    result.window = measure_until - measure_from
    return result


def worker_main(conn: Connection, cpus: list[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        while True:
            command: dict[str, Any] = conn.recv()
            if command["op"] == "stop":
                break
            result = loop.run_until_complete(
                run_phase(
                    command["host"],
                    command["port"],
                    command["request"],
                    command["connections"],
                    command["from"],
                    command["until"],
                    command.get("answered", False),
                )
            )
            conn.send(result.to_message())
    finally:
        loop.close()
        conn.close()


class Clients:
    """Client processes started once; each phase splits the connections among them. ``worker``: the processes'
    main function (this module's, or another that runs the same commands, e.g. ``download_load.worker_main``)."""

    def __init__(
        self, count: int, cpus: list[int] | None, worker: Callable[[Connection, list[int] | None], None] | None = None
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker or worker_main, args=(child, cpus), daemon=True)
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)

    def start(
        self,
        host: str,
        port: int,
        request: bytes,
        connections: int,
        measure_from: float,
        measure_until: float,
        answered: bool = False,
    ) -> None:
        n = len(self._pipes)
        shares = [connections // n + (1 if i < connections % n else 0) for i in range(n)]
        for pipe, share in zip(self._pipes, shares, strict=True):
            pipe.send(
                {
                    "op": "run",
                    "host": host,
                    "port": port,
                    "request": request,
                    "connections": share,
                    "from": measure_from,
                    "until": measure_until,
                    "answered": answered,
                }
            )

    def results(self) -> list[dict[str, Any]]:
        return [pipe.recv() for pipe in self._pipes]

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send({"op": "stop"})
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
