"""The other projects' servers the benchmarks compare Coffer with: pypiserver and devpi-server, each installed once
into a virtual environment of its own under ``bench/.cache/venvs/`` and run on a fresh directory."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from common import BenchError, cached_venv, clean_env, run_checked, stop_process, tree_cpu, venv_version
from servers import HOST, _free_port, _pinned

PYPISERVER_SPEC = ("pypiserver==2.4.2", "waitress==3.0.2")  # both support Python 3.8-3.13
DEVPI_SPEC = ("devpi-server==6.20.3", "devpi-client==7.3.0")
DEVPI_USER = "bench"
DEVPI_PASSWORD = "bench"
DEVPI_INDEX = f"{DEVPI_USER}/dev"


@dataclass
class Peer:
    """A running server of another project."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]
    info: dict[str, Any] = field(default_factory=dict)  # versions, command line

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu(self) -> float:
        return tree_cpu(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process, self.log)


def _launch(
    name: str, cmd: list[str], port: int, log_path: Path, cpus: list[int] | None, ready: str, **info: Any
) -> Peer:
    """Run ``cmd`` (listening on ``port``) on ``cpus`` and wait until ``ready`` (a path) answers 200."""
    log = log_path.open("wb")
    process = subprocess.Popen(_pinned(cmd, cpus), stdout=log, stderr=subprocess.STDOUT)
    peer = Peer(name, process, port, log, {"command": " ".join(cmd), **info})
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.TransportError):
            response = httpx.get(peer.url + ready, timeout=2)
            if response.status_code == 200:
                peer.info["server_header"] = response.headers.get("server")
                return peer
        if process.poll() is not None or time.monotonic() > deadline:
            peer.stop()
            raise BenchError(f"{name} did not start:\n" + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.2)


def start_pypiserver(tmp: Path, wheels: list[Path], cpus: list[int] | None) -> Peer:
    """pypiserver 2.4.2 under waitress (bottle's ``auto`` choice when waitress is installed; checked, since it
    would fall back to single-threaded wsgiref), on ``cpus``, serving a copy of ``wheels`` from a directory,
    unauthenticated reads, no fallback to the public index."""
    venv = cached_venv("pypiserver", PYPISERVER_SPEC)
    versions = {name: venv_version(venv, name) for name in ("pypiserver", "waitress")}
    packages = tmp / "pypiserver-packages"
    packages.mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, packages / wheel.name)
    port = _free_port()
    cmd = [str(venv / "bin" / "pypi-server"), "run", "-p", str(port), "-i", HOST, "--disable-fallback"]
    cmd += ["--server", "auto", str(packages)]  # bottle's "auto" runs waitress when it is installed
    peer = _launch("pypiserver", cmd, port, tmp / "pypiserver.log", cpus, "/simple/", versions=versions)
    if peer.info["server_header"] != "waitress":
        peer.stop()
        raise BenchError(f"pypiserver does not run under waitress: Server: {peer.info['server_header']!r}")
    return peer


def start_devpi(tmp: Path, cpus: list[int] | None, root_pypi: bool = False) -> Peer:
    """devpi-server 6.20.3 (its defaults: waitress, 50 threads) on a fresh ``devpi-init`` directory (with the
    ``root/pypi`` mirror index only if ``root_pypi``), on ``cpus``. Indexes are made with ``devpi(peer, ...)``."""
    venv = cached_venv("devpi", DEVPI_SPEC)
    versions = {name: venv_version(venv, name) for name in ("devpi-server", "devpi-client")}
    serverdir = tmp / "devpi-data"
    init = [str(venv / "bin" / "devpi-init"), "--serverdir", str(serverdir), "--root-passwd", "root"]
    run_checked(init if root_pypi else [*init, "--no-root-pypi"], "devpi-init")
    port = _free_port()
    cmd = [str(venv / "bin" / "devpi-server"), "--serverdir", str(serverdir), "--host", HOST, "--port", str(port)]
    peer = _launch("devpi", cmd, port, tmp / "devpi.log", cpus, "/+api", versions=versions)
    peer.info["venv"] = str(venv)
    return peer


def devpi(peer: Peer, tmp: Path, *args: str) -> str:
    """Run ``devpi ARGS`` (devpi-client) against ``peer`` with a client directory and home of its own."""
    home = tmp / "devpi-client-home"
    home.mkdir(exist_ok=True)
    env = clean_env(home, DEVPI_CLIENTDIR=str(tmp / "devpi-client"))
    return run_checked([str(Path(peer.info["venv"]) / "bin" / "devpi"), *args], f"devpi {args[0]}", env)


def devpi_private_index(peer: Peer, tmp: Path, wheels: list[Path]) -> str:
    """A private index ``bench/dev`` with no bases (nothing from any mirror), ``wheels`` uploaded into it with
    twine; read anonymously (devpi's default). Its simple index URL."""
    devpi(peer, tmp, "use", peer.url)
    devpi(peer, tmp, "user", "-c", DEVPI_USER, f"password={DEVPI_PASSWORD}")
    devpi(peer, tmp, "login", DEVPI_USER, "--password", DEVPI_PASSWORD)
    devpi(peer, tmp, "index", "-c", "dev", "bases=")
    env = clean_env(tmp / "home", TWINE_USERNAME=DEVPI_USER, TWINE_PASSWORD=DEVPI_PASSWORD,
                    TWINE_REPOSITORY_URL=f"{peer.url}/{DEVPI_INDEX}/")  # fmt: skip
    twine = Path(sys.executable).parent / "twine"
    run_checked([str(twine), "upload", "--non-interactive", "--disable-progress-bar", *map(str, wheels)],
                "twine upload to devpi", env, timeout=600)  # fmt: skip
    peer.info["index"] = f"{DEVPI_INDEX} (bases= : no mirror), uploaded with twine, anonymous reads"
    return f"{peer.url}/{DEVPI_INDEX}/+simple/"


def devpi_mirror(peer: Peer, tmp: Path, upstream: str) -> str:
    """``root/pypi`` (``start_devpi(root_pypi=True)``) turned into a mirror of ``upstream``; its simple index URL."""
    devpi(peer, tmp, "use", peer.url)
    devpi(peer, tmp, "login", "root", "--password", "root")
    devpi(peer, tmp, "index", "root/pypi", f"mirror_url={upstream}")
    return f"{peer.url}/root/pypi/+simple/"
