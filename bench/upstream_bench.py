"""Benchmark: public packages through an external connection, Coffer beside devpi-server's PyPI mirror.

    .venv/bin/python bench/upstream_bench.py [--rounds 3]

One command. A real dependency tree (flask, requests, boto3, rich, httpx, pydantic, click, attrs and what they
need: wheels for this machine) is downloaded once from the package registry into ``bench/.cache/`` and served by
a local pypiserver (the "public" index; in the bench's own environment, beside devpi-server and devpi-client).
Then, in each round, on fresh data directories:

- Coffer: ``coffer serve`` with ``COFFER_EXTERNAL_CONNECTION_URLS=public:pypi=<pypiserver>``, a domain, a
  ``pypi-store`` repository holding the connection and an ``app`` repository with it as upstream (the layout AWS
  recommends); pip reads ``app`` with a token;
- devpi-server: ``root/pypi`` turned into a mirror of the same pypiserver (``mirror_url``), read anonymously.

Each round times ``pip install --no-cache-dir`` of the tree into a fresh virtual environment from each server,
cold (nothing fetched yet: every page and file goes to the upstream once) and then warm (everything cached), the
servers' order alternating between rounds. Every install is checked (the eight projects are there). The medians
and the ratios Coffer/devpi are printed and written to ``bench/results/upstream-latest.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import CACHE_DIR, RESULTS_DIR, BenchError, clean_env, console, git, run_checked, say
from peers import devpi_mirror, start_devpi, start_pypiserver
from pypi_bench import installed
from rich.table import Table
from servers import Server, bench_lock, start

CACHE = CACHE_DIR / "upstream-tree"
TREE = ("flask", "requests", "boto3", "rich", "httpx", "pydantic", "click", "attrs")
DOMAIN = "bench"


def tree_wheels() -> list[Path]:
    """The tree's wheels for this Python and platform, downloaded once (the machine's pip configuration is how it
    reaches the registry)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = CACHE / "requirements.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(TREE) and any(CACHE.glob("*.whl")):
        return sorted(CACHE.glob("*.whl"))
    t0 = time.perf_counter()
    run_checked(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "--dest", str(CACHE), *TREE],
        "pip download of the tree",
        timeout=900,
    )
    stamp.write_text("\n".join(TREE))
    wheels = sorted(CACHE.glob("*.whl"))
    say(f"  downloaded {len(wheels)} wheels in {time.perf_counter() - t0:.1f}s into {CACHE}")
    return wheels


@dataclass
class Running:
    name: str
    index_url: str  # for pip, with credentials for Coffer
    stop: Any
    cpu: Any  # () -> CPU seconds the server (and its children) used so far


def coffer_with_connection(
    data_dir: Path, connection: str, upstream: str, fmt: str, cpus: list[int] | None = None, **env: str
) -> tuple[Server, str, str]:
    """``coffer serve`` (on ``cpus``, with ``COFFER_*`` settings ``env``) whose external ``connection`` (e.g.
    ``public:pypi``) fetches from ``upstream``: a domain, a ``<fmt>-store`` repository holding the connection and
    an ``app`` repository with it as upstream (the layout AWS recommends). (server, app's ``fmt`` endpoint, a
    token valid for 12 hours)."""
    import boto3

    env = {"COFFER_EXTERNAL_CONNECTION_URLS": f"{connection}={upstream}", **env}
    server = start("uvicorn", data_dir, cpus, env=env)
    try:
        access, secret = server.credentials()
        ca = boto3.client("codeartifact", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id=access, aws_secret_access_key=secret)  # fmt: skip
        ca.create_domain(domain=DOMAIN)
        ca.create_repository(domain=DOMAIN, repository=f"{fmt}-store")
        ca.associate_external_connection(domain=DOMAIN, repository=f"{fmt}-store", externalConnection=connection)
        ca.create_repository(domain=DOMAIN, repository="app", upstreams=[{"repositoryName": f"{fmt}-store"}])
        endpoint = ca.get_repository_endpoint(domain=DOMAIN, repository="app", format=fmt)["repositoryEndpoint"]
        token = ca.get_authorization_token(domain=DOMAIN, durationSeconds=43200)["authorizationToken"]
    except BaseException:
        server.stop()
        raise
    return server, endpoint, token


def start_coffer(tmp: Path, upstream: str) -> Running:
    server, endpoint, token = coffer_with_connection(tmp / "coffer-data", "public:pypi", upstream, "pypi")
    url = endpoint.replace("://", f"://aws:{urllib.parse.quote(token, safe='')}@", 1) + "simple/"
    return Running("coffer", url, server.stop, server.cpu_seconds)


def start_devpi_mirror(tmp: Path, upstream: str) -> Running:
    peer = start_devpi(tmp, None, root_pypi=True)
    url = devpi_mirror(peer, tmp, upstream)
    return Running("devpi", url, peer.stop, peer.cpu)


@dataclass
class Install:
    server: str
    round: int
    temperature: str  # cold or warm
    seconds: float
    server_cpu_seconds: float


def pip_install(running: Running, tmp: Path, rnd: int, temperature: str) -> Install:
    venv = tmp / f"venv-{running.name}-{rnd}-{temperature}"
    run_checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], "creating a venv")
    cmd = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-cache-dir"]
    cmd += ["--disable-pip-version-check", "--only-binary", ":all:", "--index-url", running.index_url, *TREE]
    cpu0 = running.cpu()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=clean_env(tmp / "home"), capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    cpu = running.cpu() - cpu0
    if r.returncode != 0:
        raise BenchError(
            f"pip install from {running.name} ({temperature}) failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
        )
    missing = set(TREE) - set(installed(venv))
    if missing:
        raise BenchError(f"pip install from {running.name}: {sorted(missing)} not installed")
    return Install(running.name, rnd, temperature, seconds, cpu)


def summarise(installs: list[Install]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for temperature in ("cold", "warm"):
        medians = {}
        for name in ("coffer", "devpi"):
            times = [i.seconds for i in installs if i.server == name and i.temperature == temperature]
            medians[name] = statistics.median(times)
            out[f"{name}_{temperature}_s"] = times
            out[f"{name}_{temperature}_server_cpu_s"] = statistics.median(
                i.server_cpu_seconds for i in installs if i.server == name and i.temperature == temperature
            )
        out[f"{temperature}_ratio"] = medians["coffer"] / medians["devpi"]
        out[f"{temperature}_medians"] = medians
        out[f"{temperature}_round_ratios"] = [
            c.seconds / d.seconds
            for c in installs
            for d in installs
            if c.server == "coffer" and d.server == "devpi" and c.round == d.round and c.temperature == temperature
            and d.temperature == temperature
        ]  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_lock(say), tempfile.TemporaryDirectory(prefix="coffer-upstream-bench-") as tmp_name:
        tmp = Path(tmp_name)
        say("[bold]setting up[/bold]")
        wheels = tree_wheels()
        pps = start_pypiserver(tmp, wheels, None)
        upstream = f"{pps.url}/simple/"
        installs: list[Install] = []
        try:
            for rnd in range(args.rounds):
                order = ("coffer", "devpi") if rnd % 2 == 0 else ("devpi", "coffer")
                round_dir = tmp / f"round-{rnd}"
                round_dir.mkdir()
                servers = {
                    "coffer": start_coffer(round_dir, upstream),
                    "devpi": start_devpi_mirror(round_dir, upstream),
                }
                try:
                    for temperature in ("cold", "warm"):
                        for name in order:
                            done = pip_install(servers[name], round_dir, rnd, temperature)
                            installs.append(done)
                            say(f"  round {rnd + 1} {temperature:4} {name:6} {done.seconds:6.2f}s "
                                f"(server CPU {done.server_cpu_seconds:.2f}s)")  # fmt: skip
                finally:
                    for s in servers.values():
                        s.stop()
        finally:
            pps.stop()
    summary = summarise(installs)
    table = Table(title=f"pip install of {', '.join(TREE)} ({len(wheels)} wheels) through each server")
    columns = ("", "Coffer median s", "devpi median s", "Coffer / devpi", "per-round ratios", "server CPU s C / d")
    for column in columns:
        table.add_column(column, justify="right")
    for temperature in ("cold", "warm"):
        m = summary[f"{temperature}_medians"]
        ratios = ", ".join(f"{r:.2f}" for r in summary[f"{temperature}_round_ratios"])
        cpu = (
            f"{summary[f'coffer_{temperature}_server_cpu_s']:.2f} / {summary[f'devpi_{temperature}_server_cpu_s']:.2f}"
        )
        table.add_row(temperature, f"{m['coffer']:.2f}", f"{m['devpi']:.2f}", f"{summary[f'{temperature}_ratio']:.2f}",
                      ratios, cpu)  # fmt: skip
    console.print(table)
    RESULTS_DIR.mkdir(exist_ok=True)
    record = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": git("rev-parse", "--short", "HEAD"),
        "wheels": len(wheels),
        "installs": [asdict(i) for i in installs],
        **summary,
    }
    (RESULTS_DIR / "upstream-latest.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
