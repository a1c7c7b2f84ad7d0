"""Benchmark: Coffer's PyPI endpoint. An authenticated ``simple/<project>/`` page beside GET /health in one run, and
``pip install`` of the same 30+ wheels from Coffer and from pypiserver in one run.

    .venv/bin/python bench/pypi_bench.py [--seconds N] [--rounds N] [--pip-rounds N] [--wheels 30]

One command. It builds small pure-Python wheels (no dependencies; every fifth project has three versions), starts
Coffer (``coffer serve``, fresh data dir, pinned to one CPU like bench/run.py), creates a domain and a repository,
uploads every wheel with one ``twine upload``, gets a token; creates a virtual environment with pypiserver (and
waitress, the server it picks by itself when installed) and serves the same wheels from a directory, read without
authentication, also pinned to the server CPU.

Phase A, HTTP load from the other CPU (keep-alive HTTP/1.1, bench/loadgen.py's reader): interleaved rounds of
Coffer GET /health, Coffer GET ``simple/<project>/`` with ``Authorization: Basic base64(aws:<token>)`` and pip's
Accept header, and pypiserver's GET ``/simple/<project>/`` for context; medians across rounds of req/s, p50, p99;
the ratio simple/health.

Phase B: ``pip install --no-cache-dir --index-url <index> <every project>`` into a fresh, empty virtual
environment (all created before the timing; pip runs from the bench's environment with ``--python``), Coffer and
pypiserver alternating, with no pip configuration (``PIP_CONFIG_FILE=/dev/null``, a temporary HOME, no PIP_*
variables); median seconds each and the ratio Coffer/pypiserver. Every install is checked: all projects, the
newest version of each.

Any non-200 or pip failure fails the run. Writes bench/results/pypi-latest.json. See bench/README-pypi.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import BenchError, bench_parser, clean_env, console, machine, parse_positive, run_checked, say
from peers import Peer, start_pypiserver
from pypi_index import (
    PIP_ACCEPT,
    Clients,
    Project,
    build_wheels,
    escape,
    get_request,
    make_projects,
    normalize,
    one_get,
)
from rich.table import Table
from run import percentile
from servers import ACCOUNT_ID, HOST, Server, ServerError, bench_lock, split_cpus, start

BIN = Path(sys.executable).parent
DOMAIN = "bench"
REPOSITORY = "pypi"
REGION = "us-east-1"
LOADS = (("coffer", "health"), ("coffer", "simple"), ("pypiserver", "simple"))
CLIENT_CPU_WARNING = 0.85

# ----------------------------------------------------------------------------------------------------------------
# the servers


@dataclass
class Index:
    """One server's view for the benchmark: where its simple index is and how to measure its CPU."""

    name: str
    host: str
    port: int
    simple_path: str  # ends in /simple/
    pip_index_url: str  # with credentials for Coffer
    auth_header: str | None
    cpu: Callable[[], float]

    def project_path(self, project: str) -> str:
        return f"{self.simple_path}{normalize(project)}/"

    def headers(self, accept: str | None = PIP_ACCEPT) -> dict[str, str]:
        """pip's Accept header (unless None) and, for Coffer, the token."""
        headers = {"Accept": accept} if accept else {}
        if self.auth_header:
            headers["Authorization"] = self.auth_header
        return headers

    def request(self, kind: str, project: str) -> bytes:
        if kind == "health":
            return get_request(self.host, self.port, "/health")
        return get_request(self.host, self.port, self.project_path(project), self.headers())


def setup_coffer(
    tmp: Path, wheels: list[Path], server_cpus: list[int] | None, serve_args: tuple[str, ...] = ()
) -> tuple[Server, Index, str]:
    """``coffer serve SERVE_ARGS`` on ``tmp/coffer-data``, a domain, a repository holding ``wheels`` (one twine
    upload) and a token: (server, its index, the token)."""
    import boto3

    server = start("uvicorn", tmp / "coffer-data", server_cpus, args=serve_args)
    access, secret = server.credentials()
    ca = boto3.client(
        "codeartifact",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
    )
    ca.create_domain(domain=DOMAIN)
    ca.create_repository(domain=DOMAIN, repository=REPOSITORY)
    endpoint = ca.get_repository_endpoint(domain=DOMAIN, repository=REPOSITORY, format="pypi")["repositoryEndpoint"]
    token = ca.get_authorization_token(domain=DOMAIN, durationSeconds=3600)["authorizationToken"]
    t0 = time.perf_counter()
    env = clean_env(tmp / "home", TWINE_USERNAME="aws", TWINE_PASSWORD=token, TWINE_REPOSITORY_URL=endpoint)
    cmd = [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar", *map(str, wheels)]
    run_checked(cmd, "twine upload to Coffer", env)
    say(
        f"  coffer: {server.url}; domain {DOMAIN!r}, repository {REPOSITORY!r}; twine uploaded {len(wheels)} wheels "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    path = urllib.parse.urlsplit(endpoint).path + "simple/"
    quoted = urllib.parse.quote(token, safe="")
    index = Index(
        name="coffer",
        host=HOST,
        port=server.port,
        simple_path=path,
        pip_index_url=f"http://aws:{quoted}@{HOST}:{server.port}{path}",
        auth_header="Basic " + base64.b64encode(f"aws:{token}".encode()).decode(),
        cpu=server.cpu_seconds,
    )
    return server, index, token


def setup_pypiserver(tmp: Path, wheels: list[Path], server_cpus: list[int] | None) -> tuple[Peer, Index]:
    peer = start_pypiserver(tmp, wheels, server_cpus)
    versions = peer.info["versions"]
    say(
        f"  pypiserver: {peer.url} (pypiserver {versions['pypiserver']} + waitress {versions['waitress']}) serving "
        f"{len(wheels)} wheels from a directory, unauthenticated reads"
    )
    index = Index(
        name="pypiserver",
        host=HOST,
        port=peer.port,
        simple_path="/simple/",
        pip_index_url=f"{peer.url}/simple/",
        auth_header=None,
        cpu=peer.cpu,
    )
    return peer, index


def check_indexes(coffer: Index, pps: Index, project: Project) -> None:
    """Both servers list every file of the load project; Coffer refuses the page without the token."""
    for index in (coffer, pps):
        status, body = asyncio.run(one_get(index.host, index.port, index.request("simple", project.name)))
        if status != 200:
            raise BenchError(f"{index.name}: simple/{project.name}/ answered {status}: {body[:300]!r}")
        text = body.decode()
        missing = [v for v in project.versions if f"{escape(project.name)}-{v}-py3-none-any.whl" not in text]
        if missing:
            raise BenchError(f"{index.name}: simple/{project.name}/ lacks versions {missing}: {text[:500]}")
    unauthenticated = get_request(coffer.host, coffer.port, coffer.project_path(project.name))
    status, _ = asyncio.run(one_get(coffer.host, coffer.port, unauthenticated))
    if status != 401:
        raise BenchError(f"coffer: simple/{project.name}/ without a token answered {status}, expected 401")


# ----------------------------------------------------------------------------------------------------------------
# phase A: HTTP load


@dataclass
class Phase:
    server: str
    kind: str
    round: int  # -1: warm-up
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # server CPU seconds per second of the window (1.0 = one core busy)
    rps_per_core: float  # requests per server CPU-second
    client_cpu: float  # the busiest client process, share of one core
    loadavg: float
    error_samples: list[str]
    bytes_per_s: float = 0.0  # body bytes received per second (download loads)
    bytes_per_core: float = 0.0  # body bytes per server CPU-second
    extra: dict[str, Any] = field(default_factory=dict)  # what a benchmark adds (compare.py: CPU details)


def load_phase(clients: Clients, index: Index, kind: str, project: str, rnd: int, args: argparse.Namespace) -> Phase:
    seconds = args.seconds if rnd >= 0 else args.warmup
    request = index.request(kind, project)
    return measure_load(clients, index.name, kind, index.host, index.port, request, index.cpu, rnd, seconds,
                        ramp=args.ramp, concurrency=args.concurrency)  # fmt: skip


def measure_load(
    clients: Clients,
    server: str,
    kind: str,
    host: str,
    port: int,
    request: bytes,
    cpu: Callable[[], float],
    rnd: int,
    seconds: float,
    *,
    ramp: float,
    concurrency: int,
    answered: bool = False,
) -> Phase:
    """One load phase: ``concurrency`` connections sending ``request``. ``answered``: see
    ``pypi_index.run_phase``."""

    def begin(measure_from: float, measure_until: float) -> None:
        clients.start(host, port, request, concurrency, measure_from, measure_until, answered)

    return measure(begin, clients.results, server, kind, cpu, rnd, seconds, ramp=ramp)


def measure(
    begin: Callable[[float, float], None],
    results: Callable[[], list[dict[str, Any]]],
    server: str,
    kind: str,
    cpu: Callable[[], float],
    rnd: int,
    seconds: float,
    *,
    ramp: float,
) -> Phase:
    """One load phase of any client processes: ``begin(measure_from, measure_until)`` (``time.perf_counter``
    instants, ``ramp`` + ``seconds`` from now) starts them, ``results()`` waits for their messages (loadgen's
    ``PhaseResult.to_message``, with ``bytes`` for downloads); the server's CPU (``cpu()``) over the window."""
    measure_from = time.perf_counter() + ramp
    measure_until = measure_from + seconds
    begin(measure_from, measure_until)
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu0 = cpu()
    time.sleep(max(0.0, measure_until - time.perf_counter()))
    cpu_used = cpu() - cpu0
    latencies: array[float] = array("d")
    ok = errors = received = 0
    samples: list[str] = []
    client_cpu = 0.0
    for m in results():
        part: array[float] = array("d")
        part.frombytes(m["latencies"])
        latencies.extend(part)
        ok += m["ok"]
        errors += m["errors"]
        received += m.get("bytes", 0)
        samples.extend(m["error_samples"])
        client_cpu = max(client_cpu, m["cpu_seconds"] / m["window"] if m["window"] else 0.0)
    ordered = sorted(latencies)
    return Phase(
        server=server,
        kind=kind,
        round=rnd,
        requests=ok,
        errors=errors,
        rps=ok / seconds,
        p50_ms=percentile(ordered, 50) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        server_cpu=cpu_used / seconds,
        rps_per_core=ok / cpu_used if cpu_used > 0 else float("nan"),
        client_cpu=client_cpu,
        loadavg=os.getloadavg()[0],
        error_samples=samples[:5],
        bytes_per_s=received / seconds,
        bytes_per_core=received / cpu_used if cpu_used > 0 else float("nan"),
    )


def summarise_load(phases: list[Phase]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for server, kind in LOADS:
        mine = [p for p in phases if p.server == server and p.kind == kind and p.round >= 0]
        out[f"{server} {kind}"] = {
            "rps": statistics.median(p.rps for p in mine),
            "p50_ms": statistics.median(p.p50_ms for p in mine),
            "p99_ms": statistics.median(p.p99_ms for p in mine),
            "server_cpu": statistics.median(p.server_cpu for p in mine),
            "rps_per_core": statistics.median(p.rps_per_core for p in mine),
            "requests": sum(p.requests for p in mine),
            "errors": sum(p.errors for p in mine),
            "client_cpu_max": max(p.client_cpu for p in mine),
            "rounds_rps": [round(p.rps, 1) for p in mine],
        }
    health, simple = out["coffer health"], out["coffer simple"]
    by_round = {
        rnd: {p.kind: p.rps for p in phases if p.server == "coffer" and p.round == rnd}
        for rnd in sorted({p.round for p in phases if p.round >= 0})
    }
    out["ratio_simple_health"] = simple["rps"] / health["rps"]
    out["ratio_simple_health_per_core"] = simple["rps_per_core"] / health["rps_per_core"]
    out["rounds_ratio_simple_health"] = [round(r["simple"] / r["health"], 4) for r in by_round.values()]
    out["ratio_coffer_pypiserver_simple"] = simple["rps"] / out["pypiserver simple"]["rps"]
    return out


# ----------------------------------------------------------------------------------------------------------------
# phase B: pip install


@dataclass
class Install:
    server: str
    round: int  # -1: warm-up
    seconds: float
    server_cpu_seconds: float
    loadavg: float


def installed(venv: Path) -> dict[str, str]:
    site = next((venv / "lib").glob("python3*/site-packages"))
    found = {}
    for info in site.glob("*.dist-info"):
        meta = (info / "METADATA").read_text()
        fields = dict(line.split(": ", 1) for line in meta.split("\n\n", 1)[0].splitlines() if ": " in line)
        found[normalize(fields["Name"])] = fields["Version"]
    return found


def pip_install(index: Index, venv: Path, home: Path, projects: list[Project], rnd: int) -> Install:
    cmd = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-cache-dir"]
    cmd += ["--disable-pip-version-check", "--index-url", index.pip_index_url, *(p.name for p in projects)]
    env = clean_env(home)
    cpu0 = index.cpu()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    cpu = index.cpu() - cpu0
    if r.returncode != 0:
        raise BenchError(
            f"pip install from {index.name} failed (exit {r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
        )
    expected = {normalize(p.name): p.latest for p in projects}
    got = installed(venv)
    if got != expected:
        raise BenchError(f"pip install from {index.name}: installed {got}, expected {expected}")
    return Install(index.name, rnd, seconds, cpu, os.getloadavg()[0])


def summarise_pip(installs: list[Install]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("coffer", "pypiserver"):
        mine = [i for i in installs if i.server == name and i.round >= 0]
        out[name] = {
            "seconds": statistics.median(i.seconds for i in mine),
            "min_seconds": min(i.seconds for i in mine),
            "server_cpu_seconds": statistics.median(i.server_cpu_seconds for i in mine),
            "rounds_seconds": [round(i.seconds, 3) for i in mine],
        }
    out["ratio_coffer_pypiserver"] = out["coffer"]["seconds"] / out["pypiserver"]["seconds"]
    by_round: dict[int, dict[str, float]] = {}
    for i in installs:
        if i.round >= 0:
            by_round.setdefault(i.round, {})[i.server] = i.seconds
    out["rounds_ratio"] = [round(r["coffer"] / r["pypiserver"], 4) for r in by_round.values()]
    return out


# ----------------------------------------------------------------------------------------------------------------
# reporting


def environment(
    args: argparse.Namespace, server_cpus: list[int] | None, client_cpus: list[int] | None
) -> dict[str, Any]:
    return {
        **machine("pypi_bench.py", ("uvicorn", "starlette", "sqlalchemy", "pip", "twine")),
        "server_cpus": server_cpus,
        "client_cpus": client_cpus,
        "clients": args.clients,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "pip_rounds": args.pip_rounds,
        "wheels": args.wheels,
    }


def print_tables(phases: list[Phase], load: dict[str, Any], installs: list[Install], pip: dict[str, Any]) -> None:
    t = Table(title="Phase A: HTTP load (medians across rounds)", title_justify="left")
    for col in ("server", "request", "req/s", "p50 ms", "p99 ms", "errors", "server CPU", "req/CPU-s", "rounds req/s"):
        t.add_column(col, justify="left" if col in ("server", "request", "rounds req/s") else "right")
    labels = {"health": "GET /health", "simple": "GET simple/<project>/"}
    for server, kind in LOADS:
        s = load[f"{server} {kind}"]
        label = labels[kind] + (" (token)" if server == "coffer" and kind == "simple" else "")
        t.add_row(
            server,
            label,
            f"{s['rps']:,.0f}",
            f"{s['p50_ms']:.2f}",
            f"{s['p99_ms']:.2f}",
            str(s["errors"]),
            f"{s['server_cpu']:.0%}",
            f"{s['rps_per_core']:,.0f}",
            " ".join(f"{x:,.0f}" for x in s["rounds_rps"]),
        )
    console.print(t)
    t = Table(title="Phase B: pip install of every project, fresh venv, no cache", title_justify="left")
    for col in ("server", "median s", "min s", "server CPU s", "rounds s"):
        t.add_column(col, justify="left" if col in ("server", "rounds s") else "right")
    for name in ("coffer", "pypiserver"):
        s = pip[name]
        t.add_row(
            name,
            f"{s['seconds']:.2f}",
            f"{s['min_seconds']:.2f}",
            f"{s['server_cpu_seconds']:.2f}",
            " ".join(f"{x:.2f}" for x in s["rounds_seconds"]),
        )
    console.print(t)


def conclusion(load: dict[str, Any], pip: dict[str, Any]) -> list[str]:
    return [
        f"Coffer simple/<project>/ (token) / GET /health throughput = {load['ratio_simple_health']:.1%} "
        f"(rounds {', '.join(f'{x:.1%}' for x in load['rounds_ratio_simple_health'])}); "
        f"per server CPU-second {load['ratio_simple_health_per_core']:.1%}",
        f"simple/<project>/ req/s: Coffer (with token) / pypiserver (no auth) = "
        f"{load['ratio_coffer_pypiserver_simple']:.2f}x",
        f"pip install time: Coffer {pip['coffer']['seconds']:.2f}s / pypiserver {pip['pypiserver']['seconds']:.2f}s "
        f"= {pip['ratio_coffer_pypiserver']:.3f} (rounds {', '.join(f'{x:.3f}' for x in pip['rounds_ratio'])})",
    ]


# ----------------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, "pypi-latest.json")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per load phase (default 3)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of load phases (default 4)")
    parser.add_argument("--pip-rounds", type=int, default=3, help="measured pip installs per server (default 3)")
    parser.add_argument("--wheels", type=int, default=30, help="projects to build and install (default 30)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up seconds per load")
    parser.add_argument("--ramp", type=float, default=0.3, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--clients", type=int, default=None, help="client processes (default: CPUs not serving)")
    return parse_positive(parser, "seconds", "rounds", "pip_rounds", "wheels", "concurrency")


def main() -> int:
    args = parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = split_cpus(args.no_pin)
    if args.clients is None:
        args.clients = max(1, len(client_cpus or cpus) - (0 if client_cpus else 1))
    args.clients = min(args.clients, args.concurrency)
    env = environment(args, server_cpus, client_cpus)
    started = time.perf_counter()
    say(
        f"[bold]Coffer PyPI benchmark[/bold]: {args.wheels} projects; load {args.rounds} rounds x {args.seconds:g}s, "
        f"{args.concurrency} connections from {args.clients} client process(es); {args.pip_rounds} pip installs per "
        f"server; servers on CPU {server_cpus or 'any'}, clients on CPU {client_cpus or 'any'}; "
        f"load {env['loadavg_at_start']}"
    )
    modified = "+uncommitted changes" if env["src_modified_since_head"] else ""
    say(f"  code: git {env['git_head']}{modified}, src digest {env['src_digest']}")

    projects = make_projects(args.wheels)
    target = projects[0]  # the load's project: three versions
    phases: list[Phase] = []
    installs: list[Install] = []
    coffer: Server | None = None
    pps: Peer | None = None
    clients: Clients | None = None
    with bench_lock(), tempfile.TemporaryDirectory(prefix="coffer-pypi-bench-") as tmpname:
        tmp = Path(tmpname)
        try:
            wheels = build_wheels(tmp / "wheels", projects)
            sizes = [w.stat().st_size for w in wheels]
            say(f"  built {len(wheels)} wheels of {len(projects)} projects, {min(sizes)}-{max(sizes)} bytes each")
            (tmp / "home").mkdir()
            coffer, coffer_index, _ = setup_coffer(tmp, wheels, server_cpus)
            pps, pps_index = setup_pypiserver(tmp, wheels, server_cpus)
            env["pypiserver"] = pps.info
            check_indexes(coffer_index, pps_index, target)
            say(f"  both list every file of {target.name}; Coffer without a token -> 401")
            indexes = {"coffer": coffer_index, "pypiserver": pps_index}

            # phase A
            clients = Clients(args.clients, client_cpus)
            for server, kind in LOADS:
                phases.append(load_phase(clients, indexes[server], kind, target.name, -1, args))
            for rnd in range(args.rounds):
                for server, kind in LOADS if rnd % 2 == 0 else LOADS[::-1]:
                    p = load_phase(clients, indexes[server], kind, target.name, rnd, args)
                    phases.append(p)
                    say(
                        f"  round {rnd + 1} {server:10} {kind:6} {p.rps:8,.0f} req/s  p50 {p.p50_ms:6.2f} ms  "
                        f"p99 {p.p99_ms:6.2f} ms  errors {p.errors}  server CPU {p.server_cpu:4.0%}  "
                        f"client CPU {p.client_cpu:.0%}  load {p.loadavg:.1f}"
                    )
            clients.close()
            clients = None
            errors = sum(p.errors for p in phases)
            if errors:
                samples = sorted({s for p in phases for s in p.error_samples})[:10]
                raise BenchError(f"{errors} failed request(s) under load:\n  " + "\n  ".join(samples))

            # phase B: every venv first, then the timed installs (one unmeasured warm-up each)
            order = [(-1, "coffer"), (-1, "pypiserver")]
            for rnd in range(args.pip_rounds):
                order += [(rnd, n) for n in (("coffer", "pypiserver") if rnd % 2 == 0 else ("pypiserver", "coffer"))]
            venvs = []
            for i, _ in enumerate(order):
                venv = tmp / "pip-venvs" / f"v{i}"
                run_checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], "creating a venv")
                venvs.append(venv)
            for (rnd, name), venv in zip(order, venvs, strict=True):
                inst = pip_install(indexes[name], venv, tmp / "home", projects, rnd)
                installs.append(inst)
                label = "warm-up" if rnd < 0 else f"round {rnd + 1}"
                say(
                    f"  pip {label:8} {name:10} {inst.seconds:6.2f} s  server CPU {inst.server_cpu_seconds:.2f} s  "
                    f"load {inst.loadavg:.1f}"
                )
        except (BenchError, ServerError, subprocess.TimeoutExpired) as exc:
            say(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 2
        finally:
            if clients is not None:
                clients.close()
            if coffer is not None:
                coffer.stop()
            if pps is not None:
                pps.stop()

    load = summarise_load(phases)
    pip = summarise_pip(installs)
    print_tables(phases, load, installs, pip)
    lines = conclusion(load, pip)
    for line in lines:
        say(line)
    if any(p.client_cpu >= CLIENT_CPU_WARNING for p in phases):
        say(f"[yellow]warning: a client process was >= {CLIENT_CPU_WARNING:.0%} busy; it may limit req/s[/yellow]")
    env["wall_seconds"] = round(time.perf_counter() - started, 1)
    result = {
        "environment": env,
        "projects": [asdict(p) for p in projects],
        "load_project": target.name,
        "load": load,
        "pip": pip,
        "conclusion": lines,
        "phases": [asdict(p) for p in phases],
        "installs": [asdict(i) for i in installs],
        "account_id": ACCOUNT_ID,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    say(f"results written to {args.output} ({env['wall_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
