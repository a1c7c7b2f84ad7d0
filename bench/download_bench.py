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

The load is bench/download_load.py's (one client process, a thread per connection, bodies received into a reused
buffer; its ``measure_download(url, headers, connections, seconds)`` is the one-call form bench/compare.py uses),
driven here so that the server's CPU is read at the edges of the measured window itself. The CPU is split into
user and kernel time: with ``sendfile`` most of what is left is the kernel's TCP work and the app's per-request
path (token, authorization, lookup).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from download_load import download_request, measure_download, worker_main
from pypi_index import Clients

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache" / "download"


class DownloadError(RuntimeError):
    pass


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

    peer, _ = setup_pypiserver(tmp, [wheel], server_cpus)
    return Target("pypiserver", f"{peer.url}/packages/{wheel.name}", {}, peer.process.pid), peer.stop


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


def measure(clients: Clients, target: Target, rnd: int, connections: int, seconds: float) -> Sample:
    """One phase: a 0.5 s ramp, then ``seconds`` measured; the server's CPU read at the window's edges."""
    host, port, request = download_request(target.url, target.headers)
    measure_from = time.perf_counter() + 0.5
    until = measure_from + seconds
    clients.start(host, port, request, connections, measure_from, until)
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    user0, system0 = target.cpu()
    time.sleep(max(0.0, until - time.perf_counter()))
    user, system = target.cpu()
    (message,) = clients.results()
    if message["errors"]:
        raise DownloadError(f"{target.name}: {message['errors']} failed downloads: {message['error_samples']}")
    server = user - user0 + system - system0
    return Sample(
        target.name, rnd, message["bytes"] / seconds, server, system - system0, message["cpu_seconds"], seconds
    )


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
    clients: Clients | None = None
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
            for target in targets:
                check_content(target, sha256)
            clients = Clients(1, client_cpus, worker=worker_main)
            for target in targets:
                measure(clients, target, -1, args.connections, min(1.0, args.seconds))  # warm-up
            for rnd in range(args.rounds):
                for target in targets if rnd % 2 == 0 else targets[::-1]:
                    s = measure(clients, target, rnd, args.connections, args.seconds)
                    samples.append(s)
                    print(
                        f"  round {rnd + 1} {s.name:10} {s.bytes_per_second / 1e6:8,.0f} MB/s  server CPU "
                        f"{s.server_cpu:5.2f} s ({s.server_cpu / s.seconds:4.0%}, kernel {s.server_system:5.2f} s)  "
                        f"{s.per_cpu_second / 1e6:8,.0f} MB per server CPU-s  client CPU "
                        f"{s.client_cpu / s.seconds:4.0%}",
                        flush=True,
                    )
        except (DownloadError, RuntimeError, httpx.HTTPError, subprocess.SubprocessError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2
        finally:
            if clients is not None:
                clients.close()
            for stop in stops:
                stop()
    print("medians:")
    for name in dict.fromkeys(s.name for s in samples):
        mine = [s for s in samples if s.name == name]
        rate = statistics.median(s.bytes_per_second for s in mine) / 1e6
        per_cpu = statistics.median(s.per_cpu_second for s in mine) / 1e6
        print(f"  {name:10} {rate:8,.0f} MB/s  {per_cpu:8,.0f} MB per server CPU-s")
    return 0


__all__ = ["Sample", "Target", "measure", "measure_download"]


if __name__ == "__main__":
    sys.exit(main())
