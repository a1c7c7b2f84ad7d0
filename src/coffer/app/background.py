"""``coffer serve --background`` and ``coffer stop``: a server that runs on after the command returns.

``serve --background`` starts ``coffer serve`` again as a child in its own session (so neither Ctrl-C in the
terminal nor closing it stops the server), with its output appended to ``<data-dir>/coffer.log``, and waits until
the child says it is serving: the child writes its banner to a pipe whose descriptor it finds in
``COFFER_READY_FD`` once uvicorn listens (``coffer.app.server``; with several workers, the supervisor once every
worker does, the workers closing their copies), then records itself in ``<data-dir>/coffer.pid``. The parent
prints the banner and returns 0, or, when the child exits first, prints the end of the log and returns 1.
``coffer stop`` sends SIGTERM to the recorded server (the supervisor, with several workers) and waits for it to
exit.

A background server holds an exclusive ``flock`` on ``<data-dir>/coffer.lock`` for its whole life (taken before it
binds its socket; its workers inherit it, so it is free only once they have exited too), so a second background
server on the same data directory stops at once, and a pid file is believed only while its lock is held: the pid
of a server that crashed may belong to another program by now, and ``coffer stop`` never signals it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coffer.atomic_files import PRIVATE_FILE_MODE, atomic_write, make_private_dir

READY_FD_VARIABLE = "COFFER_READY_FD"
PID_FILE = "coffer.pid"
LOCK_FILE = "coffer.lock"
LOG_FILE = "coffer.log"
START_TIMEOUT = 120.0
"""Seconds a background server has to come up (a first start migrates a database, a PostgreSQL one may be slow)."""
STOP_TIMEOUT = 20.0


class BackgroundError(RuntimeError):
    """The background server could not be started or stopped; the message is one line, ``excerpt`` the end of
    the server's log when there is one to show."""

    def __init__(self, message: str, excerpt: str = "") -> None:
        super().__init__(message)
        self.excerpt = excerpt


@dataclass(frozen=True)
class Recorded:
    """The server ``<data-dir>/coffer.pid`` names."""

    pid: int
    url: str


def pid_file(data_dir: Path) -> Path:
    return data_dir / PID_FILE


def log_file(data_dir: Path) -> Path:
    return data_dir / LOG_FILE


def lock_file(data_dir: Path) -> Path:
    return data_dir / LOCK_FILE


def read_recorded(data_dir: Path) -> Recorded | None:
    """The server ``<data-dir>/coffer.pid`` names, if the file is there and readable."""
    try:
        raw = json.loads(pid_file(data_dir).read_text("utf-8"))
        recorded = Recorded(pid=int(raw["pid"]), url=str(raw["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded if recorded.pid > 1 else None


_held_lock: int | None = None
"""The descriptor of this process's server lock (kept open, hence held, until the process ends)."""


def hold_server_lock(data_dir: Path) -> None:
    """In a background server, before it binds: take the data directory's server lock for the process's life.
    ``BackgroundError`` if another background server holds it."""
    global _held_lock
    fd = os.open(lock_file(data_dir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BackgroundError(f"another background Coffer server already runs on {data_dir.resolve()}") from None
    _held_lock = fd


def _lock_held(data_dir: Path) -> bool:
    """Whether a background server holds the data directory's server lock (it is alive, or still starting)."""
    try:
        fd = os.open(lock_file(data_dir), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def running(data_dir: Path) -> Recorded | None:
    """The recorded server if it still runs (a record its server did not remove, after a crash, is removed)."""
    if not _lock_held(data_dir):
        with contextlib.suppress(FileNotFoundError):
            pid_file(data_dir).unlink()
        return None
    return read_recorded(data_dir)


def stop_hint(data_dir: Path) -> str:
    """The command that stops the background server of ``data_dir``, as the user can paste it."""
    program = Path(sys.argv[0])
    beside = Path(sys.executable).parent / "coffer"  # the console script of this environment
    if program.name == "coffer":
        command = shlex.quote(str(program.absolute()))
    elif beside.is_file():
        command = shlex.quote(str(beside))
    else:
        command = f"{shlex.quote(sys.executable)} -m coffer"
    return f"{command} stop --data-dir {shlex.quote(str(data_dir.resolve()))}"


def start(data_dir: Path, settings_env: dict[str, str]) -> str:
    """Start ``coffer serve`` in the background with ``settings_env`` (its ``COFFER_*`` settings) added to this
    environment; the child's banner once it serves. ``BackgroundError`` if a background server already runs on
    ``data_dir`` or the child exits before serving."""
    already = running(data_dir)
    if already is not None or _lock_held(data_dir):
        where = (
            f" (pid {already.pid}) already runs on {data_dir.resolve()} at {already.url}"
            if already
            else (f" is starting on {data_dir.resolve()}")
        )
        raise BackgroundError(f"a Coffer server{where}; stop it first: {stop_hint(data_dir)}")
    make_private_dir(data_dir)
    log = log_file(data_dir)
    read_end, write_end = os.pipe()
    with open(log, "ab") as out:
        os.chmod(log, PRIVATE_FILE_MODE)
        start_offset = out.tell()
        env = {**os.environ, **settings_env, READY_FD_VARIABLE: str(write_end), "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "coffer", "serve"],
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
        raise BackgroundError(
            f"the server exited before it was ready (status {_exit_status(child)}); the end of {log.resolve()}:",
            excerpt=_log_tail(log, start_offset),
        )
    return banner


def _exit_status(child: subprocess.Popen[bytes]) -> int:
    """The status of a child that closed the pipe without a word: it is exiting, but closing its descriptors
    comes before the exit is reaped, so wait for it (and end it if it lingers)."""
    try:
        return child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


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


def leave_launcher() -> None:
    """In a worker process a background server forked before it announced itself: close the worker's copy of the
    pipe to ``serve --background`` (which reads it until every copy is closed) and forget it."""
    raw = os.environ.pop(READY_FD_VARIABLE, None)
    if raw is not None:
        with contextlib.suppress(ValueError, OSError):
            os.close(int(raw))


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
    """SIGTERM the recorded server and wait until it has exited (its lock is free). ``BackgroundError`` if none
    runs."""
    recorded = running(data_dir)
    if recorded is None:
        if _lock_held(data_dir):
            raise BackgroundError(f"the Coffer server on {data_dir.resolve()} is still starting; try again")
        raise BackgroundError(f"no background Coffer server is recorded in {pid_file(data_dir).resolve()}")
    try:
        os.kill(recorded.pid, signal.SIGTERM)
    except ProcessLookupError:
        return recorded
    except PermissionError as exc:
        raise BackgroundError(f"cannot stop the server (pid {recorded.pid}): {exc.strerror}") from exc
    deadline = time.monotonic() + STOP_TIMEOUT
    while _lock_held(data_dir):
        if time.monotonic() > deadline:
            raise BackgroundError(f"the server (pid {recorded.pid}) did not stop within {STOP_TIMEOUT:g} s")
        time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        pid_file(data_dir).unlink()
    return recorded
