"""Benchmark: GetAuthorizationToken beside GET /health on the same Coffer server, under uvicorn and granian.

    .venv/bin/python bench/run.py [--seconds N] [--concurrency C] [--server uvicorn|granian|both]

One command: starts each server (one worker, pinned to one CPU), creates a domain, checks that the bench's
SigV4 signer agrees with botocore and that the server accepts its signatures (and refuses a tampered one),
then runs interleaved load phases (health, token, health, token, ...; with both servers the servers alternate
too) so that machine noise hits everything alike. Reports requests/s, p50 and p99 latency (medians across
rounds) and the token/health throughput ratio; writes bench/results/latest.json. Any non-200 fails the run.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from common import BenchError, bench_parser, machine, parse_positive
from loadgen import Target, one_request, worker_main
from rich.console import Console
from rich.table import Table
from servers import ACCOUNT_ID, HOST, SERVERS, Server, ServerError, bench_lock, cpu_busy_seconds, start
from sigv4_fast import FastSigner, amz_date_now, check_against_botocore

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DOMAIN = "acme"
KINDS = ("health", "token")
TARGET_RATIO = 0.40
CLIENT_CPU_WARNING = 0.85
SERVER_CPU_NOTE = 0.80

console = Console() if sys.stdout.isatty() else Console(width=140)  # full tables in logs and pipes


# ----------------------------------------------------------------------------------------------------------------
# setup and checks


def create_domain(server: Server, key: tuple[str, str]) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"{server.url}/v1/domain?domain={DOMAIN}",
        data=b"{}",
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(*key), "codeartifact", "us-east-1").add_auth(request)
    prepared = request.prepare()
    response = httpx.request(
        "POST", prepared.url, headers=dict(prepared.headers.items()), content=prepared.body, timeout=30
    )
    if response.status_code != 200:
        raise BenchError(f"{server.name}: CreateDomain answered {response.status_code}: {response.text}")


def check_signing(server: Server, target: Target) -> None:
    """The bench signer must equal botocore's, the server must accept it and refuse a tampered signature."""
    signer = target.token_signer()
    problems = check_against_botocore(signer)
    if problems:
        raise BenchError("the bench's SigV4 signer disagrees with botocore's SigV4Auth:\n" + "\n".join(problems))
    check_signed(server.name, target, signer, amz_date_now())


def check_signed(name: str, target: Target, signer: FastSigner, amz_date: str) -> bytes:
    """The server answers GetAuthorizationToken signed at ``amz_date`` with a token, and refuses the same request
    with its signature tampered with; the request checked."""
    request = signer.request_bytes(amz_date)
    status, body = asyncio.run(one_request(target.host, target.port, request))
    if status != 200:
        raise BenchError(f"{name}: GetAuthorizationToken signed by the bench got {status}: {body[:500]!r}")
    payload = json.loads(body)
    if not isinstance(payload.get("authorizationToken"), str) or "expiration" not in payload:
        raise BenchError(f"{name}: unexpected GetAuthorizationToken response {body[:500]!r}")
    status, body = asyncio.run(one_request(target.host, target.port, signer.request_bytes(amz_date, tamper=True)))
    if status != 403 or b"InvalidSignatureException" not in body:
        raise BenchError(f"{name}: a tampered signature got {status} {body[:300]!r}, expected 403")
    return request


# ----------------------------------------------------------------------------------------------------------------
# client processes


class Clients:
    def __init__(self, count: int, cpus: list[int] | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, cpus), daemon=True)
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)

    def start(self, target: Target, kind: str, connections: int, measure_from: float, measure_until: float) -> None:
        n = len(self._pipes)
        shares = [connections // n + (1 if i < connections % n else 0) for i in range(n)]
        for pipe, share in zip(self._pipes, shares, strict=True):
            command = {"op": "run", "target": target, "kind": kind, "connections": share}
            pipe.send({**command, "from": measure_from, "until": measure_until})

    def results(self) -> list[dict[str, Any]]:
        return [pipe.recv() for pipe in self._pipes]

    def run(self, target: Target, kind: str, connections: int, ramp: float, seconds: float) -> list[dict[str, Any]]:
        measure_from = time.perf_counter() + ramp
        self.start(target, kind, connections, measure_from, measure_from + seconds)
        return self.results()

    def close(self, abort: bool = False) -> None:
        """Stop the client processes: politely after a phase, at once when the run is being aborted."""
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send({"op": "stop"})
        for proc in self._procs:
            if abort:
                proc.terminate()
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


# ----------------------------------------------------------------------------------------------------------------
# measuring


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


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
    max_ms: float
    server_cpu: float  # server CPU seconds per second of the window (1.0 = one core busy)
    rps_per_core: float  # requests per server CPU second: the throughput of a fully busy core
    client_cpu: float  # busiest client process, fraction of one core
    other_cpu: float  # busy time of the server's CPU(s) not spent by the server: other load, steal (per second)
    loadavg: float  # 1-minute load average of the machine after the phase
    error_samples: list[str]


def _sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.perf_counter()))


def run_phase(
    clients: Clients,
    server: Server,
    target: Target,
    kind: str,
    rnd: int,
    args: argparse.Namespace,
    *,
    ramp: float,
    server_cpus: list[int] | None,
) -> Phase:
    seconds = args.seconds if rnd >= 0 else args.warmup
    measure_from = time.perf_counter() + ramp
    measure_until = measure_from + seconds
    clients.start(target, kind, args.concurrency, measure_from, measure_until)
    _sleep_until(measure_from)
    cpu_start, busy_start = server.cpu_seconds(), cpu_busy_seconds(server_cpus or [])
    _sleep_until(measure_until)
    server_cpu_seconds = server.cpu_seconds() - cpu_start
    busy = cpu_busy_seconds(server_cpus or []) - busy_start
    messages = clients.results()
    latencies: array[float] = array("d")
    ok = errors = 0
    samples: list[str] = []
    client_cpu = 0.0
    for m in messages:
        part: array[float] = array("d")
        part.frombytes(m["latencies"])
        latencies.extend(part)
        ok += m["ok"]
        errors += m["errors"]
        samples.extend(m["error_samples"])
        client_cpu = max(client_cpu, m["cpu_seconds"] / m["window"] if m["window"] else 0.0)
    ordered = sorted(latencies)
    return Phase(
        server=server.name,
        kind=kind,
        round=rnd,
        requests=ok,
        errors=errors,
        rps=ok / seconds,
        p50_ms=percentile(ordered, 50) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        max_ms=(ordered[-1] * 1000) if ordered else float("nan"),
        server_cpu=server_cpu_seconds / seconds,
        rps_per_core=ok / server_cpu_seconds if server_cpu_seconds > 0 else float("nan"),
        client_cpu=client_cpu,
        other_cpu=max(0.0, busy - server_cpu_seconds) / seconds if server_cpus else float("nan"),
        loadavg=os.getloadavg()[0],
        error_samples=samples[:5],
    )


def summarise(phases: list[Phase], name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    measured = {kind: [p for p in phases if p.server == name and p.kind == kind and p.round >= 0] for kind in KINDS}
    for kind, mine in measured.items():
        out[kind] = {
            "rps": statistics.median(p.rps for p in mine),
            "p50_ms": statistics.median(p.p50_ms for p in mine),
            "p99_ms": statistics.median(p.p99_ms for p in mine),
            "requests": sum(p.requests for p in mine),
            "errors": sum(p.errors for p in mine),
            "server_cpu": statistics.median(p.server_cpu for p in mine),
            "rps_per_core": statistics.median(p.rps_per_core for p in mine),
            "client_cpu_max": max(p.client_cpu for p in mine),
            "other_cpu": statistics.median(p.other_cpu for p in mine),
            "rounds_rps": [round(p.rps, 1) for p in mine],
        }
    health, token = measured["health"], measured["token"]
    out["ratio"] = out["token"]["rps"] / out["health"]["rps"] if out["health"]["rps"] else 0.0
    out["ratio_per_core"] = out["token"]["rps_per_core"] / out["health"]["rps_per_core"]
    out["rounds_ratio"] = [round(t.rps / h.rps, 4) if h.rps else 0.0 for h, t in zip(health, token, strict=True)]
    return out


# ----------------------------------------------------------------------------------------------------------------
# reporting


def environment(
    args: argparse.Namespace, server_cpus: list[int] | None, client_cpus: list[int] | None
) -> dict[str, Any]:
    packages = ("uvicorn", "granian", "uvloop", "httptools", "starlette", "sqlalchemy", "botocore")
    return {
        **machine("run.py", packages),
        "server_cpus": server_cpus,
        "client_cpus": client_cpus,
        "clients": args.clients,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "warmup": args.warmup,
    }


def print_tables(phases: list[Phase], summaries: dict[str, dict[str, Any]]) -> None:
    rounds = Table(title="Phases (in the order run)", title_justify="left")
    columns = ("round", "server", "endpoint", "req/s", "p50 ms", "p99 ms", "errors", "server CPU", "req/CPU-s")
    for col in (*columns, "other load on server CPU", "client CPU", "load"):
        rounds.add_column(col, justify="left" if col in ("server", "endpoint") else "right")
    for p in phases:
        if p.round < 0:
            continue
        rounds.add_row(
            str(p.round + 1),
            p.server,
            p.kind,
            f"{p.rps:,.0f}",
            f"{p.p50_ms:.2f}",
            f"{p.p99_ms:.2f}",
            str(p.errors),
            f"{p.server_cpu:.0%}",
            f"{p.rps_per_core:,.0f}",
            f"{p.other_cpu:.0%}",
            f"{p.client_cpu:.0%}",
            f"{p.loadavg:.1f}",
        )
    console.print(rounds)

    table = Table(title="Summary (medians across rounds)", title_justify="left")
    for col in ("server", "endpoint", "req/s", "p50 ms", "p99 ms", "errors", "token/health", "server CPU"):
        table.add_column(col, justify="left" if col in ("server", "endpoint") else "right")
    table.add_column("req/CPU-s", justify="right")
    table.add_column("token/health per CPU-s", justify="right")
    for name, s in summaries.items():
        for kind in KINDS:
            k = s[kind]
            token = kind == "token"
            table.add_row(
                name,
                "GetAuthorizationToken" if token else "GET /health",
                f"{k['rps']:,.0f}",
                f"{k['p50_ms']:.2f}",
                f"{k['p99_ms']:.2f}",
                str(k["errors"]),
                f"{s['ratio']:.1%}" if token else "",
                f"{k['server_cpu']:.0%}",
                f"{k['rps_per_core']:,.0f}",
                f"{s['ratio_per_core']:.1%}" if token else "",
            )
    console.print(table)


def conclusion(summaries: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, s in summaries.items():
        verdict = "meets" if s["ratio"] >= TARGET_RATIO else "BELOW"
        lines.append(
            f"{name}: token/health throughput = {s['ratio']:.1%} ({verdict} the {TARGET_RATIO:.0%} aim); "
            f"per server CPU-second {s['ratio_per_core']:.1%}"
        )
    if len(summaries) == 2:
        (a, sa), (b, sb) = summaries.items()
        for kind, label in (("token", "GetAuthorizationToken"), ("health", "GET /health")):
            ra, rb = sa[kind]["rps"], sb[kind]["rps"]
            win, lose, rw, rl = (a, b, ra, rb) if ra >= rb else (b, a, rb, ra)
            ca, cb = sa[kind]["rps_per_core"], sb[kind]["rps_per_core"]
            lines.append(
                f"{label}: {win} {rw:,.0f} req/s vs {lose} {rl:,.0f} req/s ({rw / rl - 1:+.1%} for {win}); "
                f"per CPU-second {a} {ca:,.0f}, {b} {cb:,.0f}"
            )
    return lines


# ----------------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, "latest.json")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per phase (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    parser.add_argument("--server", choices=[*SERVERS, "both"], default="both", help="ASGI server(s) (default both)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of (health, token) per server (default 4)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up seconds per endpoint")
    parser.add_argument("--ramp", type=float, default=0.3, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--clients", type=int, default=None, help="client processes (default: CPUs not serving)")
    args = parse_positive(parser, "seconds", "concurrency")
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    return args


def _finite(value: Any) -> Any:
    """``value`` with NaN (a phase that completed no request) as null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers and clients


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args()
    names = list(SERVERS) if args.server == "both" else [args.server]
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus: list[int] | None = None
    client_cpus: list[int] | None = None
    if not args.no_pin and len(cpus) >= 2:
        server_cpus, client_cpus = cpus[:1], cpus[1:]
    if args.clients is None:
        args.clients = max(1, len(client_cpus or cpus) - (0 if client_cpus else 1))
    if args.clients > args.concurrency:
        args.clients = args.concurrency
    env = environment(args, server_cpus, client_cpus)
    console.print(
        f"[bold]Coffer benchmark[/bold]: servers {', '.join(names)}; {args.concurrency} connections from "
        f"{args.clients} client process(es); {args.rounds} rounds x {args.seconds:g}s per endpoint; "
        f"server on CPU {server_cpus or 'any'}, clients on CPU {client_cpus or 'any'}; load {env['loadavg_at_start']}"
    )
    modified = " + uncommitted changes in src/" if env["src_modified_since_head"] else ""
    console.print(f"  code: git {env['git_head']}{modified}, src digest {env['src_digest']}")

    phases: list[Phase] = []
    servers: dict[str, Server] = {}
    targets: dict[str, Target] = {}
    clients: Clients | None = None
    with bench_lock(console.print), tempfile.TemporaryDirectory(prefix="coffer-bench-") as tmp:
        aborted = True
        try:
            for name in names:
                server = start(name, Path(tmp) / name, server_cpus)
                servers[name] = server
                key = server.credentials()
                create_domain(server, key)
                target = Target(HOST, server.port, DOMAIN, *key)
                check_signing(server, target)
                targets[name] = target
                console.print(
                    f"  {name}: {server.url} up; domain {DOMAIN!r} created; bench signer == botocore SigV4Auth; "
                    "signed GetAuthorizationToken -> 200, tampered signature -> 403"
                )
            clients = Clients(args.clients, client_cpus)
            for name in names:  # warm-up: imports, caches, first connections; not reported
                for kind in KINDS:
                    phases.append(
                        run_phase(
                            clients,
                            servers[name],
                            targets[name],
                            kind,
                            -1,
                            args,
                            ramp=args.ramp,
                            server_cpus=server_cpus,
                        )
                    )
            for rnd in range(args.rounds):
                order = names if rnd % 2 == 0 else names[::-1]
                for name in order:
                    for kind in KINDS:
                        phase = run_phase(
                            clients,
                            servers[name],
                            targets[name],
                            kind,
                            rnd,
                            args,
                            ramp=args.ramp,
                            server_cpus=server_cpus,
                        )
                        phases.append(phase)
                        console.print(
                            f"  round {rnd + 1} {name:8} {kind:6} {phase.rps:8,.0f} req/s  p50 {phase.p50_ms:6.2f} ms"
                            f"  p99 {phase.p99_ms:6.2f} ms  errors {phase.errors}  server CPU {phase.server_cpu:4.0%}"
                            f"  {phase.rps_per_core:7,.0f} req/CPU-s  other load on server CPU {phase.other_cpu:4.0%}"
                            f"  client CPU {phase.client_cpu:.0%}"
                        )
            aborted = False
        except (BenchError, ServerError) as exc:
            console.print(f"[bold red]benchmark failed:[/bold red] {exc}")
            for server in servers.values():
                if server.output:
                    console.print(f"last lines {server.name} printed:\n" + "".join(server.output[-30:]), markup=False)
            return 2
        finally:
            if clients is not None:
                clients.close(abort=aborted)
            for server in servers.values():
                server.stop()

    summaries = {name: summarise(phases, name) for name in names}
    print_tables(phases, summaries)
    lines = conclusion(summaries)
    for line in lines:
        console.print(line)
    errors = sum(p.errors for p in phases)
    busy_clients = [p for p in phases if p.client_cpu >= CLIENT_CPU_WARNING]
    if busy_clients:
        console.print(
            f"[yellow]warning: a client process was >= {CLIENT_CPU_WARNING:.0%} busy in {len(busy_clients)} phase(s); "
            "the client may limit throughput (try --clients 2)[/yellow]"
        )
    starved = [p for p in phases if p.round >= 0 and p.server_cpu < SERVER_CPU_NOTE]
    if starved:
        console.print(
            f"[yellow]note: in {len(starved)} of {len([p for p in phases if p.round >= 0])} phases the server used "
            f"< {SERVER_CPU_NOTE:.0%} of its CPU (other load on the machine, or latency-bound): their req/s understate "
            "what one core does; req/CPU-s is less sensitive to that[/yellow]"
        )
    result = {
        "environment": env,
        "summary": summaries,
        "conclusion": lines,
        "errors": errors,
        "servers": {name: {"command": " ".join(s.command), "port": s.port} for name, s in servers.items()},
        "phases": [p.__dict__ for p in phases],
        "account_id": ACCOUNT_ID,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(result), indent=2, allow_nan=False)
    args.output.write_text(text + "\n")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.output.parent / f"run-{stamp}.json").write_text(text + "\n")
    console.print(f"results written to {args.output}")
    if errors:
        samples = sorted({s for p in phases for s in p.error_samples})[:10]
        console.print(f"[bold red]FAILED: {errors} error response(s)[/bold red]\n  " + "\n  ".join(samples))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
