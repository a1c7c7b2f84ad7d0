"""Benchmark: does one abusive client slow everyone else down? (issue 7, defects 3 and 4)

    .venv/bin/python bench/hardening.py [--seconds 8] [--skip-uploads] [--layers]

Starts ``coffer serve`` on a fresh data directory (pinned to one CPU; the attackers and the prober run on the
others) and reports ``GET /health`` p50/p99 latency, each probe on a new connection, about 50 a second:

1. idle;
2. while one connection after another streams a 64 MB header value (a new one as soon as the last is answered);
3. while 300 slow connections dribble their heads (one byte a second each, reconnecting when closed);

then, on another fresh server, the server's memory (``VmRSS``/``VmHWM`` from ``/proc/<pid>/status``) while
4. 10 read-only principals upload at once, each body carrying 480 MB of multipart form fields (480 fields of
   1,000,000 bytes, generated as they are sent) before a small file part, with Basic auth ``aws:<token>``.

Aims: p99 under 50 ms in 2 and 3 (as idle); RSS growth under 64 MB in 4.

``--layers`` instead compares HTTP layers for the same app: ``coffer serve`` (uvicorn + httptools + Coffer's
guard), plain uvicorn with httptools, uvicorn with h11, and granian: ``/health`` throughput (requests per second
and per server CPU-second, 32 keep-alive connections) and p99 under attacks 2 and 3.

Prints tables, a Markdown block for bench/README.md, and writes bench/results/hardening-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import configparser
import contextlib
import datetime
import json
import multiprocessing
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from servers import ACCOUNT_ID, HOST, Server, ServerError, _drain, _free_port, _pinned, _wait_healthy, bench_lock

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
HEADER_BYTES = 64 * 1024 * 1024
SLOW_CONNECTIONS = 300
UPLOADS = 10
FIELD_BYTES = 1_000_000
FIELDS = 480  # 480 MB of form fields per upload
DOMAIN = "acme"
REPOSITORY = "internal"
READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "sts:GetServiceBearerToken",
            "Resource": "*",
            "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
        },
        {"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": "*"},
    ],
}


# ----------------------------------------------------------------------------------------------------------------
# servers


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def layer_command(layer: str, data_dir: Path, env: dict[str, str]) -> tuple[list[str], int | None]:
    """The command for ``layer`` and its port (None: ``coffer serve`` prints the port it picked)."""
    if layer == "coffer":
        return [
            bin_path("coffer"),
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--account-id",
            ACCOUNT_ID,
        ], None
    port = _free_port()
    env.update(COFFER_DATA_DIR=str(data_dir), COFFER_ACCOUNT_ID=ACCOUNT_ID, COFFER_HOST=HOST, COFFER_PORT=str(port))
    factory = "coffer.app.asgi:app_from_env"
    if layer in ("httptools", "h11"):
        cmd = [bin_path("uvicorn"), "--factory", factory, "--http", layer, "--host", HOST, "--port", str(port)]
        return [*cmd, "--log-level", "warning", "--no-access-log", "--no-server-header"], port
    if layer == "granian":
        cmd = [bin_path("granian"), "--interface", "asgi", "--factory", factory, "--host", HOST, "--port", str(port)]
        return [*cmd, "--workers", "1", "--log-level", "warning", "--no-access-log"], port
    raise ValueError(layer)


LAYERS = {
    "coffer": "coffer serve: uvicorn + httptools + guard",
    "httptools": "uvicorn + httptools, no guard",
    "h11": "uvicorn + h11",
    "granian": "granian",
}


def start_server(layer: str, data_dir: Path, cpus: list[int] | None, timeout: float = 90.0) -> Server:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd, port = layer_command(layer, data_dir, env)
    process = subprocess.Popen(_pinned(cmd, cpus), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output: list[str] = []
    server = Server(name=layer, process=process, port=port or 0, data_dir=data_dir, command=cmd, output=output)
    deadline = time.monotonic() + timeout
    try:
        if port is None:
            assert process.stdout is not None
            while time.monotonic() < deadline and not server.port:
                line = process.stdout.readline()
                if not line:
                    raise ServerError("coffer serve did not start:\n" + "".join(output))
                output.append(line)
                m = re.search(r"listening on http://[^\s:]+:(\d+)", line)
                if m:
                    server.port = int(m.group(1))
        threading.Thread(target=_drain, args=(process, output), daemon=True).start()
        _wait_healthy(server, deadline)
    except BaseException:
        server.stop()
        raise
    return server


def status_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


def tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and its children (granian's worker is a child)."""
    total = status_kib(pid)["VmRSS"]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            with contextlib.suppress(OSError, KeyError):
                total += status_kib(int(child))["VmRSS"]
    return total


# ----------------------------------------------------------------------------------------------------------------
# the prober


def health_ms(port: int, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"/health answered {data[:80]!r}")
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Latency:
    scenario: str
    samples: int
    failures: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    attack: dict[str, Any] = field(default_factory=dict)


def probe(port: int, seconds: float, scenario: str, interval: float = 0.02) -> Latency:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            latencies.append(health_ms(port))
        except (OSError, RuntimeError):
            failures += 1
        time.sleep(interval)
    return Latency(
        scenario,
        len(latencies),
        failures,
        percentile(latencies, 50),
        percentile(latencies, 99),
        max(latencies, default=float("nan")),
    )


# ----------------------------------------------------------------------------------------------------------------
# attackers (separate processes, so that they do not share the prober's interpreter)


def stream_headers(port: int, stop: EventType, results: Any) -> None:
    """One connection at a time streams a 64 MB header value; what each attempt got goes to ``results``."""
    chunk = b"a" * 65536
    attempts: list[dict[str, Any]] = []
    while not stop.is_set():
        start = time.monotonic()
        sent = 0
        answer = b""
        try:
            with socket.create_connection((HOST, port), timeout=60) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Big: ")
                sock.setblocking(False)
                while sent < HEADER_BYTES and not answer and not stop.is_set():
                    readable, writable, _ = select.select([sock], [sock], [], 1)
                    if readable:
                        answer = sock.recv(64) or b"EOF"
                    elif writable:
                        sent += sock.send(chunk)
                if not answer and not stop.is_set():
                    sock.setblocking(True)
                    sock.settimeout(60)
                    sock.sendall(b"\r\n\r\n")
                    answer = sock.recv(64) or b"EOF"
        except OSError as exc:
            answer = answer or type(exc).__name__.encode()
        if answer:
            status = answer[9:12].decode() if answer.startswith(b"HTTP/1.1 ") else answer.decode("latin-1")[:24]
            attempts.append({"status": status, "sent": sent, "seconds": time.monotonic() - start})
    results.put(attempts)


def slow_connections(port: int, count: int, stop: EventType, results: Any) -> None:
    """``count`` connections, each sending one byte of its head a second, reconnecting whenever closed."""
    stats = {"connections": 0, "answers": {}, "closed": 0, "open_at_end": 0}

    async def one(index: int) -> None:
        await asyncio.sleep(index * 0.003)
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            stats["connections"] += 1
            writer.write(b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
            try:
                while not stop.is_set():
                    writer.write(b"a")
                    await writer.drain()
                    try:
                        data = await asyncio.wait_for(reader.read(4096), 1.0)
                    except TimeoutError:
                        continue
                    if data.startswith(b"HTTP/1.1 "):
                        code = data[9:12].decode()
                        stats["answers"][code] = stats["answers"].get(code, 0) + 1
                    if not data:
                        stats["closed"] += 1
                        break
                else:
                    stats["open_at_end"] += 1
            except OSError:
                stats["closed"] += 1
            finally:
                writer.close()

    async def main() -> None:
        tasks = [asyncio.create_task(one(i)) for i in range(count)]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    results.put(stats)


@contextlib.contextmanager
def attacker(target: Callable[..., None], *args: Any) -> Iterator[dict[str, Any]]:
    """Run ``target(*args, stop, results)`` in a process for the duration of the block; yields its report."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    results = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, stop, results), daemon=True)
    proc.start()
    report: dict[str, Any] = {}
    try:
        yield report
    finally:
        stop.set()
        try:
            value = results.get(timeout=90)
        except Exception:
            value = None
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
        report["result"] = value


def summarize_stream(attempts: list[dict[str, Any]] | None) -> dict[str, Any]:
    if not attempts:
        return {"attempts": 0}
    statuses: dict[str, int] = {}
    for a in attempts:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    return {
        "attempts": len(attempts),
        "statuses": statuses,
        "median_bytes_sent_before_answer": statistics.median(a["sent"] for a in attempts),
        "median_seconds_to_answer": round(statistics.median(a["seconds"] for a in attempts), 3),
    }


def latency_scenarios(port: int, seconds: float, slow_seconds: float, label: str = "") -> list[Latency]:
    out = [probe(port, seconds, f"{label}idle")]
    with attacker(stream_headers, port) as report:
        time.sleep(0.5)
        result = probe(port, seconds, f"{label}one connection streaming 64 MB headers")
    result.attack = summarize_stream(report["result"])
    out.append(result)
    with attacker(slow_connections, port, SLOW_CONNECTIONS) as report:
        time.sleep(2.0)  # all connected and dribbling
        result = probe(port, slow_seconds, f"{label}{SLOW_CONNECTIONS} slow connections dribbling headers")
    result.attack = report["result"] or {}
    out.append(result)
    return out


# ----------------------------------------------------------------------------------------------------------------
# part 4: read-only uploads carrying 480 MB of form fields


def read_profile(path: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(path)
    return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]


def coffer_cli(*args: str) -> str:
    done = subprocess.run([bin_path("coffer"), *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"coffer {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def read_only_token(server: Server) -> str:
    import boto3

    access, secret = read_profile(server.data_dir / "credentials")
    ca = boto3.client(
        "codeartifact",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
    )
    ca.create_domain(domain=DOMAIN)
    ca.create_repository(domain=DOMAIN, repository=REPOSITORY)
    data = str(server.data_dir)
    coffer_cli("admin", "--data-dir", data, "create-user", "ro")
    policy = server.data_dir.parent / "read-only.json"
    policy.write_text(json.dumps(READ_ONLY_POLICY))
    coffer_cli("admin", "--data-dir", data, "put-user-policy", "ro", str(policy))
    token = coffer_cli("token", "--domain", DOMAIN, "--user", "ro", "--duration", "3600", "--data-dir", data).strip()
    return token.splitlines()[-1].strip()


def multipart_parts(boundary: bytes, fields: int, field_bytes: int) -> Iterator[bytes]:
    """A legacy-upload body: metadata fields, ``fields`` comments of ``field_bytes`` each, then a tiny file."""
    value = b"x" * field_bytes

    def part(name: str, body: bytes, filename: str | None = None) -> Iterator[bytes]:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        yield b"--" + boundary + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        yield body
        yield b"\r\n"

    meta = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": "bench-fields",
        "version": "1.0",
        "filetype": "sdist",
        "pyversion": "source",
    }
    for name, text in meta.items():
        yield from part(name, text.encode())
    for _ in range(fields):
        yield from part("comment", value)
    yield from part("content", b"not really a tarball", "bench_fields-1.0.tar.gz")
    yield b"--" + boundary + b"--\r\n"


def body_length(boundary: bytes, fields: int, field_bytes: int) -> int:
    one = sum(len(p) for p in multipart_parts(boundary, 1, field_bytes))
    zero = sum(len(p) for p in multipart_parts(boundary, 0, field_bytes))
    return zero + fields * (one - zero)


def upload(port: int, path: str, token: str, fields: int, field_bytes: int, out: dict[str, Any]) -> None:
    boundary = b"coffer-bench-" + os.urandom(8).hex().encode()
    length = body_length(boundary, fields, field_bytes)
    auth = base64.b64encode(f"aws:{token}".encode()).decode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary.decode()}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    start = time.monotonic()
    sent = 0
    answer = b""
    try:
        with socket.create_connection((HOST, port), timeout=600) as sock:
            sock.sendall(head)
            for piece in multipart_parts(boundary, fields, field_bytes):
                view = memoryview(piece)
                while view and not answer:
                    readable, writable, _ = select.select([sock], [sock], [], 600)
                    if readable:
                        answer = sock.recv(65536) or b"EOF"
                    elif writable:
                        n = sock.send(view[:262144])
                        view = view[n:]
                        sent += n
                if answer:
                    break
            sock.settimeout(600)
            while not answer.endswith(b"EOF") and b"\r\n\r\n" not in answer:
                more = sock.recv(65536)
                answer += more or b"EOF"
    except OSError as exc:
        answer = answer or type(exc).__name__.encode()
    status = answer[9:12].decode() if answer.startswith(b"HTTP/1.1 ") else answer.decode("latin-1")[:24]
    out.update(
        status=status,
        body_bytes=length,
        sent_before_answer=sent,
        seconds=round(time.monotonic() - start, 2),
        answer=answer.split(b"\r\n\r\n", 1)[-1][:160].decode("latin-1"),
    )


def upload_memory(server: Server, uploads: int, fields: int, field_bytes: int) -> dict[str, Any]:
    token = read_only_token(server)
    path = f"/pypi/d/{DOMAIN}-{ACCOUNT_ID}/{REPOSITORY}/"
    pid = server.process.pid
    for _ in range(5):
        health_ms(server.port)
    time.sleep(0.5)
    before = status_kib(pid)
    results: list[dict[str, Any]] = [{} for _ in range(uploads)]
    threads = [
        threading.Thread(target=upload, args=(server.port, path, token, fields, field_bytes, results[i]), daemon=True)
        for i in range(uploads)
    ]
    peak = before["VmRSS"]
    start = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        with contextlib.suppress(OSError, KeyError):
            peak = max(peak, status_kib(pid)["VmRSS"])
        time.sleep(0.05)
    after = status_kib(pid)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "uploads": uploads,
        "form_bytes_each": fields * field_bytes,
        "seconds": round(time.monotonic() - start, 1),
        "statuses": statuses,
        "rss_before_mb": round(before["VmRSS"] / 1024, 1),
        "rss_peak_sampled_mb": round(peak / 1024, 1),
        "hwm_after_mb": round(after["VmHWM"] / 1024, 1),
        "growth_mb": round((max(after["VmHWM"], peak) - before["VmRSS"]) / 1024, 1),
        "median_sent_before_answer_mb": round(statistics.median(r["sent_before_answer"] for r in results) / 1e6, 1),
        "example_answer": results[0].get("answer", ""),
    }


# ----------------------------------------------------------------------------------------------------------------
# --layers: /health throughput per HTTP layer


def throughput(server: Server, client_cpus: list[int] | None, rounds: int, seconds: float) -> dict[str, Any]:
    from loadgen import Target
    from run import Clients

    target = Target(HOST, server.port, DOMAIN, "unused", "unused")
    clients = Clients(1, client_cpus)
    try:
        clients.run(target, "health", 32, 0.3, 1.0)  # warm-up
        rps: list[float] = []
        per_cpu: list[float] = []
        for _ in range(rounds):
            cpu0 = server.cpu_seconds()
            messages = clients.run(target, "health", 32, 0.3, seconds)
            cpu = server.cpu_seconds() - cpu0
            ok = sum(m["ok"] for m in messages)
            errors = sum(m["errors"] for m in messages)
            if errors:
                raise RuntimeError(f"{server.name}: {errors} errors: {messages[0]['error_samples']}")
            rps.append(ok / seconds)
            per_cpu.append(ok / cpu if cpu else float("nan"))
    finally:
        clients.close()
    return {"rps": round(statistics.median(rps)), "rps_per_cpu_s": round(statistics.median(per_cpu))}


# ----------------------------------------------------------------------------------------------------------------
# report


def git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    return "?"


def fmt(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def latency_table(rows: list[Latency]) -> list[str]:
    lines = ["| scenario | probes | failed | p50 ms | p99 ms | max ms | attack |", "|---|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        attack = ", ".join(f"{k} {v}" for k, v in r.attack.items()) if r.attack else ""
        lines.append(
            f"| {r.scenario} | {r.samples} | {r.failures} | {fmt(r.p50_ms)} | {fmt(r.p99_ms)} | {fmt(r.max_ms)} "
            f"| {attack} |"
        )
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="probing seconds per scenario (default 8)")
    parser.add_argument(
        "--slow-seconds", type=float, default=14.0, help="probing seconds with slow connections (default 14)"
    )
    parser.add_argument("--skip-uploads", action="store_true", help="leave out part 4")
    parser.add_argument("--uploads", type=int, default=UPLOADS, help=f"parallel uploads (default {UPLOADS})")
    parser.add_argument("--fields", type=int, default=FIELDS, help=f"1 MB form fields per upload (default {FIELDS})")
    parser.add_argument("--layers", action="store_true", help="compare HTTP layers instead")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server to its own CPU")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = client_cpus = None
    if not args.no_pin and len(cpus) >= 2:
        server_cpus, client_cpus = cpus[:1], cpus[1:]
        os.sched_setaffinity(0, client_cpus)  # the prober and (inherited) the attackers
    head = git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "src") else ""
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Coffer hardening benchmark, git {head}{dirty}, {when}; server on CPU {server_cpus or 'any'}", flush=True)
    report: dict[str, Any] = {"git": head + dirty, "date": when, "server_cpus": server_cpus}
    lines: list[str] = [f"#### {when}, git {head}{dirty}", ""]
    with bench_lock(print), tempfile.TemporaryDirectory(prefix="coffer-hardening-") as tmp:
        try:
            if args.layers:
                rows = []
                for layer in LAYERS:
                    server = start_server(layer, Path(tmp) / layer / "data", server_cpus)
                    try:
                        t = throughput(server, client_cpus, 3, 3.0)
                        lat = latency_scenarios(server.port, args.seconds, args.slow_seconds)
                        rss = tree_rss_kib(server.process.pid) / 1024
                    finally:
                        server.stop()
                    rows.append({"layer": layer, **t, "latency": [asdict(x) for x in lat], "rss_mb_after": rss})
                    print(f"  {LAYERS[layer]}: {t['rps']:,} req/s, {t['rps_per_cpu_s']:,} req/CPU-s", flush=True)
                    for x in lat:
                        print(
                            f"    {x.scenario}: p50 {fmt(x.p50_ms)} ms, p99 {fmt(x.p99_ms)} ms, {x.attack}", flush=True
                        )
                report["layers"] = rows
                lines += [
                    "| HTTP layer | /health req/s | req/CPU-s | p99 idle | p99 64 MB headers | p99 300 slow "
                    "| max 64 MB headers |",
                    "|---|--:|--:|--:|--:|--:|--:|",
                ]
                for row in rows:
                    idle, big, slow = row["latency"]
                    lines.append(
                        f"| {LAYERS[row['layer']]} | {row['rps']:,} | {row['rps_per_cpu_s']:,} | {fmt(idle['p99_ms'])} "
                        f"| {fmt(big['p99_ms'])} | {fmt(slow['p99_ms'])} | {fmt(big['max_ms'])} |"
                    )
            else:
                server = start_server("coffer", Path(tmp) / "latency" / "data", server_cpus)
                try:
                    lat = latency_scenarios(server.port, args.seconds, args.slow_seconds)
                finally:
                    server.stop()
                report["latency"] = [asdict(x) for x in lat]
                lines += latency_table(lat)
                if not args.skip_uploads:
                    server = start_server("coffer", Path(tmp) / "uploads" / "data", server_cpus)
                    try:
                        up = upload_memory(server, args.uploads, args.fields, FIELD_BYTES)
                    finally:
                        server.stop()
                    report["uploads"] = up
                    lines += [
                        "",
                        "| uploads | form fields each | statuses | RSS before MB | RSS peak MB | growth MB "
                        "| sent before answer (median) MB | seconds |",
                        "|--:|--:|---|--:|--:|--:|--:|--:|",
                        f"| {up['uploads']} | {up['form_bytes_each'] / 1e6:,.0f} MB | {up['statuses']} "
                        f"| {up['rss_before_mb']} | {max(up['rss_peak_sampled_mb'], up['hwm_after_mb'])} "
                        f"| {up['growth_mb']} | {up['median_sent_before_answer_mb']} | {up['seconds']} |",
                        "",
                        f"Answer to the first upload: `{up['example_answer'].strip()}`",
                    ]
        except (ServerError, RuntimeError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2
    print()
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    name = "hardening-layers-latest.json" if args.layers else "hardening-latest.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
