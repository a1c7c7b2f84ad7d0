"""Start Coffer under uvicorn (``coffer serve``, as users run it) or granian (``coffer.app.asgi:app_from_env``)."""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ACCOUNT_ID = "111122223333"
HOST = "127.0.0.1"
SERVERS = ("uvicorn", "granian")


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    command: list[str]
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def credentials(self) -> tuple[str, str]:
        parser = configparser.ConfigParser()
        parser.read(self.data_dir / "credentials")
        section = parser["default"]
        return section["aws_access_key_id"], section["aws_secret_access_key"]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and all its descendants (granian forks a worker)."""
        return sum(_cpu_seconds(pid) for pid in _descendants(self.process.pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (the name may hold spaces)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


def split_cpus(no_pin: bool) -> tuple[list[int] | None, list[int] | None]:
    """(server CPUs, client CPUs): the first CPU for the servers and the rest for the clients, unless ``no_pin``
    or there is only one (then None, None: nothing is pinned)."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2:
        return None, None
    return cpus[:1], cpus[1:]


def cpu_busy_seconds(cpus: list[int]) -> float:
    """Busy time (everything but idle and iowait; steal included) of ``cpus`` since boot, from /proc/stat."""
    wanted = {f"cpu{c}" for c in cpus}
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            busy += sum(values) - values[3] - values[4]
    return busy / _CLK_TCK


LOCK_FILE = Path(tempfile.gettempdir()) / "coffer-bench.lock"


@contextlib.contextmanager
def bench_lock(announce: Callable[[str], None] = print) -> Iterator[None]:
    """Machine-wide: one Coffer benchmark at a time (two at once would pin their servers to the same CPU and
    measure each other). Waits for the holder to finish."""
    with open(LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            announce(f"waiting for another Coffer benchmark to finish ({holder}; lock {LOCK_FILE})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {' '.join(sys.argv)}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


_PINNED_EXEC = (
    "import os, sys; os.sched_setaffinity(0, map(int, sys.argv[1].split(','))); os.execv(sys.argv[2], sys.argv[2:])"
)


def _pinned(cmd: list[str], cpus: list[int] | None) -> list[str]:
    """``cmd`` run on ``cpus`` only (set before exec, so granian's worker processes inherit it); no preexec_fn,
    which is unsafe in a process that has threads."""
    if not cpus:
        return cmd
    return [sys.executable, "-c", _PINNED_EXEC, ",".join(map(str, cpus)), *cmd]


def _script(name: str, module: str) -> list[str]:
    """The console script installed beside this Python (what a user runs), else ``python -m``."""
    path = Path(sys.executable).parent / name
    return [str(path)] if path.exists() else [sys.executable, "-m", module]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _drain(process: subprocess.Popen[str], output: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)


def _wait_healthy(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise ServerError(f"{server.name} did not become healthy:\n" + "".join(server.output))


def _command(name: str, data_dir: Path, env: dict[str, str], args: tuple[str, ...]) -> tuple[list[str], int | None]:
    """The command line for ``name`` (and the port when it is chosen here; uvicorn reports its own)."""
    if name == "uvicorn":
        cmd = [*_script("coffer", "coffer"), "serve", "--port", "0", "--data-dir", str(data_dir)]
        return [*cmd, "--account-id", ACCOUNT_ID, *args], None
    if args:
        raise ValueError(f"{name} takes no coffer serve options")
    if name == "granian":
        port = _free_port()
        env.update(COFFER_DATA_DIR=str(data_dir), COFFER_ACCOUNT_ID=ACCOUNT_ID, COFFER_HOST=HOST, COFFER_PORT=str(port))
        cmd = [*_script("granian", "granian"), "--interface", "asgi", "--factory", "coffer.app.asgi:app_from_env"]
        cmd += ["--host", HOST, "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]
        return cmd, port
    raise ValueError(f"unknown server {name!r}")


def _reported_port(process: subprocess.Popen[str], output: list[str], deadline: float) -> int:
    """The port from ``coffer serve``'s banner line."""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        m = re.search(r"listening on http://[^\s:]+:(\d+)", line)
        if m:
            return int(m.group(1))
    raise ServerError("coffer serve did not start:\n" + "".join(output))


def start(
    name: str,
    data_dir: Path,
    cpus: list[int] | None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Server:
    """Start ``name`` ("uvicorn": ``coffer serve ARGS``, or "granian") on a fresh ``data_dir``, pinned to ``cpus``,
    with ``env`` added to this process's environment, and wait until /health answers. The process is stopped
    again if anything goes wrong (or the caller is interrupted)."""
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    deadline = time.monotonic() + timeout
    cmd, port = _command(name, data_dir, env, args)
    process = subprocess.Popen(_pinned(cmd, cpus), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output: list[str] = []
    server = Server(name=name, process=process, port=port or 0, data_dir=data_dir, command=cmd, output=output)
    try:
        if port is None:
            server.port = _reported_port(process, output, deadline)
        threading.Thread(target=_drain, args=(process, output), daemon=True).start()
        _wait_healthy(server, deadline)
        if not (data_dir / "credentials").exists():
            raise ServerError(f"{name}: no credentials file in {data_dir}")
    except BaseException:
        server.stop()
        raise
    return server
