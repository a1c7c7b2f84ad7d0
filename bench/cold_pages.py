"""Cold package pages: what the first requests of an install cost Coffer once its caches' second has passed.

    .venv/bin/python bench/cold_pages.py [--rounds 12] [--idle 1.3] [--concurrency 8]

One command, nothing to prepare: Coffer (``coffer serve --workers 1``, a fresh data directory, the tree's 32 real
wheels uploaded with twine as ``compare.py`` does) pinned to the first CPU, this client to the other. Each round
waits ``--idle`` seconds, longer than the caches' second, so that identities, repositories and package views have
expired, as they have at the start of every install; then it fetches each project's JSON simple page and its
newest file's ``.metadata`` (PEP 658), ``--concurrency`` at a time over keep-alive connections (uv's pattern: the
pages of its first requirements at once), and at once the same burst again, warm. Prints the median time of a cold
and of a warm burst and the server's mean CPU per burst; every response is checked (200, and the page lists files).

The client is a few lines of asyncio over raw sockets (``loadgen.read_response``): httpx cost the client more than
the server's whole burst. Coffer alone: the question is what the caches' expiry costs, which no peer has.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from common import bench_parser, machine, parse_positive, say, tree_cpu
from loadgen import read_response
from pypi_bench import setup_coffer
from servers import bench_lock, split_cpus
from upstream_bench import tree_wheels

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Burst:
    """Keep-alive connections to Coffer and the requests of one burst."""

    def __init__(self, port: int, auth: str, simple_path: str, projects: list[str]) -> None:
        self.port = port
        self.auth = auth
        self.simple_path = simple_path
        self.projects = projects
        self.free: asyncio.Queue[Connection] = asyncio.Queue()

    async def connect(self, count: int) -> None:
        for _ in range(count):
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def get(self, path: str) -> bytes:
        reader, writer = await self.free.get()
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {self.auth}\r\n"
                "Accept: application/vnd.pypi.simple.v1+json\r\n\r\n".encode()
            )
            status, body, close = await read_response(reader)
        finally:
            self.free.put_nowait((reader, writer))
        if status != 200 or close:
            raise RuntimeError(f"GET {path}: {status}{' (connection closed)' if close else ''}: {body[:200]!r}")
        return body

    async def project(self, name: str) -> None:
        page = f"{self.simple_path}{name}/"
        files = json.loads(await self.get(page))["files"]
        if not files:
            raise RuntimeError(f"{page} lists no files")
        url = urllib.parse.urljoin(f"http://127.0.0.1{page}", files[-1]["url"])
        await self.get(urllib.parse.urlsplit(url).path + ".metadata")

    async def run(self) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(self.project(name) for name in self.projects))
        return time.perf_counter() - t0


async def measure(burst: Burst, pid: int, args: Any) -> dict[str, list[float]]:
    await burst.connect(args.concurrency)
    await burst.run()  # the views built once
    out: dict[str, list[float]] = {"cold_s": [], "warm_s": [], "cold_cpu_s": [], "warm_cpu_s": []}
    for rnd in range(args.rounds):
        await asyncio.sleep(args.idle)
        for kind in ("cold", "warm"):
            cpu = tree_cpu(pid)
            seconds = await burst.run()
            out[f"{kind}_s"].append(seconds)
            out[f"{kind}_cpu_s"].append(tree_cpu(pid) - cpu)
        say(f"  round {rnd + 1:2}  cold {out['cold_s'][-1] * 1e3:6.1f} ms  warm {out['warm_s'][-1] * 1e3:6.1f} ms")
    return out


def main() -> int:
    parser = bench_parser(__doc__, "cold-pages.json")
    parser.add_argument("--rounds", type=int, default=12, help="rounds (default 12)")
    parser.add_argument("--idle", type=float, default=1.3, help="seconds idle before each cold burst (default 1.3)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    args = parse_positive(parser, "rounds", "idle", "concurrency")
    server_cpus, client_cpus = split_cpus(args.no_pin)
    wheels = tree_wheels()
    with bench_lock(), tempfile.TemporaryDirectory(prefix="coffer-cold-pages-") as tmpname:
        server, index, _ = setup_coffer(Path(tmpname), wheels, server_cpus, ("--workers", "1"))
        try:
            if client_cpus is not None:
                os.sched_setaffinity(0, set(client_cpus))
            projects = sorted({w.name.split("-")[0].lower().replace("_", "-") for w in wheels})
            burst = Burst(server.port, index.auth_header, index.simple_path, projects)
            say(
                f"cold pages: {len(projects)} projects, a page and a .metadata each, {args.concurrency} at a time; "
                f"{args.rounds} rounds, {args.idle:g} s idle before each cold burst"
            )
            result = asyncio.run(measure(burst, server.process.pid, args))
        finally:
            server.stop()
    medians = {key: statistics.median(values) for key, values in result.items() if not key.endswith("cpu_s")}
    # /proc counts CPU in 10 ms ticks: one burst's is too coarse, the mean over the rounds is not
    means = {key: statistics.fmean(values) for key, values in result.items() if key.endswith("cpu_s")}
    say(
        f"median burst: cold {medians['cold_s'] * 1e3:.1f} ms, warm {medians['warm_s'] * 1e3:.1f} ms; server CPU per "
        f"burst (mean): cold {means['cold_cpu_s'] * 1e3:.1f} ms, warm {means['warm_cpu_s'] * 1e3:.1f} ms"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    record = {**machine("cold_pages.py"), "args": {k: str(v) for k, v in vars(args).items()}}
    args.output.write_text(json.dumps({**record, "rounds": result, "medians": medians, "means": means}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
