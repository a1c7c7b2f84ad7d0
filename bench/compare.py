"""Issue 12's table in one run: Coffer beside pypiserver and devpi-server on the same real wheels, and beside
Verdaccio for npm (bench/npm_bench.py).

    .venv/bin/python bench/compare.py [--rounds 3] [--skip-npm] [--only pip,uv,simple,download,token,workers,npm]
                                      [--no-wrk] [--record]

One command, nothing to prepare (on this machine about 4 minutes without npm, a minute more for the workers
rows, and 9 with npm). The tree is the 32 wheels of flask, requests, boto3, rich, httpx, pydantic, click, attrs and
their dependencies for this Python, downloaded once into ``bench/.cache/upstream-tree/`` (bench/upstream_bench.py's
``tree_wheels``). The same files are served by:

- Coffer: ``coffer serve --workers 1`` (``--workers`` only where ``coffer serve`` has it), a fresh data
  directory, domain ``bench``, a private repository ``pypi`` holding the wheels (one ``twine upload``), read with a
  token from GetAuthorizationToken (``http://aws:<token>@127.0.0.1:PORT/pypi/bench-111122223333/pypi/simple/``);
- pypiserver 2.4.2 under waitress, from a directory (unauthenticated reads);
- devpi-server 6.20.3 (its defaults), from a private index ``bench/dev`` with no bases, the wheels uploaded with
  twine (anonymous reads).

pypiserver and devpi-server are installed once into ``bench/.cache/venvs/`` (bench/peers.py). The servers run on
the first CPU and the clients (pip, uv, the load generators) on the other, as in the other benchmarks (``--no-pin``
to let both float). The code measured is this checkout's ``src/`` (it is put first on the servers' PYTHONPATH).

Measures (each in rounds, the servers' order rotating from round to round; medians, with every round kept):

- ``pip``: ``pip install --no-cache-dir`` of the eight projects into a fresh venv (all made before the timing),
  pip from the bench's environment with ``--python``, no pip configuration; every install is checked (exactly the
  tree's 32 distributions at the wheels' versions). One unmeasured install per server first.
- ``uv``: the same with ``uv pip install --no-cache --no-config`` (``UV_NO_CONFIG=1``, a home and XDG directories
  of its own, no UV_* or PIP_* variables from the machine).
- ``simple``: ``GET simple/requests/`` with pip's Accept header under 16 keep-alive connections, req/s.
- ``download``: the botocore wheel (its URL as each server's simple page gives it, checked byte for byte) under
  4 connections fetching it over and over, MB/s (10^6 bytes).
- ``token``: GetAuthorizationToken (SigV4-signed per request, bench/loadgen.py) and ``GET /health`` under 32
  connections on the one-worker Coffer, the ratio of their req/s.
- ``workers``: token and simple-page req/s of ``coffer serve --workers 2`` over ``--workers 1``, both unpinned
  (the client shares the two CPUs: its CPU share is reported), 32 and 16 connections; "not available" while
  ``coffer serve`` has no ``--workers``. The client is wrk when it is on PATH (bench/wrk_load.py; one thread):
  the Python clients' CPU (about 100 us per token request here) taken from the CPUs both workers want would
  bound the figure. A token phase sends one request, signed right before it and checked (200 with a token, 403
  with the signature tampered with): valid for 5 minutes, verified in full by the server every time (it caches
  nothing keyed on a signature); a simple-page phase the Python client's request (its 200 checked). Without wrk,
  or with ``--no-wrk``, the Python clients, and the rows say the client may bound the figure. With wrk, a
  control row follows: ``GET /health`` (no work of Coffer's) with 2 workers over 1, on the token phases'
  connections, in the same rounds: the scaling the machine and the client leave two workers, the ceiling of the
  two rows.
- ``npm``: bench/npm_bench.py's run (npm install of a real tree and a large packument under load, Coffer
  beside Verdaccio; about 5 minutes; ``--skip-npm``).

Server CPU (the process and its children) is measured over every phase and install, so each ratio is also given
per server CPU-second. Prints the table (Markdown), writes ``bench/results/compare-latest.json`` (every round,
versions, git revision and whether the tree was dirty, load averages) and, with ``--record``, adds the tables to
bench/README.md ("Comparison runs (issue 12)", newest first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import download_load
import httpx
import npm_bench
import wrk_load
from common import (
    BENCH_DIR,
    REPO_DIR,
    BenchError,
    bench_parser,
    clean_env,
    machine,
    parse_positive,
    run_checked,
    say,
)
from loadgen import Target, one_request
from peers import Peer, devpi_private_index, start_devpi
from pypi_bench import DOMAIN, Index, Phase, installed, measure, measure_load, setup_coffer, setup_pypiserver
from pypi_index import Clients, get_request, normalize
from run import Clients as TokenClients
from run import _finite, _terminate, check_signed, check_signing
from servers import (
    HOST,
    Server,
    ServerError,
    _cpu_seconds,
    _descendants,
    _pinned,
    _script,
    bench_lock,
    cpu_busy_seconds,
    split_cpus,
)
from sigv4_fast import amz_date_now
from upstream_bench import TREE, tree_wheels
from wrk_load import Request, Wrk

MEASURES = ("pip", "uv", "simple", "download", "token", "workers", "npm")
PYPI = ("coffer", "pypiserver", "devpi")
PEERS = ("pypiserver", "devpi")
LABELS = {"coffer": "Coffer", "pypiserver": "pypiserver", "devpi": "devpi-server", "verdaccio": "Verdaccio"}
COLUMNS = ("coffer", "pypiserver", "devpi", "verdaccio")
SIMPLE_PROJECT = "requests"
DOWNLOAD_PROJECT = "botocore"
SIMPLE_CONNECTIONS = 16
SIGNATURE_SECONDS = 300  # how long the server accepts a SigV4 signature (X-Amz-Date skew)
INSTALL_AIM = 0.95  # Coffer's install time at most 0.95x the faster peer's
SIMPLE_AIM = 10.0  # simple page req/s at least 10x pypiserver's
DOWNLOAD_AIM = 1.0  # MB/s at least the faster peer's
TOKEN_AIM = 0.5  # GetAuthorizationToken at least 0.5x /health on one worker
WORKERS_AIM = 1.7  # 2 workers at least 1.7x 1 worker, token and simple page
README = BENCH_DIR / "README.md"
SECTION = "## Comparison runs (issue 12)"


class Clock:
    """The wall seconds of each stage of the run, said as each ends with the time since the start."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            now = time.perf_counter()
            self.stages[name] = round(now - t0, 1)
            minutes, seconds = divmod(int(now - self.start), 60)
            say(f"  [{minutes}:{seconds:02d}] {name}: {now - t0:.0f}s")


CLOCK = Clock()


# ----------------------------------------------------------------------------------------------------------------
# the servers


@dataclass
class Running:
    """What is running (servers, client processes), for the finally block."""

    coffer: list[Server] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        for server in self.coffer:
            server.stop()
        for peer in self.peers:
            peer.stop()
        self.clients.clear()
        self.coffer.clear()
        self.peers.clear()


def coffer_serve_help() -> str:
    return run_checked([*_script("coffer", "coffer"), "serve", "--help"], "coffer serve --help")


def setup_devpi(tmp: Path, wheels: list[Path], cpus: list[int] | None, running: Running) -> Index:
    peer = start_devpi(tmp, cpus)
    running.peers.append(peer)
    t0 = time.perf_counter()
    url = devpi_private_index(peer, tmp, wheels)
    versions = peer.info["versions"]
    say(
        f"  devpi: {peer.url} (devpi-server {versions['devpi-server']}) index {peer.info['index']}: "
        f"{len(wheels)} wheels in {time.perf_counter() - t0:.1f}s"
    )
    path = urllib.parse.urlsplit(url).path
    return Index("devpi", HOST, peer.port, path, url, None, peer.cpu)


def file_url(index: Index, project: str, filename: str) -> str:
    """The URL of ``filename`` as ``index``'s simple page of ``project`` gives it (JSON or HTML)."""
    page = f"http://{index.host}:{index.port}{index.project_path(project)}"
    r = httpx.get(page, headers=index.headers(), timeout=30)
    if r.status_code != 200:
        raise BenchError(f"{index.name}: {page} answered {r.status_code}: {r.text[:300]}")
    if r.headers.get("content-type", "").startswith("application/vnd.pypi.simple.v1+json"):
        links = [(f["filename"], f["url"]) for f in r.json()["files"]]
    else:
        hrefs = re.findall(r'href="([^"]+)"', r.text)
        links = [(urllib.parse.unquote(h.split("#", 1)[0].rsplit("/", 1)[-1]), h) for h in hrefs]
    for name, url in links:
        if name == filename:
            return urllib.parse.urljoin(page, url).split("#", 1)[0]
    raise BenchError(f"{index.name}: {page} does not list {filename}: {r.text[:500]}")


def check_servers(indexes: dict[str, Index], wheels: list[Path]) -> dict[str, str]:
    """Every server lists the simple page's project and serves the download's wheel byte for byte; Coffer refuses
    the page without its token. The download URL of each server."""
    simple = next(w for w in wheels if normalize(w.name.split("-")[0]) == SIMPLE_PROJECT)
    wheel = next(w for w in wheels if normalize(w.name.split("-")[0]) == DOWNLOAD_PROJECT)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    urls = {}
    for name, index in indexes.items():
        file_url(index, SIMPLE_PROJECT, simple.name)
        url = file_url(index, DOWNLOAD_PROJECT, wheel.name)
        r = httpx.get(url, headers=index.headers(None), timeout=60)
        if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != digest:
            raise BenchError(f"{name}: {url} answered {r.status_code}, {len(r.content)} bytes, not {wheel.name}")
        if "content-length" not in r.headers:
            raise BenchError(f"{name}: {url} has no Content-Length (headers {dict(r.headers)})")
        urls[name] = url
    coffer = indexes["coffer"]
    r = httpx.get(f"http://{coffer.host}:{coffer.port}{coffer.project_path(SIMPLE_PROJECT)}", timeout=30)
    if r.status_code != 401:
        raise BenchError(f"coffer: simple/{SIMPLE_PROJECT}/ without a token answered {r.status_code}, expected 401")
    return urls


def probed(index: Index, pid: int, cpus: list[int] | None) -> Index:
    """``index`` with its CPU measured by a CpuProbe of ``pid`` (on ``cpus``)."""
    return dataclasses.replace(index, cpu=CpuProbe(pid, cpus))


class CpuProbe:
    """A server's CPU seconds (its process and their children, as ``Server.cpu_seconds``), asked at a window's start
    and at its end (``measure`` and ``install`` do), that also keeps what each process used of the last window and
    how busy the server's CPUs were besides (other processes, steal)."""

    def __init__(self, pid: int, cpus: list[int] | None) -> None:
        self.pid = pid
        self.cpus = cpus
        self.snapshots: list[tuple[dict[int, float], float]] = []

    def __call__(self) -> float:
        snapshot = {pid: _cpu_seconds(pid) for pid in _descendants(self.pid)}
        busy = cpu_busy_seconds(self.cpus) if self.cpus else 0.0
        self.snapshots = [*self.snapshots[-1:], (snapshot, busy)]
        return sum(snapshot.values())

    def window(self, seconds: float) -> dict[str, Any]:
        """The last window's CPU, as shares of one core over ``seconds``: each process's (largest first, at most
        four) and the other load on the server's CPUs (None when the server is not pinned)."""
        (before, busy0), (after, busy1) = self.snapshots
        used = sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True)
        other = max(0.0, busy1 - busy0 - sum(used)) / seconds if self.cpus else None
        return {"processes": [round(x / seconds, 3) for x in used[:4]], "other_cpu": other}


# ----------------------------------------------------------------------------------------------------------------
# installs


@dataclass
class Install:
    tool: str  # pip or uv
    server: str
    round: int  # -1: the unmeasured first install
    seconds: float
    server_cpu_seconds: float
    client_cpu_seconds: float  # pip's or uv's
    loadavg: float
    other_cpu: float | None = None  # the other load on the server's CPUs, share of one core


def uv_binary() -> str:
    """uv beside the bench's Python (the ``clients`` extra installs it); ``pip install uv`` into it otherwise."""
    path = Path(sys.executable).parent / "uv"
    if not path.exists():
        run_checked([sys.executable, "-m", "pip", "install", "-q", "uv"], "pip install uv", timeout=600)
    return str(path)


def install(
    tool: str, index: Index, venv: Path, home: Path, expected: dict[str, str], cpus: list[int] | None, rnd: int
) -> Install:
    python = str(venv / "bin" / "python")
    if tool == "pip":
        cmd = [sys.executable, "-m", "pip", "--python", python, "install", "--no-cache-dir"]
        cmd += ["--disable-pip-version-check", "--index-url", index.pip_index_url, *TREE]
        env = clean_env(home)
    else:
        cmd = [uv_binary(), "pip", "install", "--no-cache", "--no-config", "--python", python]
        cmd += ["--default-index", index.pip_index_url, *TREE]
        env = clean_env(home, UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = index.cpu()
    t0 = time.perf_counter()
    r = subprocess.run(_pinned(cmd, cpus), env=env, cwd=home, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    cpu = index.cpu() - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
    if r.returncode != 0:
        raise BenchError(f"{tool} install from {index.name} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    got = installed(venv)
    if got != expected:
        wrong = sorted(set(got.items()) ^ set(expected.items()))
        raise BenchError(f"{tool} install from {index.name}: not the tree's distributions ({wrong[:10]})")
    other = index.cpu.window(seconds)["other_cpu"] if isinstance(index.cpu, CpuProbe) else None
    return Install(tool, index.name, rnd, seconds, cpu, client_cpu, os.getloadavg()[0], other)


def rotation(rnd: int, names: tuple[str, ...]) -> tuple[str, ...]:
    """The servers' order in round ``rnd``: rotated by one each round, so each takes each place in turn."""
    k = rnd % len(names) if rnd >= 0 else 0
    return names[k:] + names[:k]


def run_installs(
    tool: str,
    indexes: dict[str, Index],
    wheels: list[Path],
    tmp: Path,
    args: argparse.Namespace,
    cpus: list[int] | None,
) -> list[Install]:
    expected = {normalize(w.name.split("-")[0]): w.name.split("-")[1] for w in wheels}
    order = [(rnd, name) for rnd in range(-1, args.rounds) for name in rotation(rnd, PYPI)]
    venvs = []
    for i, _ in enumerate(order):  # every venv first, outside the timing
        venv = tmp / f"{tool}-venvs" / f"v{i}"
        run_checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], "creating a venv")
        venvs.append(venv)
    home = tmp / f"{tool}-home"
    home.mkdir()
    done = []
    for (rnd, name), venv in zip(order, venvs, strict=True):
        one = install(tool, indexes[name], venv, home, expected, cpus, rnd)
        done.append(one)
        label = "first  " if rnd < 0 else f"round {rnd + 1}"
        say(f"  {tool} {label} {LABELS[name]:12} {one.seconds:6.2f}s  server CPU {one.server_cpu_seconds:5.2f}s  "
            f"{tool} CPU {one.client_cpu_seconds:5.2f}s  other load {share(one.other_cpu)}  "
            f"load {one.loadavg:.1f}")  # fmt: skip
    return done


# ----------------------------------------------------------------------------------------------------------------
# loads


def share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def show(p: Phase) -> None:
    rate = f"{p.bytes_per_s / 1e6:8,.0f} MB/s" if p.bytes_per_s else f"{p.rps:8,.0f} req/s"
    processes = p.extra.get("processes", [])
    split = f" ({' + '.join(f'{x:.0%}' for x in processes)})" if len(processes) > 1 else ""
    say(f"  {p.kind:8} round {p.round + 1} {LABELS.get(p.server, p.server):12} {rate}  p50 {p.p50_ms:7.1f} ms  "
        f"errors {p.errors}  server CPU {p.server_cpu:4.0%}{split}  other load {share(p.extra.get('other_cpu'))}  "
        f"client CPU {p.client_cpu:4.0%}  load {p.loadavg:.1f}")  # fmt: skip


def rounds_of(
    phase: Callable[[str, int], Phase],
    names: tuple[str, ...],
    args: argparse.Namespace,
    phases: list[Phase],
    probe: Callable[[str], CpuProbe],
) -> None:
    """An unmeasured warm-up of each of ``names``, then the rounds, the order rotating; each phase's CPU details
    from ``probe(name)``."""
    for rnd in range(-1, args.rounds):
        for name in rotation(rnd, names):
            p = phase(name, rnd)
            p.extra.update(probe(name).window(args.seconds if rnd >= 0 else args.warmup))
            phases.append(p)
            if rnd >= 0:
                show(p)


def load_simple(clients: Clients, index: Index, rnd: int, args: argparse.Namespace, name: str = "") -> Phase:
    seconds = args.seconds if rnd >= 0 else args.warmup
    return measure_load(clients, name or index.name, "simple", index.host, index.port,
                        index.request("simple", SIMPLE_PROJECT), index.cpu, rnd, seconds, ramp=args.ramp,
                        concurrency=SIMPLE_CONNECTIONS)  # fmt: skip


def load_token(
    clients: TokenClients, target: Target, kind: str, name: str, cpu: Callable[[], float], rnd: int,
    args: argparse.Namespace,
) -> Phase:  # fmt: skip
    seconds = args.seconds if rnd >= 0 else args.warmup

    def begin(measure_from: float, measure_until: float) -> None:
        clients.start(target, kind, args.token_concurrency, measure_from, measure_until)

    return measure(begin, clients.results, name, kind, cpu, rnd, seconds, ramp=args.ramp)


def load_wrk(
    wrk: Wrk, request: Request, connections: int, index: Index, kind: str, name: str, rnd: int,
    args: argparse.Namespace,
) -> Phase:  # fmt: skip
    """One phase of wrk sending ``request`` (bench/wrk_load.py); its CPU is read when the server's is."""
    seconds = args.seconds if rnd >= 0 else args.warmup

    def begin(measure_from: float, measure_until: float) -> None:
        wrk.start(index.host, index.port, request, connections, measure_from, measure_until)

    phase = measure(begin, wrk.results, name, kind, wrk.probe(index.cpu), rnd, seconds, ramp=args.ramp)
    phase.p50_ms, phase.p99_ms = wrk.summary["p50_us"] / 1000, wrk.summary["p99_us"] / 1000
    phase.extra["wrk"] = wrk.details()
    return phase


def check_simple(index: Index, request: bytes, wheel: str) -> None:
    """``index`` answers ``request`` (its simple page of SIMPLE_PROJECT) with 200 and a page listing ``wheel``."""
    status, body = asyncio.run(one_request(index.host, index.port, request))
    if status != 200 or wheel.encode() not in body:
        raise BenchError(f"{index.name}: simple/{SIMPLE_PROJECT}/ answered {status} without {wheel}: {body[:300]!r}")


def check_errors(phases: list[Phase]) -> None:
    errors = sum(p.errors for p in phases)
    if errors:
        samples = sorted({s for p in phases for s in p.error_samples})[:10]
        raise BenchError(f"{errors} failed request(s) under load:\n  " + "\n  ".join(samples))


# ----------------------------------------------------------------------------------------------------------------
# the run


def measure_pypi(
    args: argparse.Namespace, tmp: Path, result: dict[str, Any], cpus: tuple[list[int] | None, list[int] | None]
) -> None:
    """Every measure but workers and npm, on one Coffer (one worker), pypiserver and devpi-server."""
    server_cpus, client_cpus = cpus
    wheels = tree_wheels()
    result["wheels"] = {w.name: w.stat().st_size for w in wheels}
    serve_args = ("--workers", "1") if result["workers_flag"] else ()
    running = Running()
    try:
        with CLOCK.stage("setup"):
            coffer, coffer_index, _ = setup_coffer(tmp / "coffer", wheels, server_cpus, serve_args)
            running.coffer.append(coffer)
            indexes = {"coffer": probed(coffer_index, coffer.process.pid, server_cpus)}
            result["servers"]["coffer"] = " ".join(coffer.command)
            if {"pip", "uv", "simple", "download"} & args.only:
                pps, index = setup_pypiserver(tmp, wheels, server_cpus)
                running.peers.append(pps)
                indexes["pypiserver"] = probed(index, pps.process.pid, server_cpus)
                index = setup_devpi(tmp, wheels, server_cpus, running)
                indexes["devpi"] = probed(index, running.peers[-1].process.pid, server_cpus)
                result["servers"].update({p.name: p.info for p in running.peers})
                urls = check_servers(indexes, wheels)
                say(f"  every server lists {SIMPLE_PROJECT} and serves the {DOWNLOAD_PROJECT} wheel byte for byte; "
                    "Coffer without a token: 401")  # fmt: skip
        installs: list[Install] = result["installs"]
        phases: list[Phase] = result["phases"]
        for tool in ("pip", "uv"):
            if tool in args.only:
                with CLOCK.stage(tool):
                    installs += run_installs(tool, indexes, wheels, tmp, args, client_cpus)
        if "simple" in args.only:
            simple_clients = Clients(1, client_cpus)
            running.clients.append(simple_clients)
            with CLOCK.stage("simple"):
                rounds_of(lambda name, rnd: load_simple(simple_clients, indexes[name], rnd, args), PYPI, args, phases,
                          lambda name: indexes[name].cpu)  # fmt: skip
        if "download" in args.only:
            dl = Clients(1, client_cpus, worker=download_load.worker_main)
            running.clients.append(dl)
            requests = {}
            for name, url in urls.items():
                requests[name] = download_load.download_request(url, indexes[name].headers(None))[2]

            def download(name: str, rnd: int) -> Phase:
                index, seconds = indexes[name], args.seconds if rnd >= 0 else args.warmup
                return measure_load(dl, name, "download", index.host, index.port, requests[name], index.cpu, rnd,
                                    seconds, ramp=args.ramp, concurrency=4)  # fmt: skip

            with CLOCK.stage("download"):
                rounds_of(download, PYPI, args, phases, lambda name: indexes[name].cpu)
        if "token" in args.only:
            token_clients = TokenClients(1, client_cpus)
            running.clients.append(token_clients)
            target = Target(HOST, coffer.port, DOMAIN, *coffer.credentials())
            check_signing(coffer, target)

            def token(kind: str, rnd: int) -> Phase:
                return load_token(token_clients, target, kind, "coffer", indexes["coffer"].cpu, rnd, args)

            with CLOCK.stage("token"):
                rounds_of(token, ("health", "token"), args, phases, lambda _: indexes["coffer"].cpu)
        check_errors(phases)
    finally:
        with CLOCK.stage("stopping the servers"):
            running.stop()


def measure_workers(args: argparse.Namespace, tmp: Path, result: dict[str, Any]) -> None:
    """Token and simple-page req/s of ``coffer serve --workers 1`` and ``--workers 2``, each on a fresh data
    directory holding the ``requests`` wheel, nothing pinned; the client is wrk when it is on PATH (and not
    ``--no-wrk``), else the Python clients."""
    wheels = [w for w in tree_wheels() if normalize(w.name.split("-")[0]) == SIMPLE_PROJECT]
    running = Running()
    try:
        servers, indexes, targets = {}, {}, {}
        for n in (1, 2):
            name = f"w{n}"
            (tmp / name / "home").mkdir(parents=True)
            server, index, _ = setup_coffer(tmp / name, wheels, None, ("--workers", str(n)))
            running.coffer.append(server)
            servers[name], indexes[name] = server, probed(index, server.process.pid, None)
            targets[name] = Target(HOST, server.port, DOMAIN, *server.credentials())
            check_signing(server, targets[name])
        result["servers"]["workers"] = {name: " ".join(s.command) for name, s in servers.items()}
        wrk = None if args.no_wrk else wrk_load.binary()
        result["workers_client"] = workers_client(wrk, args)
        say(f"  workers rows' client: {client_label(result['workers_client'])}")
        phases: list[Phase] = result["phases"]
        if wrk is not None:
            token, simple, health = wrk_loads(Wrk(wrk, tmp), indexes, targets, wheels[0].name, args, running)
        else:
            (token, simple), health = python_loads(indexes, targets, args, running), None
        rounds_of(token, ("w1", "w2"), args, phases, lambda name: indexes[name].cpu)
        rounds_of(simple, ("w1", "w2"), args, phases, lambda name: indexes[name].cpu)
        if health is not None:  # the control: what the machine lets two workers do with no work of Coffer's
            rounds_of(health, ("w1", "w2"), args, phases, lambda name: indexes[name].cpu)
        check_errors(phases)
    finally:
        running.stop()


PhaseOf = Callable[[str, int], Phase]  # (server name, round) -> the phase run


def wrk_loads(
    wrk: Wrk, indexes: dict[str, Index], targets: dict[str, Target], wheel: str, args: argparse.Namespace,
    running: Running,
) -> tuple[PhaseOf, PhaseOf, PhaseOf]:  # fmt: skip
    """The workers phases with wrk: each token phase sends one request signed right before it (valid 5 minutes; the
    server verifies every signature in full, it caches nothing keyed on one), each simple-page phase the Python
    client's request; the server's answer to it checked first. The third, the control, ``GET /health`` on the
    token phases' connections."""
    longest = args.ramp + max(args.seconds, args.warmup)
    if longest > SIGNATURE_SECONDS - 30:
        raise BenchError(f"a wrk token phase of {longest:g} s would outlive its signature ({SIGNATURE_SECONDS} s)")
    running.clients.append(wrk)

    def token(name: str, rnd: int) -> Phase:
        target = targets[name]
        request = check_signed(name, target, target.token_signer(), amz_date_now())
        return load_wrk(wrk, Request.parse(request), args.token_concurrency, indexes[name], "w-token", name, rnd,
                        args)  # fmt: skip

    def simple(name: str, rnd: int) -> Phase:
        index = indexes[name]
        request = index.request("simple", SIMPLE_PROJECT)
        check_simple(index, request, wheel)
        return load_wrk(wrk, Request.parse(request), SIMPLE_CONNECTIONS, index, "w-simple", name, rnd, args)

    def health(name: str, rnd: int) -> Phase:
        index = indexes[name]
        request = get_request(HOST, index.port, "/health", {})
        return load_wrk(wrk, Request.parse(request), args.token_concurrency, index, "w-health", name, rnd, args)

    return token, simple, health


def python_loads(
    indexes: dict[str, Index], targets: dict[str, Target], args: argparse.Namespace, running: Running
) -> tuple[PhaseOf, PhaseOf]:
    """The workers phases with the Python clients (loadgen's signing token client, pypi_index's simple-page one)."""
    token_clients, simple_clients = TokenClients(1, None), Clients(1, None)
    running.clients += [token_clients, simple_clients]

    def token(name: str, rnd: int) -> Phase:
        phase = load_token(token_clients, targets[name], "token", name, indexes[name].cpu, rnd, args)
        phase.kind = "w-token"
        return phase

    def simple(name: str, rnd: int) -> Phase:
        phase = load_simple(simple_clients, indexes[name], rnd, args, name)
        phase.kind = "w-simple"
        return phase

    return token, simple


def workers_client(wrk: str | None, args: argparse.Namespace) -> dict[str, Any]:
    if wrk is not None:
        return {"name": "wrk", "version": wrk_load.version(wrk), "threads": wrk_load.THREADS}
    return {"name": "python", "why": "--no-wrk" if args.no_wrk else "wrk is not on PATH"}


def client_label(client: dict[str, Any]) -> str:
    if client["name"] == "wrk":
        threads = client["threads"]
        return f"{client['version']}, {threads} thread{'s' if threads > 1 else ''}"
    return f"the Python asyncio clients ({client['why']})"


def measure_npm(args: argparse.Namespace, result: dict[str, Any]) -> None:
    argv = ["--rounds", str(args.npm_rounds), "--output", os.devnull] + (["--no-pin"] if args.no_pin else [])
    result["npm"] = npm_bench.run_bench(npm_bench.parse_args(argv))


# ----------------------------------------------------------------------------------------------------------------
# the table


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Row:
    measure: str
    cells: dict[str, str]  # column -> value
    ratio: float | None
    cpu_ratio: float | None  # the ratio with the servers' CPU
    aim: str
    met: bool | None  # None: not measured
    rounds: dict[str, str] = field(default_factory=dict)  # column (and "ratio") -> every round's value
    cpu: dict[str, str] = field(default_factory=dict)  # column -> server (and client) CPU
    note: str = ""
    control: bool = False  # a control measurement beside the aims, with none of its own


def not_run(measure: str, aim: str, why: str) -> Row:
    return Row(measure, {"coffer": why}, None, None, aim, None)


def every_round(values: dict[str, list[float]], spec: str, ratios: list[float]) -> dict[str, str]:
    """Row.rounds: each column's values and the ratios, formatted with ``spec``."""
    out = {column: " ".join(format(v, spec) for v in vs) for column, vs in values.items()}
    out["ratio"] = " ".join(f"{x:.2f}" for x in ratios)
    return out


def load_cpu(s: dict[str, Any], unit: str = "req") -> str:
    per_core = s["mb_per_core"] if unit == "MB" else s["per_core"]
    other = f", other load {s['other_cpu']:.0%}" if s.get("other_cpu") is not None else ""
    return f"{per_core:,.0f} {unit}/CPU-s ({s['server_cpu']:.0%} of a core{other}; client {s['client_cpu']:.0%})"


def other(installs: list[Install]) -> str:
    value = med_or_none([i.other_cpu for i in installs])
    return "" if value is None else f"; other load {value:.0%}"


def install_row(tool: str, label: str, installs: list[Install]) -> Row:
    aim = f"at most {INSTALL_AIM}x the faster peer"
    mine = {n: [i for i in installs if i.tool == tool and i.server == n and i.round >= 0] for n in PYPI}
    if not mine["coffer"]:
        return not_run(label, aim, "not run")
    secs = {n: med([i.seconds for i in mine[n]]) for n in PYPI}
    cpu = {n: med([i.server_cpu_seconds for i in mine[n]]) for n in PYPI}
    client = {n: med([i.client_cpu_seconds for i in mine[n]]) for n in PYPI}
    faster = min(PEERS, key=lambda n: secs[n])
    peers_by_round: dict[int, float] = {}
    for i in installs:
        if i.tool == tool and i.server in PEERS and i.round >= 0:
            peers_by_round[i.round] = min(i.seconds, peers_by_round.get(i.round, i.seconds))
    ratios = [c.seconds / peers_by_round[c.round] for c in mine["coffer"]]
    ratio = secs["coffer"] / secs[faster]
    return Row(
        label,
        {n: f"{secs[n]:.2f} s" for n in PYPI},
        ratio,
        cpu["coffer"] / cpu[faster] if cpu[faster] else None,
        aim + f" ({LABELS[faster]})",
        ratio <= INSTALL_AIM,
        every_round({n: [i.seconds for i in mine[n]] for n in PYPI}, ".2f", ratios),
        {n: f"{cpu[n]:.2f} CPU-s / install ({tool} {client[n]:.1f} CPU-s{other(mine[n])})" for n in PYPI},
    )


def load_stats(phases: list[Phase], kind: str, server: str) -> dict[str, Any]:
    mine = [p for p in phases if p.kind == kind and p.server == server and p.round >= 0]
    return {
        "rps": med([p.rps for p in mine]),
        "mbps": med([p.bytes_per_s / 1e6 for p in mine]),
        "per_core": med([p.rps_per_core for p in mine]),
        "mb_per_core": med([p.bytes_per_core / 1e6 for p in mine]),
        "server_cpu": med([p.server_cpu for p in mine]),
        "client_cpu": max((p.client_cpu for p in mine), default=float("nan")),
        "other_cpu": med_or_none([p.extra.get("other_cpu") for p in mine]),
        "rounds": mine,
    }


def med_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def simple_row(phases: list[Phase]) -> Row:
    label, aim = f"simple page `{SIMPLE_PROJECT}/`, 16 connections, req/s", f"at least {SIMPLE_AIM:g}x pypiserver"
    s = {n: load_stats(phases, "simple", n) for n in PYPI}
    if not s["coffer"]["rounds"]:
        return not_run(label, aim, "not run")
    ratio = s["coffer"]["rps"] / s["pypiserver"]["rps"]
    ratios = [c.rps / p.rps for c, p in zip(s["coffer"]["rounds"], s["pypiserver"]["rounds"], strict=True)]
    return Row(
        label,
        {n: f"{s[n]['rps']:,.0f}" for n in PYPI},
        ratio,
        s["coffer"]["per_core"] / s["pypiserver"]["per_core"],
        aim,
        ratio >= SIMPLE_AIM,
        every_round({n: [p.rps for p in s[n]["rounds"]] for n in PYPI}, ",.0f", ratios),
        {n: load_cpu(s[n]) for n in PYPI},
        f"Coffer / devpi-server {s['coffer']['rps'] / s['devpi']['rps']:.1f}x",
    )


def download_row(phases: list[Phase], size: int | None) -> Row:
    mb = f" ({size / 1e6:.1f} MB)" if size else ""
    label, aim = f"{DOWNLOAD_PROJECT} wheel{mb}, 4 connections, MB/s", "at least the faster peer"
    s = {n: load_stats(phases, "download", n) for n in PYPI}
    if not s["coffer"]["rounds"]:
        return not_run(label, aim, "not run")
    faster = max(PEERS, key=lambda n: s[n]["mbps"])
    ratio = s["coffer"]["mbps"] / s[faster]["mbps"]
    best: dict[int, float] = {}
    for p in phases:
        if p.kind == "download" and p.server in PEERS and p.round >= 0:
            best[p.round] = max(p.bytes_per_s, best.get(p.round, 0.0))
    ratios = [c.bytes_per_s / best[c.round] for c in s["coffer"]["rounds"]]
    return Row(
        label,
        {n: f"{s[n]['mbps']:,.0f}" for n in PYPI},
        ratio,
        s["coffer"]["mb_per_core"] / s[faster]["mb_per_core"],
        aim + f" ({LABELS[faster]})",
        ratio >= DOWNLOAD_AIM,
        every_round({n: [p.bytes_per_s / 1e6 for p in s[n]["rounds"]] for n in PYPI}, ",.0f", ratios),
        {n: load_cpu(s[n], "MB") for n in PYPI},
    )


def ratio_row(
    label: str, aim: str, met: Callable[[float], bool], shown: tuple[dict[str, Any], dict[str, Any]], sep: str,
    over: bool, cpu: str, note: str = "",
) -> Row:  # fmt: skip
    """A row of two Coffer loads: the first shown over the second (``over``) or the second over the first."""
    a, b = shown if over else shown[::-1]
    ratio = a["rps"] / b["rps"]
    ratios = [x.rps / y.rps for x, y in zip(a["rounds"], b["rounds"], strict=True)]
    rounds = every_round({"coffer": [p.rps for p in shown[0]["rounds"]]}, ",.0f", ratios)
    rounds["coffer"] += sep + " ".join(f"{p.rps:,.0f}" for p in shown[1]["rounds"])
    cell = f"{shown[0]['rps']:,.0f}{sep}{shown[1]['rps']:,.0f}"
    return Row(label, {"coffer": cell}, ratio, a["per_core"] / b["per_core"], aim, met(ratio), rounds,
               {"coffer": cpu}, note)  # fmt: skip


def token_row(phases: list[Phase]) -> Row:
    label, aim = "GetAuthorizationToken / `/health`, one worker, req/s", f"at least {TOKEN_AIM}"
    t, h = load_stats(phases, "token", "coffer"), load_stats(phases, "health", "coffer")
    if not t["rounds"]:
        return not_run(label, aim, "not run")
    cpu = f"token {load_cpu(t)}; health {load_cpu(h)}"
    return ratio_row(label, aim, lambda r: r >= TOKEN_AIM, (t, h), " / ", True, cpu)


def workers_row(phases: list[Phase], kind: str, available: bool, client: dict[str, Any] | None) -> Row:
    what = "GetAuthorizationToken" if kind == "token" else f"simple page `{SIMPLE_PROJECT}/`"
    label, aim = f"{what} req/s, 2 workers / 1 worker", f"at least {WORKERS_AIM}x"
    if not available:
        return not_run(label, aim, "not available (`coffer serve` has no `--workers`)")
    one, two = load_stats(phases, f"w-{kind}", "w1"), load_stats(phases, f"w-{kind}", "w2")
    if not one["rounds"]:
        return not_run(label, aim, "not run")
    cpu = f"1 worker {load_cpu(one)}; 2 workers {load_cpu(two)}"
    note = f"the two workers' CPU, busiest first, per round: {worker_shares(two['rounds'])}"
    client = client or {"name": "python", "why": "no client recorded"}
    if client["name"] == "wrk":
        note = f"client: {client_label(client)}; {note}"
    else:
        note = (f"client: {client_label(client)}, which may bound the figure (its CPU comes from the two CPUs the "
                f"workers share); `apt-get install wrk` gives the better measurement; {note}")  # fmt: skip
    return ratio_row(label, aim, lambda r: r >= WORKERS_AIM, (one, two), " -> ", False, cpu, note)


def workers_control_row(phases: list[Phase]) -> Row | None:
    """``/health`` with 2 workers over 1 (wrk only): the scaling this machine allows two workers and the client
    when Coffer does no work of its own, the ceiling of the two rows above."""
    one, two = load_stats(phases, "w-health", "w1"), load_stats(phases, "w-health", "w2")
    if not one["rounds"]:
        return None
    cpu = f"1 worker {load_cpu(one)}; 2 workers {load_cpu(two)}"
    note = f"the two workers' CPU, busiest first, per round: {worker_shares(two['rounds'])}"
    row = ratio_row("control: `/health` req/s, 2 workers / 1 worker", "none (the machine's ceiling for the two rows "
                    "above)", lambda r: True, (one, two), " -> ", False, cpu, note)  # fmt: skip
    return dataclasses.replace(row, met=None, control=True)


def worker_shares(phases: list[Phase]) -> str:
    return ", ".join(" + ".join(f"{x:.0%}" for x in p.extra.get("processes", [])[:2]) for p in phases)


def npm_rows(npm: dict[str, Any] | None, why: str) -> list[Row]:
    install_label = "`npm install` of the npm tree (warm), median s"
    install_aim = f"at most {npm_bench.INSTALL_AIM}x Verdaccio"
    packument_aim = f"at least {npm_bench.PACKUMENT_AIM:g}x Verdaccio"
    if npm is None:
        return [
            not_run(install_label, install_aim, why),
            not_run("packument, 16 connections, req/s", packument_aim, why),
        ]
    ins, pk, name = npm["install"], npm["packument"], npm["packument_name"]
    names = ("coffer", "verdaccio")
    install_cpu = {
        n: f"{ins[n]['server_cpu_seconds']:.2f} CPU-s / install (npm {ins[n]['npm_cpu_seconds']:.1f} CPU-s)"
        for n in names
    }
    packument_cpu = {
        n: f"{pk[n]['rps_per_core']:,.1f} req/CPU-s ({pk[n]['server_cpu']:.0%} of a core; client "
        f"{pk[n]['client_cpu_max']:.0%})"
        for n in names
    }
    packument_ratio = npm["packument_ratio"] or 0.0
    return [
        Row(
            install_label,
            {n: f"{ins[n]['seconds']:.2f} s" for n in names},
            npm["install_ratio"],
            npm["install_cpu_ratio"],
            install_aim,
            npm["install_ratio"] <= npm_bench.INSTALL_AIM,
            every_round({n: ins[n]["rounds_seconds"] for n in names}, ".2f", npm["install_rounds_ratio"]),
            install_cpu,
        ),
        Row(
            f"packument `{name}` (abbreviated), 16 connections, req/s",
            {n: f"{pk[n]['rps']:,.1f}" for n in names},
            packument_ratio,
            npm["packument_per_core_ratio"],
            packument_aim,
            packument_ratio >= npm_bench.PACKUMENT_AIM,
            every_round(
                {n: pk[n]["rounds_rps"] for n in names}, ",.1f", [x or 0.0 for x in npm["packument_rounds_ratio"]]
            ),
            packument_cpu,
        ),
    ]


def rows(result: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    installs = [Install(**i) if isinstance(i, dict) else i for i in result["installs"]]
    phases: list[Phase] = result["phases"]
    botocore = next((s for n, s in result.get("wheels", {}).items() if n.startswith(DOWNLOAD_PROJECT + "-")), None)
    why = "skipped (--skip-npm)" if args.skip_npm else "not run"
    return [
        install_row("pip", "`pip install` of the tree (fresh venv, `--no-cache-dir`), median s", installs),
        install_row("uv", "`uv pip install` of the tree (fresh venv, `--no-cache`), median s", installs),
        simple_row(phases),
        download_row(phases, botocore),
        token_row(phases),
        workers_row(phases, "token", result["workers_flag"], result.get("workers_client")),
        workers_row(phases, "simple", result["workers_flag"], result.get("workers_client")),
        *([control] if (control := workers_control_row(phases)) is not None else []),
        *npm_rows(result.get("npm"), why),
    ]


def markdown(table: list[Row]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    def fmt(x: float | None) -> str:
        return "-" if x is None or x != x else f"{x:.2f}"

    head = ["measure", *(LABELS[c] for c in COLUMNS)]
    out = [line([*head, "ratio", "ratio per server CPU-s", "aim", "met"])]
    out.append(line(["---", *("--:" for _ in COLUMNS), "--:", "--:", "---", "---"]))
    for r in table:
        met = "-" if r.control else "not measured" if r.met is None else ("**yes**" if r.met else "**no**")
        out.append(
            line([r.measure, *(r.cells.get(c, "") for c in COLUMNS), fmt(r.ratio), fmt(r.cpu_ratio), r.aim, met])
        )
    out += ["", "Every round (in the order run; the ratio per round against the same round's peer):", ""]
    out.append(line([*head, "ratio"]))
    out.append(line(["---", *("---" for _ in COLUMNS), "---"]))
    for r in table:
        if r.rounds:
            out.append(line([r.measure, *(r.rounds.get(c, "") for c in COLUMNS), r.rounds.get("ratio", "")]))
    out += [
        "",
        "Server CPU: per unit of work, the share of a core it had, the other load on its CPU; the client's CPU:",
        "",
    ]
    out.append(line(head))
    out.append(line(["---", *("---" for _ in COLUMNS)]))
    for r in table:
        if r.cpu:
            out.append(line([r.measure, *(r.cpu.get(c, "") for c in COLUMNS)]))
    notes = [f"- {r.measure}: {r.note}" for r in table if r.note]
    return "\n".join(out + (["", *notes] if notes else [])) + "\n"


LEGEND = """\
Ratios are Coffer's figure over the peer's named in the aim (the faster one for installs and downloads,
pypiserver for the simple page), token over `/health`, and 2 workers over 1. *Ratio per server CPU-s*: for
installs, Coffer's server CPU-seconds per install over that peer's (lower is cheaper); for the rates, the same
ratio of requests (or MB) per server CPU-second. MB = 10^6 bytes. Servers on CPU 0, clients on CPU 1, except
the workers rows (both unpinned, the client sharing the two CPUs). *Other load*: how busy the server's CPU was
with anything but that server (the machine is shared; during an install, whose server is mostly idle, other
processes fill it)."""


# ----------------------------------------------------------------------------------------------------------------
# recording


def record(text: str, when: str, env: dict[str, Any]) -> None:
    """Add this run's tables to bench/README.md under SECTION, newest first (the section is made, before the
    Summary, if it is not there)."""
    readme = README.read_text()
    dirty = " + uncommitted changes" if env["git_dirty"] else ""
    block = (
        f"### {when}, git `{env['git_head']}`{dirty}\n\n"
        f"`{env['command']}`: {env['run_seconds'] / 60:.1f} min; load average {env['loadavg_after_lock'][0]:.1f} at "
        f"the start, {env['loadavg_at_end'][0]:.1f} at the end.\n\n{text.strip()}\n\n"
    )
    if SECTION not in readme:
        at = readme.index("## Summary")
        intro = (
            f"{SECTION}\n\n`.venv/bin/python bench/compare.py --record` adds each run here, newest first.\n\n"
            + LEGEND
            + "\n\n"
        )
        readme = readme[:at] + intro + readme[at:]
    start = readme.index(SECTION)
    first = readme.find("\n### ", start)
    end = readme.find("\n## ", start + len(SECTION))
    at = first + 1 if first >= 0 and (end < 0 or first < end) else (end + 1 if end >= 0 else len(readme))
    README.write_text(readme[:at] + block + readme[at:])


# ----------------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, "compare-latest.json")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds of every measure (default 3)")
    parser.add_argument("--only", default=",".join(MEASURES), help="comma-separated measures (default: all)")
    parser.add_argument("--skip-npm", action="store_true", help="leave out npm (about 5 minutes)")
    parser.add_argument("--npm-rounds", type=int, default=3, help="npm_bench.py's rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per load phase (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up seconds per load")
    parser.add_argument("--ramp", type=float, default=0.5, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--token-concurrency", type=int, default=32, help="token and health connections (32)")
    parser.add_argument("--no-wrk", action="store_true", help="the workers rows with the Python clients, wrk or not")
    parser.add_argument("--record", action="store_true", help="add the tables to bench/README.md")
    args = parse_positive(parser, "rounds", "npm_rounds", "seconds", "token_concurrency")
    only = {m.strip() for m in args.only.split(",") if m.strip()}
    if only - set(MEASURES):
        parser.error(f"--only: unknown {sorted(only - set(MEASURES))}; choose from {','.join(MEASURES)}")
    args.only = only - ({"npm"} if args.skip_npm else set())
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args()
    # the servers run this checkout's code, whatever the venv's editable install points at
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR / "src"), os.environ.get("PYTHONPATH")]))
    os.environ.pop("COFFER_WORKERS", None)
    server_cpus, client_cpus = split_cpus(args.no_pin)
    env = machine("compare.py", ("uvicorn", "starlette", "sqlalchemy", "pip", "twine", "uv"))
    env.update(server_cpus=server_cpus, client_cpus=client_cpus, rounds=args.rounds, seconds=args.seconds,
               only=sorted(args.only), tree=list(TREE))  # fmt: skip
    env["coffer_module"] = run_checked([sys.executable, "-c", "import coffer; print(coffer.__file__)"], "import")
    env["coffer_module"] = env["coffer_module"].strip()
    workers_flag = "--workers" in coffer_serve_help()
    result: dict[str, Any] = {"environment": env, "workers_flag": workers_flag, "installs": [], "phases": []}
    result["servers"] = {}
    started = time.perf_counter()
    dirty = " + uncommitted changes" if env["git_dirty"] else ""
    chosen = ", ".join(m for m in MEASURES if m in args.only)
    say(f"[bold]Coffer beside pypiserver, devpi-server and Verdaccio[/bold]: {chosen}; "
        f"{args.rounds} rounds; servers on CPU {server_cpus or 'any'}, clients on CPU {client_cpus or 'any'}; "
        f"git {env['git_head']}{dirty}; coffer from {env['coffer_module']}; "
        f"--workers {'available' if workers_flag else 'not available'}; load {env['loadavg_at_start']}")  # fmt: skip
    with bench_lock(say), tempfile.TemporaryDirectory(prefix="coffer-compare-") as tmp_name:
        tmp = Path(tmp_name)
        env["loadavg_after_lock"] = os.getloadavg()
        CLOCK.stages["waiting for the bench lock"] = round(time.perf_counter() - started, 1)
        try:
            if args.only & {"pip", "uv", "simple", "download", "token"}:
                (tmp / "coffer" / "home").mkdir(parents=True)
                (tmp / "home").mkdir()
                measure_pypi(args, tmp, result, (server_cpus, client_cpus))
            if "workers" in args.only and workers_flag:
                with CLOCK.stage("workers"):
                    measure_workers(args, tmp, result)
            if "npm" in args.only:
                with CLOCK.stage("npm"):
                    measure_npm(args, result)
        except (BenchError, ServerError, subprocess.TimeoutExpired) as exc:
            say(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 2
    env["wall_seconds"] = round(time.perf_counter() - started, 1)
    env["run_seconds"] = round(env["wall_seconds"] - CLOCK.stages.get("waiting for the bench lock", 0.0), 1)
    env["stage_seconds"] = CLOCK.stages
    env["loadavg_at_end"] = os.getloadavg()
    for name in ("pypiserver", "devpi"):
        if name in result["servers"]:
            env["versions"].update(result["servers"][name]["versions"])
    if result.get("workers_client", {}).get("name") == "wrk":
        env["versions"]["wrk"] = result["workers_client"]["version"]
    if "npm" in result:
        env["versions"].update(node=result["npm"]["environment"]["node"], npm=result["npm"]["environment"]["npm"],
                               verdaccio=result["npm"]["environment"]["verdaccio"]["version"])  # fmt: skip
    table = rows(result, args)
    tables = markdown(table)
    text = tables + "\n" + LEGEND + "\n"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(f"Issue 12 comparison, {when}, git {env['git_head']}{dirty}, {env['run_seconds'] / 60:.1f} min, "
          f"load average {env['loadavg_after_lock'][0]:.1f} -> {env['loadavg_at_end'][0]:.1f}\n")  # fmt: skip
    print(text)
    out = {
        **result,
        "installs": [asdict(i) for i in result["installs"]],
        "phases": [asdict(p) for p in result["phases"]],
        "rows": [asdict(r) for r in table],
        "markdown": text,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_finite(out), indent=2, allow_nan=False) + "\n")
    say(f"results written to {args.output}")
    if args.record:
        record(tables, when, env)
        say(f"tables added to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
