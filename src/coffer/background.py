"""``coffer serve --background`` and ``coffer stop``: a server that runs on after the command returns.

``serve --background`` starts ``coffer serve`` again as a child in its own session (so neither Ctrl-C in the
terminal nor closing it stops the server), with its output appended to ``<data-dir>/coffer.log``, and waits until
the child says it is serving: the child writes its banner to a pipe whose descriptor it finds in
``COFFER_READY_FD`` once uvicorn listens (``coffer.server``), then records itself in ``<data-dir>/coffer.pid``. The
parent prints the banner and returns 0, or, when the child exits first, prints the end of the log and returns 1.
``coffer stop`` sends SIGTERM to the recorded server and waits for it to exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coffer.store.files import PRIVATE_FILE_MODE, atomic_write, make_private_dir

READY_FD_VARIABLE = "COFFER_READY_FD"
PID_FILE = "coffer.pid"
LOG_FILE = "coffer.log"
START_TIMEOUT = 120.0
"""Seconds a background server has to come up (a first start migrates a database, a PostgreSQL one may be slow)."""
STOP_TIMEOUT = 20.0


class BackgroundError(RuntimeError):
    """The background server could not be started or stopped; the message is one line (plus a log excerpt)."""


@dataclass(frozen=True)
class Recorded:
    """The server ``<data-dir>/coffer.pid`` names."""

    pid: int
    url: str


def pid_file(data_dir: Path) -> Path:
    return data_dir / PID_FILE


def log_file(data_dir: Path) -> Path:
    return data_dir / LOG_FILE


def read_recorded(data_dir: Path) -> Recorded | None:
    """The server recorded for ``data_dir``, if the file is there and readable."""
    try:
        raw = json.loads(pid_file(data_dir).read_text("utf-8"))
        return Recorded(pid=int(raw["pid"]), url=str(raw["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


def _is_coffer_server(pid: int) -> bool:
    """Whether process ``pid`` is a ``coffer serve`` (after a crash its pid may have gone to another program).
    Where ``/proc`` cannot tell, a live process is taken to be the one recorded."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid) and not Path("/proc/self").exists()
    return b"serve" in argv and any(b"coffer" in arg for arg in argv)


def running(data_dir: Path) -> Recorded | None:
    """The recorded server if it still runs (a record left by a crash is removed)."""
    recorded = read_recorded(data_dir)
    if recorded is None:
        return None
    if _alive(recorded.pid) and _is_coffer_server(recorded.pid):
        return recorded
    with contextlib.suppress(FileNotFoundError):
        pid_file(data_dir).unlink()
    return None


def child_arguments(argv: list[str]) -> list[str]:
    """The ``coffer serve`` arguments of this command, without ``--background``."""
    try:
        start = argv.index("serve") + 1
    except ValueError:
        start = 0
    return [arg for i, arg in enumerate(argv) if i < start or arg != "--background"][start:]


def stop_hint(data_dir: Path) -> str:
    """The command that stops the background server of ``data_dir``, as the user can paste it."""
    program = Path(sys.argv[0])
    beside = Path(sys.executable).parent / "coffer"  # the console script of this environment
    if program.name == "coffer":
        command = str(program.absolute())
    elif beside.is_file():
        command = str(beside)
    else:
        command = f"{sys.executable} -m coffer"
    return f"{command} stop --data-dir {data_dir.resolve()}"


def start(data_dir: Path, serve_args: list[str]) -> str:
    """Start ``coffer serve serve_args`` in the background; the child's banner once it serves.
    ``BackgroundError`` if a server already runs for ``data_dir`` or the child exits before serving."""
    already = running(data_dir)
    if already is not None:
        raise BackgroundError(
            f"a Coffer server (pid {already.pid}) already runs on {data_dir.resolve()} at {already.url}; "
            f"stop it first: {stop_hint(data_dir)}"
        )
    make_private_dir(data_dir)
    log = log_file(data_dir)
    read_end, write_end = os.pipe()
    with open(log, "ab") as out:
        os.chmod(log, PRIVATE_FILE_MODE)
        start_offset = out.tell()
        env = {**os.environ, READY_FD_VARIABLE: str(write_end), "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "coffer", "serve", *serve_args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=(write_end,),
            start_new_session=True,
        )
    os.close(write_end)
    try:
        banner = _wait_ready(read_end, child)
    finally:
        os.close(read_end)
    if banner is None:
        excerpt = _log_tail(log, start_offset)
        raise BackgroundError(
            f"the server exited before it was ready (status {child.poll()}); the end of {log.resolve()}:\n{excerpt}"
        )
    return banner


def _wait_ready(fd: int, child: subprocess.Popen[bytes]) -> str | None:
    """What the child wrote to the pipe before closing it, once it serves; None if it closed it without a word
    (it exited) or did not come up in time (it is then killed)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            child.kill()
            child.wait()
            return None
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not ready:
            if child.poll() is not None:
                return None
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", "replace")
    return text or None


def _log_tail(log: Path, offset: int, lines: int = 20) -> str:
    try:
        with open(log, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip("\n").splitlines()[-lines:]) or "(empty)"


def announce_ready(data_dir: Path, url: str, banner: str) -> None:
    """In the background child, once it serves: record it in the pid file and hand the banner to the parent."""
    raw = os.environ.pop(READY_FD_VARIABLE, None)
    if raw is None:
        return
    atomic_write(pid_file(data_dir), json.dumps({"pid": os.getpid(), "url": url}).encode("utf-8"))
    try:
        fd = int(raw)
        os.write(fd, banner.encode("utf-8"))
        os.close(fd)
    except (ValueError, OSError):
        pass  # the parent is gone: keep serving


def forget(data_dir: Path) -> None:
    """On the way out of a background server: remove its pid file if it still names this process."""
    recorded = read_recorded(data_dir)
    if recorded is not None and recorded.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            pid_file(data_dir).unlink()


def background_child() -> bool:
    """Whether this process is a background server that has not announced itself yet."""
    return READY_FD_VARIABLE in os.environ


def stop(data_dir: Path) -> Recorded:
    """SIGTERM the recorded server and wait until it has exited. ``BackgroundError`` if none runs."""
    recorded = running(data_dir)
    if recorded is None:
        raise BackgroundError(f"no background Coffer server is recorded in {pid_file(data_dir).resolve()}")
    try:
        os.kill(recorded.pid, signal.SIGTERM)
    except ProcessLookupError:
        return recorded
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(recorded.pid):
            break
        time.sleep(0.05)
    else:
        raise BackgroundError(f"the server (pid {recorded.pid}) did not stop within {STOP_TIMEOUT:g} s")
    with contextlib.suppress(FileNotFoundError):
        pid_file(data_dir).unlink()
    return recorded
