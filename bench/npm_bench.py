"""Benchmark: Coffer's npm registry beside Verdaccio, both serving the same real tree warm.

    .venv/bin/python bench/npm_bench.py [--rounds 3] [--seconds 6] [--concurrency 16]

One command. A real dependency tree (``npm_tree.TREE``: express, lodash, react, react-dom, axios, webpack and
eslint, 218 package versions) is downloaded once from the npm registry into ``bench/.cache/npm-tree/`` and
served by a local static registry (``npm_tree.py serve``, the "public" registry of this bench). Verdaccio 6.8.0 is
installed once into ``bench/.cache/verdaccio/`` (``node-fetch`` overridden to 2.7.0 so that it runs on Node 20).
Both servers proxy the static registry and are primed once, unmeasured (``prime``: every packument with npm's
``Accept``, then every locked tarball, as a first ``npm install`` asks them, then every packument again; then one
``npm install`` as below, which also asks what the direct requests do not: npm 11 asks for some packuments in
full, 28 of this tree's 213):

- Coffer: ``coffer serve`` with ``public:npmjs`` pointed at the static registry, a domain, an ``npm-store``
  repository holding the connection and an ``app`` repository with it as upstream (the layout AWS recommends);
  npm reads ``app`` with a token in its ``.npmrc``, as ``aws codeartifact login --tool npm`` writes it.
  ``COFFER_UPSTREAM_TTL=3600``: the packuments fetched stay fresh for the whole run (default 300 s).
- Verdaccio: an uplink to the static registry (``maxage: 60m``, for the same reason; default 2m), its default
  package access (anonymous reads: ``access: $all``), its default ``http`` log level (a line per request, as
  Coffer's access log), audit middleware off.

Both servers are pinned to one CPU (the first), npm and the load clients to the others. Each round, the
servers' order alternating:

1. ``npm install --prefer-online --no-audit --no-fund`` of the tree's ``package.json`` (no lockfile, no
   node_modules, a fresh cache directory, no configuration but the ``.npmrc`` naming the registry): npm resolves
   the whole tree, so it asks for every packument (abbreviated, some in full) and every tarball. Timed wall clock; the
   server's CPU; npm's CPU; the requests that reached the static registry (0 when the server is warm). Each
   install is checked: every non-optional locked version is installed, nothing that is not locked.
2. Packument load: 16 keep-alive connections (bench/pypi_index.py's client) GET the largest packument of the
   tree with npm's abbreviated ``Accept`` (``application/vnd.npm.install-v1+json; q=1.0, application/json;
   q=0.8, */*``; no ``Accept-Encoding``, so neither server compresses), Coffer with ``Authorization: Bearer``.
   A response counts when it is answered inside the window (Verdaccio takes longer per request than 16 queued
   requests leave inside a window of seconds). Requests/s, latency, server CPU per request.

Writes ``bench/results/npm-latest.json`` and prints the ratios against the aims (install time at most 0.9x
Verdaccio's; packument requests/s at least 3x). See bench/README.md ("npm").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from common import (
    BENCH_DIR,
    CACHE_DIR,
    RESULTS_DIR,
    BenchError,
    bench_parser,
    console,
    machine,
    parse_positive,
    say,
    stop_process,
    tree_cpu,
)
from npm_tree import TREE, Tree, download_tree, file_name
from pypi_bench import Phase, measure_load
from pypi_index import Clients, get_request
from rich.table import Table
from servers import HOST, Server, ServerError, _free_port, _pinned, bench_lock, split_cpus
from upstream_bench import coffer_with_connection

VERDACCIO_DIR = CACHE_DIR / "verdaccio"
VERDACCIO_VERSION = "6.8.0"
VERDACCIO_BIN = VERDACCIO_DIR / "node_modules" / "verdaccio" / "bin" / "verdaccio"
NPM_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
ABBREVIATED = "application/vnd.npm.install-v1+json"
SERVERS = ("coffer", "verdaccio")
INSTALL_AIM = 0.9  # Coffer's install time at most 0.9x Verdaccio's
PACKUMENT_AIM = 3.0  # Coffer's packument requests/s at least 3x Verdaccio's
CANDIDATES = 4  # the largest full packuments of the tree among which the load's packument is chosen


# ----------------------------------------------------------------------------------------------------------------
# the servers


@dataclass
class Registry:
    """One server as npm and the load client see it."""

    name: str
    url: str  # the registry URL, ending in '/'
    token: str | None  # Coffer's; Verdaccio is read anonymously
    cpu: Callable[[], float]
    stop: Callable[[], None]
    info: dict[str, Any] = field(default_factory=dict)
    pid: int = 0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or HOST

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def host_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def npmrc(self) -> str:
        """``registry=`` and, for Coffer, the token for that URL (what ``aws codeartifact login`` writes)."""
        text = f"registry={self.url}\n"
        if self.token:
            parts = urlsplit(self.url)
            text += f"//{parts.netloc}{parts.path}:_authToken={self.token}\n"
        return text

    def headers(self) -> dict[str, str]:
        return {"Accept": NPM_ACCEPT, **({"Authorization": f"Bearer {self.token}"} if self.token else {})}

    def packument_path(self, name: str) -> str:
        return urlsplit(self.url).path + file_name(name)

    def packument_request(self, name: str) -> bytes:
        return get_request(self.host, self.port, self.packument_path(name), self.headers())


def _wait_for(url: str, process: subprocess.Popen[Any], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise BenchError(f"{what} did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.2)


class Upstream:
    """The static registry of the tree (``npm_tree.py serve``), run on ``cpus``."""

    def __init__(self, tmp: Path, tree: Tree, cpus: list[int] | None) -> None:
        port = _free_port()
        self.url = f"http://{HOST}:{port}/"
        log_path = tmp / "upstream.log"
        self._log = log_path.open("wb")
        cmd = [sys.executable, str(BENCH_DIR / "npm_tree.py"), "serve", "--root", str(tree.root)]
        cmd += ["--host", HOST, "--port", str(port), "--cpus", ",".join(map(str, cpus or []))]
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        _wait_for(self.url + "-/bench/requests", self.process, "the static registry", log_path)

    def requests(self) -> int:
        return int(httpx.get(self.url + "-/bench/requests", timeout=10).json()["requests"])

    def stop(self) -> None:
        stop_process(self.process, self._log)


def start_coffer(tmp: Path, upstream: Upstream, cpus: list[int] | None) -> Registry:
    server: Server
    server, endpoint, token = coffer_with_connection(
        tmp / "coffer-data", "public:npmjs", upstream.url, "npm", cpus, COFFER_UPSTREAM_TTL="3600"
    )
    info = {"command": " ".join(server.command), "settings": {"COFFER_UPSTREAM_TTL": "3600"}}
    return Registry("coffer", endpoint, token, server.cpu_seconds, server.stop, info, server.process.pid)


def ensure_verdaccio() -> str:
    """Verdaccio installed once into bench/.cache/verdaccio (the machine's npm configuration reaches the
    registry); its version."""
    manifest = {
        "name": "coffer-bench-verdaccio",
        "private": True,
        "dependencies": {"verdaccio": VERDACCIO_VERSION},
        "overrides": {"node-fetch": "2.7.0"},  # verdaccio 6.8's node-fetch 3 does not load on Node 20
    }
    installed = VERDACCIO_DIR / "node_modules" / "verdaccio" / "package.json"
    wanted = json.dumps(manifest, indent=2) + "\n"
    package_json = VERDACCIO_DIR / "package.json"
    if not installed.exists() or not package_json.exists() or package_json.read_text() != wanted:
        VERDACCIO_DIR.mkdir(parents=True, exist_ok=True)
        package_json.write_text(wanted)
        t0 = time.perf_counter()
        r = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=VERDACCIO_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if r.returncode != 0:
            raise BenchError(f"npm install verdaccio failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        say(f"  installed verdaccio {VERDACCIO_VERSION} into {VERDACCIO_DIR} in {time.perf_counter() - t0:.0f}s")
    return str(json.loads(installed.read_text())["version"])


VERDACCIO_CONFIG = """\
storage: {storage}
auth:
  htpasswd:
    file: {htpasswd}
uplinks:
  local:
    url: {upstream}
    maxage: 60m
packages:
  '@*/*':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
    proxy: local
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
    proxy: local
server:
  keepAliveTimeout: 60
middlewares:
  audit:
    enabled: false
log:
  type: stdout
  format: pretty
  level: http
"""


def start_verdaccio(tmp: Path, upstream: Upstream, cpus: list[int] | None, version: str) -> Registry:
    home = tmp / "verdaccio"
    home.mkdir()
    config = home / "config.yaml"
    config.write_text(
        VERDACCIO_CONFIG.format(storage=home / "storage", htpasswd=home / "htpasswd", upstream=upstream.url)
    )
    port = _free_port()
    cmd = [shutil.which("node") or "node", str(VERDACCIO_BIN), "--config", str(config), "--listen", f"{HOST}:{port}"]
    log_path = home / "verdaccio.log"
    log = log_path.open("wb")
    process = subprocess.Popen(_pinned(cmd, cpus), stdout=log, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://{HOST}:{port}/"
    _wait_for(url + "-/ping", process, "verdaccio", log_path)
    return Registry(
        "verdaccio",
        url,
        None,
        lambda: tree_cpu(process.pid),
        lambda: stop_process(process, log),
        {"version": version, "config": VERDACCIO_CONFIG.splitlines()},
        process.pid,
    )


# ----------------------------------------------------------------------------------------------------------------
# npm install


@dataclass
class Install:
    server: str
    round: int
    seconds: float
    server_cpu_seconds: float
    npm_cpu_seconds: float
    upstream_requests: int
    packages: int
    loadavg: float


def npm_env(home: Path) -> dict[str, str]:
    """npm with a home, configuration and cache of its own (as tests/functional/npm_clients.py runs it)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "npm_config_userconfig": str(home / ".npmrc"),
        "npm_config_cache": str(home / "npm-cache"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_loglevel": "warn",
        "NO_COLOR": "1",
    }


def _installed(project: Path) -> set[tuple[str, str]]:
    lock = json.loads((project / "node_modules" / ".package-lock.json").read_text())
    found = set()
    for path, entry in lock.get("packages", {}).items():
        if path and not entry.get("link"):
            found.add((entry.get("name") or path.rpartition("node_modules/")[2], entry["version"]))
    return found


def npm_install(
    registry: Registry, tree: Tree, tmp: Path, rnd: int, upstream: Upstream, cpus: list[int] | None
) -> Install:
    label = "prime" if rnd < 0 else f"r{rnd}"
    project = tmp / "installs" / f"{registry.name}-{label}"
    home = project.parent / f"{registry.name}-{label}-home"
    project.mkdir(parents=True)
    home.mkdir()
    (home / ".npmrc").write_text(registry.npmrc())
    manifest = {"name": "coffer-bench-app", "version": "1.0.0", "private": True, "dependencies": tree.dependencies}
    (project / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    cmd = _pinned([shutil.which("npm") or "npm", "install", "--prefer-online", "--no-audit", "--no-fund"], cpus)
    up0, cpu0 = upstream.requests(), registry.cpu()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=project, env=npm_env(home), capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    cpu = registry.cpu() - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    npm_cpu = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
    upstream_requests = upstream.requests() - up0
    if r.returncode != 0:
        raise BenchError(f"npm install from {registry.name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    installed = _installed(project)
    locked = {(p.name, p.version) for p in tree.locked}
    required = {(p.name, p.version) for p in tree.locked if not p.optional}
    if not installed <= locked or not required <= installed:
        raise BenchError(
            f"npm install from {registry.name}: not the locked tree (not locked: {sorted(installed - locked)[:10]}; "
            f"missing: {sorted(required - installed)[:10]})"
        )
    shutil.rmtree(project, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return Install(registry.name, rnd, seconds, cpu, npm_cpu, upstream_requests, len(installed), os.getloadavg()[0])


# ----------------------------------------------------------------------------------------------------------------
# priming and checks before the measurements


PRIME_THREADS = 8


def prime(registry: Registry, tree: Tree, upstream: Upstream) -> dict[str, Any]:
    """What a first ``npm install`` of the tree asks, asked directly (faster than npm): every packument with
    npm's Accept, then every locked tarball at the URL the packument gives, checked against the lockfile's
    integrity, then every packument again (fetching a tarball retains its version in Coffer, which changes the
    package's view: the second pass is what a server that has served the tree before holds rendered).
    Afterwards the server has them all; the measured installs show that nothing more is needed."""
    import concurrent.futures

    from npm_tree import _sri_matches, referenced_only

    extra = referenced_only(json.loads((tree.root / "package-lock.json").read_text()))
    wanted: dict[str, list[Any]] = {}
    for p in tree.locked:
        wanted.setdefault(p.name, []).append(p)
    up0, t0 = upstream.requests(), time.perf_counter()
    with httpx.Client(headers=registry.headers(), timeout=120) as client:

        def packument(name: str) -> list[tuple[str, Any]]:
            r = client.get(registry.host_url + registry.packument_path(name))
            if r.status_code != 200:
                raise BenchError(f"{registry.name}: packument {name} answered {r.status_code}: {r.text[:300]}")
            versions = r.json()["versions"]
            return [(versions[p.version]["dist"]["tarball"], p) for p in wanted.get(name, [])]

        def tarball(item: tuple[str, Any]) -> None:
            url, locked = item
            r = client.get(url)
            if r.status_code != 200 or not _sri_matches(locked.integrity, r.content):
                raise BenchError(f"{registry.name}: tarball {url} answered {r.status_code} or did not match")

        with concurrent.futures.ThreadPoolExecutor(PRIME_THREADS) as pool:
            tarballs = [t for found in pool.map(packument, sorted(wanted) + extra) for t in found]
            list(pool.map(tarball, tarballs))
            list(pool.map(packument, sorted(wanted) + extra))
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "packuments": len(wanted) + len(extra),
        "tarballs": len(tarballs),
        "upstream_requests": upstream.requests() - up0,
    }


def check_packuments(registries: dict[str, Registry], tree: Tree, wanted: str | None) -> tuple[str, dict[str, Any]]:
    """Both serve the abbreviated packuments of the largest few packages with the same versions; Coffer refuses
    them without the token, Verdaccio serves them to anyone. The load's packument: ``wanted``, else the one
    whose abbreviated document is largest (as Coffer renders it)."""
    names = [wanted] if wanted else sorted(tree.names, key=lambda n: -tree.packument(n).stat().st_size)[:CANDIDATES]
    found: dict[str, Any] = {}
    for name in names:
        sizes = {}
        versions = {}
        for registry in registries.values():
            r = httpx.get(registry.host_url + registry.packument_path(name), headers=registry.headers(), timeout=60)
            if r.status_code != 200 or not r.headers.get("content-type", "").startswith(ABBREVIATED):
                raise BenchError(f"{registry.name}: {name} answered {r.status_code} {r.headers.get('content-type')}")
            sizes[registry.name] = len(r.content)
            versions[registry.name] = sorted(r.json()["versions"])
        if versions["coffer"] != versions["verdaccio"]:
            only = set(versions["coffer"]) ^ set(versions["verdaccio"])
            raise BenchError(f"{name}: the two list different versions ({len(only)} differ: {sorted(only)[:5]})")
        found[name] = {"versions": len(versions["coffer"]), "abbreviated_bytes": sizes}
    coffer = registries["coffer"]
    name = names[0]
    r = httpx.get(coffer.host_url + coffer.packument_path(name), headers={"Accept": NPM_ACCEPT}, timeout=60)
    if r.status_code != 401:
        raise BenchError(f"coffer: {name} without a token answered {r.status_code}, expected 401")
    chosen = max(found, key=lambda n: found[n]["abbreviated_bytes"]["coffer"])
    return chosen, found


# ----------------------------------------------------------------------------------------------------------------
# profiling (--profile)


class Profiler:
    """``py-spy record --gil`` of Coffer's process (see bench/profile_server.py) while a block runs; the collapsed
    stacks go to ``bench/results/profile-npm-<what>.collapsed.txt`` and their summary is printed at the end."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.written: list[Path] = []
        venv_bin = str(Path(sys.executable).parent)
        self.py_spy = shutil.which("py-spy", path=venv_bin) or shutil.which("py-spy")
        if enabled and self.py_spy is None:
            raise SystemExit("--profile needs py-spy (pip install py-spy, into the venv or onto PATH)")

    @contextlib.contextmanager
    def record(self, pid: int, what: str) -> Any:
        if not self.enabled or self.py_spy is None:
            yield
            return
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / f"profile-npm-{what}.collapsed.txt"
        cmd = [self.py_spy, "record", "--pid", str(pid), "--gil", "--rate", "100", "--format", "raw"]
        process = subprocess.Popen([*cmd, "--output", str(out), "--nonblocking"], stdout=subprocess.DEVNULL)
        time.sleep(0.5)  # py-spy attached
        try:
            yield
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
            self.written.append(out)

    def report(self) -> None:
        from profile_server import summarise as summarise_profile

        for path in self.written:
            say(f"[bold]profile of Coffer: {path.name}[/bold]")
            summarise_profile(path, 25)


# ----------------------------------------------------------------------------------------------------------------
# reporting


def summarise(installs: list[Install], phases: list[Phase]) -> dict[str, Any]:
    out: dict[str, Any] = {"install": {}, "packument": {}}
    measured = [i for i in installs if i.round >= 0]
    for name in SERVERS:
        mine = [i for i in measured if i.server == name]
        out["install"][name] = {
            "seconds": statistics.median(i.seconds for i in mine),
            "rounds_seconds": [round(i.seconds, 2) for i in mine],
            "server_cpu_seconds": statistics.median(i.server_cpu_seconds for i in mine),
            "npm_cpu_seconds": statistics.median(i.npm_cpu_seconds for i in mine),
            "upstream_requests": sum(i.upstream_requests for i in mine),
        }
        load = [p for p in phases if p.server == name and p.round >= 0]
        out["packument"][name] = {
            "rps": statistics.median(p.rps for p in load),
            "rounds_rps": [round(p.rps, 1) for p in load],
            "p50_ms": statistics.median(p.p50_ms for p in load),
            "p99_ms": statistics.median(p.p99_ms for p in load),
            "server_cpu": statistics.median(p.server_cpu for p in load),
            "rps_per_core": statistics.median(p.rps_per_core for p in load),
            "client_cpu_max": max(p.client_cpu for p in load),
            "requests": sum(p.requests for p in load),
        }
    by_round: dict[int, dict[str, float]] = {}
    for i in measured:
        by_round.setdefault(i.round, {})[i.server] = i.seconds
    rps_by_round: dict[int, dict[str, float]] = {}
    for p in phases:
        if p.round >= 0:
            rps_by_round.setdefault(p.round, {})[p.server] = p.rps
    ins, pk = out["install"], out["packument"]
    out["install_ratio"] = ins["coffer"]["seconds"] / ins["verdaccio"]["seconds"]
    out["install_rounds_ratio"] = [round(r["coffer"] / r["verdaccio"], 3) for r in by_round.values()]
    out["install_cpu_ratio"] = ins["coffer"]["server_cpu_seconds"] / ins["verdaccio"]["server_cpu_seconds"]
    out["packument_ratio"] = pk["coffer"]["rps"] / pk["verdaccio"]["rps"] if pk["verdaccio"]["rps"] else None
    out["packument_rounds_ratio"] = [
        round(r["coffer"] / r["verdaccio"], 1) if r["verdaccio"] else None for r in rps_by_round.values()
    ]
    out["packument_per_core_ratio"] = pk["coffer"]["rps_per_core"] / pk["verdaccio"]["rps_per_core"]
    return out


def print_tables(summary: dict[str, Any], packument: str, info: dict[str, Any]) -> None:
    t = Table(title="npm install of the tree, fresh cache, no lockfile (warm servers)", title_justify="left")
    for col in ("server", "median s", "rounds s", "server CPU s", "npm CPU s", "upstream requests"):
        t.add_column(col, justify="left" if col in ("server", "rounds s") else "right")
    for name in SERVERS:
        s = summary["install"][name]
        rounds = " ".join(f"{x:.2f}" for x in s["rounds_seconds"])
        cpu, npm_cpu = f"{s['server_cpu_seconds']:.2f}", f"{s['npm_cpu_seconds']:.2f}"
        t.add_row(name, f"{s['seconds']:.2f}", rounds, cpu, npm_cpu, str(s["upstream_requests"]))
    console.print(t)
    size = info["abbreviated_bytes"]
    t = Table(
        title=f"GET {packument} (abbreviated, {info['versions']} versions; {size['coffer'] / 1e6:.2f} MB from Coffer,"
        f" {size['verdaccio'] / 1e6:.2f} MB from Verdaccio)",
        title_justify="left",
    )
    for col in ("server", "req/s", "rounds req/s", "p50 ms", "p99 ms", "server CPU", "req/CPU-s", "client CPU"):
        t.add_column(col, justify="left" if col in ("server", "rounds req/s") else "right")
    for name in SERVERS:
        s = summary["packument"][name]
        t.add_row(name, f"{s['rps']:,.1f}", " ".join(f"{x:,.1f}" for x in s["rounds_rps"]), f"{s['p50_ms']:,.0f}",
                  f"{s['p99_ms']:,.0f}", f"{s['server_cpu']:.0%}", f"{s['rps_per_core']:,.1f}",
                  f"{s['client_cpu_max']:.0%}")  # fmt: skip
    console.print(t)
    t = Table(title="Coffer / Verdaccio", title_justify="left")
    for col in ("measure", "ratio", "rounds", "aim", "met"):
        t.add_column(col, justify="left" if col in ("measure", "rounds") else "right")
    install, rps = summary["install_ratio"], summary["packument_ratio"]
    t.add_row("npm install time", f"{install:.2f}", ", ".join(f"{x:.2f}" for x in summary["install_rounds_ratio"]),
              f"<= {INSTALL_AIM}", "yes" if install <= INSTALL_AIM else "no")  # fmt: skip
    t.add_row("server CPU per install", f"{summary['install_cpu_ratio']:.2f}", "", "", "")
    t.add_row("packument req/s", f"{rps:.1f}" if rps else "-",
              ", ".join(str(x) for x in summary["packument_rounds_ratio"]), f">= {PACKUMENT_AIM}",
              "yes" if rps and rps >= PACKUMENT_AIM else "no")  # fmt: skip
    t.add_row("packument req per server CPU-s", f"{summary['packument_per_core_ratio']:.1f}", "", "", "")
    console.print(t)


def environment(
    args: argparse.Namespace, server_cpus: list[int] | None, client_cpus: list[int] | None
) -> dict[str, Any]:
    def version(cmd: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        return "?"

    return {
        **machine("npm_bench.py"),
        "node": version(["node", "--version"]),
        "npm": version(["npm", "--version"]),
        "server_cpus": server_cpus,
        "client_cpus": client_cpus,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "ramp": args.ramp,
        "concurrency": args.concurrency,
        "tree": list(TREE),
    }


def parser() -> argparse.ArgumentParser:
    parser = bench_parser(__doc__, "npm-latest.json")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per packument phase (default 6)")
    parser.add_argument("--ramp", type=float, default=1.0, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="packument load connections (default 16)")
    parser.add_argument("--packument", default=None, help="the load's package (default: the largest abbreviated)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample Coffer with py-spy during its round-1 install and packument load (slows them: not for figures)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_positive(parser(), "rounds", "seconds", "concurrency", argv=argv)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark (the caller holds ``bench_lock``): its result, as written to the JSON file. Raises
    BenchError, ServerError or TimeoutExpired when a check fails."""
    server_cpus, client_cpus = split_cpus(args.no_pin)
    env = environment(args, server_cpus, client_cpus)
    started = time.perf_counter()
    installs: list[Install] = []
    phases: list[Phase] = []
    registries: dict[str, Registry] = {}
    upstream: Upstream | None = None
    clients: Clients | None = None
    profiler = Profiler(args.profile)
    with tempfile.TemporaryDirectory(prefix="coffer-npm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        say(
            f"[bold]npm benchmark[/bold]: Coffer beside Verdaccio, {args.rounds} rounds; servers on CPU "
            f"{server_cpus or 'any'}, npm and clients on CPU {client_cpus or 'any'}; load {env['loadavg_at_start']}"
        )
        try:
            tree = download_tree(say=say)
            version = ensure_verdaccio()
            upstream = Upstream(tmp, tree, client_cpus)
            registries["coffer"] = start_coffer(tmp, upstream, server_cpus)
            registries["verdaccio"] = start_verdaccio(tmp, upstream, server_cpus, version)
            env["verdaccio"] = registries["verdaccio"].info
            env["coffer"] = registries["coffer"].info
            env["priming"] = {}
            for name in SERVERS:  # every packument and tarball fetched once from the static registry
                primed = env["priming"][name] = prime(registries[name], tree, upstream)
                first = npm_install(registries[name], tree, tmp, -1, upstream, client_cpus)
                primed["npm_install"] = asdict(first)
                say(
                    f"  primed {name:9} in {primed['seconds']:5.1f}s: {primed['packuments']} packuments, "
                    f"{primed['tarballs']} tarballs, {primed['upstream_requests']} requests to the static registry; "
                    f"then npm install in {first.seconds:.1f}s (server CPU {first.server_cpu_seconds:.2f}s, "
                    f"{first.upstream_requests} requests to the static registry)"
                )
            packument, packuments = check_packuments(registries, tree, args.packument)
            env["packuments"] = packuments
            info = packuments[packument]
            say(f"  load packument: {packument} ({info['versions']} versions; abbreviated bytes "
                f"{info['abbreviated_bytes']}); Coffer without a token: 401; Verdaccio reads anonymous")  # fmt: skip
            clients = Clients(1, client_cpus)
            requests = {name: r.packument_request(packument) for name, r in registries.items()}

            def load(name: str, rnd: int) -> Phase:
                r = registries[name]
                up0 = upstream.requests() if upstream else 0
                phase = measure_load(clients, name, "packument", r.host, r.port, requests[name], r.cpu, rnd,
                                     args.seconds if rnd >= 0 else 1.0, ramp=args.ramp, concurrency=args.concurrency,
                                     answered=True)  # fmt: skip
                if upstream and upstream.requests() != up0:
                    raise BenchError(f"{name} asked the static registry during the packument load")
                return phase

            for name in SERVERS:
                load(name, -1)  # warm-up
            for rnd in range(args.rounds):
                order = SERVERS if rnd % 2 == 0 else SERVERS[::-1]
                for name in order:
                    profiling = rnd == 0 and name == "coffer"
                    with profiler.record(registries[name].pid, "install") if profiling else contextlib.nullcontext():
                        done = npm_install(registries[name], tree, tmp, rnd, upstream, client_cpus)
                    installs.append(done)
                    say(f"  round {rnd + 1} install {name:9} {done.seconds:6.2f}s  server CPU "
                        f"{done.server_cpu_seconds:5.2f}s  npm CPU {done.npm_cpu_seconds:5.2f}s  "
                        f"upstream requests {done.upstream_requests}  load {done.loadavg:.1f}")  # fmt: skip
                for name in order:
                    profiling = rnd == 0 and name == "coffer"
                    with profiler.record(registries[name].pid, "packument") if profiling else contextlib.nullcontext():
                        p = load(name, rnd)
                    phases.append(p)
                    say(f"  round {rnd + 1} packument {name:9} {p.rps:8,.1f} req/s  p50 {p.p50_ms:7,.0f} ms  "
                        f"p99 {p.p99_ms:7,.0f} ms  server CPU {p.server_cpu:4.0%}  client CPU {p.client_cpu:.0%}  "
                        f"load {p.loadavg:.1f}")  # fmt: skip
            errors = sum(p.errors for p in phases)
            if errors:
                samples = sorted({s for p in phases for s in p.error_samples})[:10]
                raise BenchError(f"{errors} failed request(s) under load:\n  " + "\n  ".join(samples))
        finally:
            if clients is not None:
                clients.close()
            for registry in registries.values():
                registry.stop()
            if upstream is not None:
                upstream.stop()
    summary = summarise(installs, phases)
    profiler.report()
    print_tables(summary, packument, info)
    env["wall_seconds"] = round(time.perf_counter() - started, 1)
    env["loadavg_at_end"] = os.getloadavg()
    return {
        "environment": env,
        "packument_name": packument,
        "packument_info": info,
        **summary,
        "installs": [asdict(i) for i in installs],
        "phases": [asdict(p) for p in phases],
    }


def main() -> int:
    args = parse_args()
    with bench_lock(say):
        try:
            result = run_bench(args)
        except (BenchError, ServerError, subprocess.TimeoutExpired) as exc:
            say(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    env = result["environment"]
    say(
        f"results written to {args.output} ({env['wall_seconds']:.0f}s; "
        f"load average at the end {env['loadavg_at_end']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
