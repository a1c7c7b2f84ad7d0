"""Benchmark: one large package file downloaded over and over, Coffer beside pypiserver, in one run.

    .venv/bin/python bench/download_bench.py [--file WHEEL] [--connections 4] [--seconds 5] [--rounds 3]

One command. It starts Coffer (``coffer serve``, fresh data dir) and uploads the file with twine to a PyPI
repository, then creates pypiserver's own virtual environment (pypiserver + waitress, as bench/pypi_bench.py does)
serving the same file from a directory. Both servers are pinned to the first CPU, this process (the client) to the
others. Without ``--file`` the botocore wheel is downloaded once into bench/.cache/ (``pip download botocore
--no-deps``): about 17 MB.

Each round measures Coffer (with its token, ``Authorization: Basic``) and pypiserver in turn (the order alternates),
``--connections`` keep-alive HTTP/1.1 connections fetching the file for ``--seconds`` each after a short warm-up,
and prints MB/s (10^6 bytes), the server's CPU seconds and MB per server CPU-second (what matters on a shared
machine). Before the load, one download from each server is checked against the file's SHA-256.

``measure_download(url, headers, connections, seconds)`` is the load itself, for other benchmarks: blocking sockets,
one thread per connection, each body received into a reused buffer (``recv_into``), every response checked (200,
the full Content-Length). It returns bytes per second.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache" / "download"
BUFFER = 1 << 20
HEAD_LIMIT = 64 * 1024


class DownloadError(RuntimeError):
    pass


# ----------------------------------------------------------------------------------------------------------------
# the load


def _request_bytes(url: str, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"not a plain http URL: {url}")
    port = parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: coffer-download-bench"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _head_fields(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, the server closes the connection) of a response head (without its blank line)."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    close = lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if length < 0:
        raise DownloadError(f"response without Content-Length (status {status})")
    return status, length, close


class _Connection(threading.Thread):
    """One keep-alive connection fetching the same URL until ``deadline`` (``time.perf_counter``)."""

    def __init__(self, host: str, port: int, request: bytes, deadline: float) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.request, self.deadline = host, port, request, deadline
        self.received = 0  # body bytes
        self.responses = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except (OSError, DownloadError, ValueError, IndexError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        buffer = bytearray(BUFFER)
        view = memoryview(buffer)
        clock = time.perf_counter
        sock: socket.socket | None = None
        try:
            while clock() < self.deadline:
                if sock is None:
                    sock = socket.create_connection((self.host, self.port), timeout=30)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(self.request)
                # the head, and whatever part of the body came with it
                got = 0
                while True:
                    n = sock.recv_into(view[got:HEAD_LIMIT])
                    if not n:
                        raise DownloadError("connection closed before the response head")
                    got += n
                    end = buffer.find(b"\r\n\r\n", 0, got)
                    if end >= 0:
                        break
                    if got >= HEAD_LIMIT:
                        raise DownloadError("response head too long")
                status, length, close = _head_fields(bytes(buffer[:end]))
                if status != 200:
                    raise DownloadError(f"HTTP {status}: {bytes(buffer[end + 4 : got])[:200]!r}")
                body = got - end - 4
                if body > length:
                    raise DownloadError("more bytes than the Content-Length")
                self.received += body
                while body < length:
                    n = sock.recv_into(view[: min(BUFFER, length - body)])
                    if not n:
                        raise DownloadError(f"connection closed after {body} of {length} body bytes")
                    body += n
                    self.received += n
                    if clock() >= self.deadline:
                        return  # mid-body: the bytes so far count, the connection is dropped
                self.responses += 1
                if close:
                    sock.close()
                    sock = None
        finally:
            if sock is not None:
                sock.close()


def measure_download(url: str, headers: dict[str, str], connections: int, seconds: float) -> float:
    """Bytes per second of response bodies received by ``connections`` keep-alive connections, each fetching ``url``
    (a plain ``http://`` URL, with ``headers`` added to every request) again and again for ``seconds``. Any error
    (a status other than 200, a short body, a refused connection) raises :class:`DownloadError`."""
    host, port, request = _request_bytes(url, headers)
    started = time.perf_counter()
    threads = [_Connection(host, port, request, started + seconds) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    errors = [t.error for t in threads if t.error]
    if errors:
        raise DownloadError(f"{len(errors)} of {connections} connections failed: {errors[0]}")
    if not any(t.responses for t in threads):
        raise DownloadError(f"no complete response in {seconds:g} s")
    return sum(t.received for t in threads) / elapsed


# ----------------------------------------------------------------------------------------------------------------
# the servers


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    pid: int  # the server's process (its descendants count too)

    def cpu(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the server's processes."""
        from servers import _CLK_TCK, _descendants, _stat_fields

        user = system = 0
        for pid in _descendants(self.pid):
            try:
                fields = _stat_fields(pid)
            except OSError:
                continue
            user, system = user + int(fields[11]), system + int(fields[12])
        return user / _CLK_TCK, system / _CLK_TCK


@dataclass
class Sample:
    name: str
    round: int
    bytes_per_second: float
    server_cpu: float  # seconds, user + system
    server_system: float  # of which in the kernel
    client_cpu: float
    seconds: float

    @property
    def per_cpu_second(self) -> float:
        return self.bytes_per_second * self.seconds / self.server_cpu if self.server_cpu else float("inf")


def botocore_wheel() -> Path:
    """The botocore wheel, downloaded once into bench/.cache/download/."""
    found = sorted(CACHE_DIR.glob("botocore-*.whl"))
    if not found:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps"]
        subprocess.run([*cmd, "-d", str(CACHE_DIR), "botocore"], check=True, timeout=300)
        found = sorted(CACHE_DIR.glob("botocore-*.whl"))
    if not found:
        raise DownloadError(f"pip download botocore left no wheel in {CACHE_DIR}")
    return found[-1]


def coffer_target(tmp: Path, wheel: Path, server_cpus: list[int] | None) -> tuple[Target, Callable[[], None]]:
    from pypi_bench import setup_coffer

    server, index, token = setup_coffer(tmp, [wheel], server_cpus)
    try:
        auth = {"Authorization": "Basic " + base64.b64encode(f"aws:{token}".encode()).decode()}
        page = httpx.get(
            f"{server.url}{index.simple_path}{_project(wheel)}/",
            headers={**auth, "Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=30,
        )
        page.raise_for_status()
        (found,) = (f for f in page.json()["files"] if f["filename"] == wheel.name)
        url = urllib.parse.urljoin(str(page.url), found["url"]).split("#", 1)[0]
    except BaseException:
        server.stop()
        raise
    return Target("coffer", url, auth, server.process.pid), server.stop


def pypiserver_target(tmp: Path, wheel: Path, server_cpus: list[int] | None) -> tuple[Target, Callable[[], None]]:
    from pypi_bench import setup_pypiserver

    process, index, _ = setup_pypiserver(tmp, [wheel], server_cpus)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    url = f"http://{index.host}:{index.port}/packages/{wheel.name}"
    return Target("pypiserver", url, {}, process.pid), stop


def _project(wheel: Path) -> str:
    return wheel.name.split("-", 1)[0].replace("_", "-").lower()


def check_content(target: Target, sha256: str) -> None:
    with httpx.stream("GET", target.url, headers=target.headers, timeout=60) as response:
        response.raise_for_status()
        digest = hashlib.sha256()
        for chunk in response.iter_bytes():
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise DownloadError(f"{target.name} served other bytes than the file ({digest.hexdigest()} != {sha256})")


def measure(target: Target, rnd: int, connections: int, seconds: float) -> Sample:
    measure_download(target.url, target.headers, connections, min(1.0, seconds))  # warm-up
    (user0, system0), client0 = target.cpu(), time.process_time()
    rate = measure_download(target.url, target.headers, connections, seconds)
    user, system = target.cpu()
    server = user - user0 + system - system0
    return Sample(target.name, rnd, rate, server, system - system0, time.process_time() - client0, seconds)


def main() -> int:
    from servers import bench_lock, split_cpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--file", type=Path, help="the wheel to serve (default: botocore's, downloaded once)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent keep-alive connections (default 4)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per server and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and client to separate CPUs")
    parser.add_argument("--coffer-only", action="store_true", help="measure Coffer alone (no pypiserver)")
    args = parser.parse_args()
    wheel = args.file or botocore_wheel()
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    server_cpus, client_cpus = split_cpus(args.no_pin)
    print(
        f"download benchmark: {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB), {args.connections} connections, "
        f"{args.rounds} rounds x {args.seconds:g} s; servers on CPU {server_cpus or 'any'}, client on "
        f"CPU {client_cpus or 'any'}",
        flush=True,
    )
    stops: list[Callable[[], None]] = []
    samples: list[Sample] = []
    with bench_lock(), tempfile.TemporaryDirectory(prefix="coffer-download-bench-") as tmpname:
        tmp = Path(tmpname)
        (tmp / "home").mkdir()
        try:
            target, stop = coffer_target(tmp, wheel, server_cpus)
            stops.append(stop)
            targets = [target]
            if not args.coffer_only:
                target, stop = pypiserver_target(tmp, wheel, server_cpus)
                stops.append(stop)
                targets.append(target)
            if client_cpus:
                os.sched_setaffinity(0, client_cpus)
            for target in targets:
                check_content(target, sha256)
            for rnd in range(args.rounds):
                for target in targets if rnd % 2 == 0 else targets[::-1]:
                    s = measure(target, rnd, args.connections, args.seconds)
                    samples.append(s)
                    print(
                        f"  round {rnd + 1} {s.name:10} {s.bytes_per_second / 1e6:8,.0f} MB/s  server CPU "
                        f"{s.server_cpu:5.2f} s ({s.server_cpu / s.seconds:4.0%}, kernel {s.server_system:5.2f} s)  "
                        f"{s.per_cpu_second / 1e6:8,.0f} MB per server CPU-s  client CPU "
                        f"{s.client_cpu / s.seconds:4.0%}",
                        flush=True,
                    )
        except (DownloadError, httpx.HTTPError, subprocess.SubprocessError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2
        finally:
            for stop in stops:
                stop()
    print("medians:")
    for name in dict.fromkeys(s.name for s in samples):
        mine = [s for s in samples if s.name == name]
        rate = statistics.median(s.bytes_per_second for s in mine) / 1e6
        per_cpu = statistics.median(s.per_cpu_second for s in mine) / 1e6
        print(f"  {name:10} {rate:8,.0f} MB/s  {per_cpu:8,.0f} MB per server CPU-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
