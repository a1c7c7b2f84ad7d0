"""A small pre-fork supervisor: ``coffer serve --workers N`` (N > 1) runs N worker processes on the one socket.

The parent binds the socket and bootstraps the data directory first (``coffer.app.server``), closes its database
connections, and only then forks the workers: the parent never runs a thread, an event loop or a database
connection, so a fork copies nothing another process could be using. Each worker builds its own app (engine,
connections, caches, threads) and runs uvicorn on the inherited socket; the kernel hands each new connection to
one of them.

The parent (:meth:`Supervisor.run`):

- learns that a worker serves from a pipe the worker writes its pid to once uvicorn has started (the app's
  lifespan ran and it accepts), and calls ``on_ready`` once every worker does;
- on SIGTERM or SIGINT sends SIGTERM to every worker (uvicorn then stops gracefully: no new connections, requests
  running get up to 15 s) and waits for them, killing any still there after ``stop_timeout``; a second SIGINT is
  passed on as SIGINT (uvicorn's "stop now");
- starts a worker that exits unexpectedly again, after a delay that doubles with each exit that comes soon after
  the last (from ``restart_delay`` to ``max_restart_delay``); a worker that exits before it serves
  ``max_start_failures`` times in a row (or does not serve within ``start_timeout``) makes the supervisor give
  up: it stops the others and returns 1, having said why on stderr.

A worker notices when the parent is gone (killed without a chance to stop them) by the end of a pipe only the
parent holds open (:meth:`WorkerLink.watch_supervisor`), and stops.

Each worker's number (1 to N) stays with its slot: a worker started again in place of one that exited has the
same number. What must run once per server runs in worker 1 (the blob collector).

The workers publish on a :class:`WorkerBoard` (memory the supervisor shares with them before forking) how many
connections each holds, so that one that holds more than the others can leave new connections to them
(``coffer.app.server.OneByOneAcceptor``), and how many cache invalidations each has made, so that a change made
through one worker shows at once in the others (``coffer.core.shared.cache.share_invalidations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import select
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final

START_TIMEOUT: Final = 60.0
"""Seconds a worker has from its fork to serving."""
STOP_TIMEOUT: Final = 18.0
"""Seconds the workers have to stop once told to (uvicorn's graceful shutdown is 15 s; ``coffer stop`` waits
20 s); those still running then are killed."""
RESTART_DELAY: Final = 0.5
"""Seconds before a worker that exited is started again, the first time."""
MAX_RESTART_DELAY: Final = 10.0
STABLE_AFTER: Final = 30.0
"""A worker that served this long before it exited starts again after the first delay, not a longer one."""
MAX_START_FAILURES: Final = 3
"""Exits in a row before serving, in one slot, after which the supervisor gives up."""
STALE_AFTER: Final = 1.0
"""Seconds after which a worker's entry on the worker board no longer counts (its event loop is stuck, or it is
gone)."""


class WorkerBoard:
    """What the workers tell each other, in anonymous shared memory: made by the supervisor before it forks, so
    every worker writes its own entries and reads the others'.

    - each worker's open connections and when it said so (a heuristic: an entry read while it is written may mix
      old and new values, which the next update corrects);
    - how many cache invalidations each worker has made (:meth:`invalidations`; only its worker writes a count,
      and an aligned 8-byte count is written whole)."""

    _ENTRY = struct.Struct("=qd")  # connections, time.monotonic() of the update (one clock for the machine)

    def __init__(self, count: int) -> None:
        self._count = count
        self._counts = struct.Struct(f"={count}q")
        self._counts_at = self._ENTRY.size * count
        # MAP_SHARED | MAP_ANONYMOUS: the same pages in every process forked after this
        self._memory = mmap.mmap(-1, self._counts_at + self._counts.size)

    def publish(self, number: int, connections: int) -> None:
        self._ENTRY.pack_into(self._memory, (number - 1) * self._ENTRY.size, connections, time.monotonic())

    def fewest_elsewhere(self, number: int) -> int | None:
        """The fewest connections another worker holds, of those that spoke within ``STALE_AFTER`` seconds;
        None when none did."""
        now = time.monotonic()
        fewest: int | None = None
        for other in range(1, self._count + 1):
            if other != number:
                connections, at = self._ENTRY.unpack_from(self._memory, (other - 1) * self._ENTRY.size)
                if 0 <= now - at < STALE_AFTER and (fewest is None or connections < fewest):
                    fewest = connections
        return fewest

    def invalidations(self, number: int) -> WorkerInvalidations:
        """Worker ``number``'s view of the invalidation counts (``coffer.core.shared.cache.SharedInvalidations``)."""
        return WorkerInvalidations(self, number)

    def _total_invalidations(self) -> int:
        return sum(self._counts.unpack_from(self._memory, self._counts_at))

    def _invalidations_of(self, number: int) -> int:
        (made,) = struct.unpack_from("=q", self._memory, self._counts_at + (number - 1) * 8)
        return int(made)

    def _count_invalidation(self, number: int) -> int:
        made = self._invalidations_of(number) + 1
        struct.pack_into("=q", self._memory, self._counts_at + (number - 1) * 8, made)
        return made


class WorkerInvalidations:
    """The cache invalidations of a server's workers, as one worker counts them (``share_invalidations``): a
    worker started again in place of another goes on from that one's count."""

    def __init__(self, board: WorkerBoard, number: int) -> None:
        self._board = board
        self._number = number
        self._lock = threading.Lock()
        self._mine = board._invalidations_of(number)

    def elsewhere(self) -> int:
        return self._board._total_invalidations() - self._mine

    def made(self) -> None:
        with self._lock:  # two threads must not both write the old count plus one
            self._mine = self._board._count_invalidation(self._number)


def _log(line: str) -> None:
    """One line on stderr in one write, so that it never mixes with the lines the workers write there."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass
class WorkerLink:
    """What a worker process has of its supervisor: its number, the worker board and the two pipes."""

    number: int
    """1 to ``count``."""
    count: int
    board: WorkerBoard
    _ready_fd: int
    _alive_fd: int

    def ready(self) -> None:
        """Tell the supervisor this worker serves (once)."""
        fd, self._ready_fd = self._ready_fd, -1
        if fd < 0:
            return
        with contextlib.suppress(OSError):  # the supervisor is gone: the watch stops this worker
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        with contextlib.suppress(OSError):
            os.close(fd)

    def watch_supervisor(self, on_gone: Callable[[], None]) -> None:
        """On the running event loop: call ``on_gone`` if the supervisor process ends (its end of the pipe closes
        only when it exits)."""
        loop = asyncio.get_running_loop()
        fd = self._alive_fd

        def readable() -> None:
            loop.remove_reader(fd)
            on_gone()

        loop.add_reader(fd, readable)


@dataclass
class _Slot:
    number: int
    pid: int | None = None
    started_at: float = 0.0
    ready_at: float | None = None
    start_failures: int = 0  # exits in a row before serving
    crashes: int = 0  # exits after serving, each soon after the last
    restart_at: float | None = None
    timed_out: bool = False


@dataclass
class Supervisor:
    """Runs ``count`` workers, each ``target(link)`` in a forked process (its return value, or its
    ``SystemExit`` code, is the process's exit status), until SIGTERM or SIGINT."""

    count: int
    target: Callable[[WorkerLink], int]
    on_ready: Callable[[], None] = lambda: None
    start_timeout: float = START_TIMEOUT
    stop_timeout: float = STOP_TIMEOUT
    max_start_failures: int = MAX_START_FAILURES
    restart_delay: float = RESTART_DELAY
    max_restart_delay: float = MAX_RESTART_DELAY
    log: Callable[[str], None] = _log
    _slots: list[_Slot] = field(default_factory=list)
    _signals: list[int] = field(default_factory=list)
    _stopping: bool = False
    _stop_deadline: float = 0.0
    _status: int = 0
    _announced: bool = False
    _ready_buffer: bytes = b""
    _ready_w: int = -1  # the workers' end of the pipe they say they serve on
    _alive_r: int = -1  # the workers' end of the pipe that closes when the supervisor exits
    _parent_fds: tuple[int, ...] = ()  # what a worker closes
    _board: WorkerBoard | None = None

    def run(self) -> int:
        """Start the workers and supervise them until they have all stopped; 0 after a stop asked by a signal, 1
        when the supervisor gave up (said on stderr)."""
        self._slots = [_Slot(number) for number in range(1, self.count + 1)]
        self._board = WorkerBoard(self.count)
        ready_r, self._ready_w = os.pipe()
        self._alive_r, alive_w = os.pipe()
        wake_r, wake_w = os.pipe()
        for fd in (ready_r, wake_r, wake_w):
            os.set_blocking(fd, False)
        self._parent_fds = (ready_r, alive_w, wake_r, wake_w)
        previous = self._install_signals(wake_w)
        try:
            now = time.monotonic()
            for slot in self._slots:
                self._start(slot, now)
            while self._live() or not self._stopping:
                self._wait(ready_r, wake_r)
                self._handle_signals()
                self._read_ready(ready_r)
                self._reap()
                self._tend()
        finally:
            self._kill_all()
            self._restore_signals(previous)
            for fd in (ready_r, self._ready_w, self._alive_r, alive_w, wake_r, wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        return self._status

    # --- the parent's loop ----------------------------------------------------------------------------------

    def _live(self) -> list[_Slot]:
        return [slot for slot in self._slots if slot.pid is not None]

    def _wait(self, ready_r: int, wake_r: int) -> None:
        now = time.monotonic()
        deadlines = [now + 1.0]
        if self._stopping:
            deadlines.append(self._stop_deadline)
        for slot in self._slots:
            if slot.restart_at is not None:
                deadlines.append(slot.restart_at)
            elif slot.pid is not None and slot.ready_at is None and not slot.timed_out:
                deadlines.append(slot.started_at + self.start_timeout)
        timeout = max(0.0, min(deadlines) - now)
        readable, _, _ = select.select([ready_r, wake_r], [], [], timeout)
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass

    def _handle_signals(self) -> None:
        signals, self._signals = self._signals, []
        for signum in signals:
            if signum == signal.SIGCHLD:
                continue
            if not self._stopping:
                self._begin_stop()
            elif signum == signal.SIGINT:  # a second Ctrl-C: the workers stop now
                self._signal_all(signal.SIGINT)

    def _read_ready(self, ready_r: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(ready_r, 4096):
                self._ready_buffer += chunk
        *lines, self._ready_buffer = self._ready_buffer.split(b"\n")
        now = time.monotonic()
        for line in lines:
            slot = self._slot_of(int(line)) if line.isdigit() else None
            if slot is not None and slot.ready_at is None:
                slot.ready_at = now
                slot.start_failures = 0

    def _slot_of(self, pid: int) -> _Slot | None:
        return next((slot for slot in self._slots if slot.pid == pid), None)

    def _reap(self) -> None:
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self._slot_of(pid)
            if slot is not None:
                slot.pid = None
                if not self._stopping:
                    self._exited(slot, pid, os.waitstatus_to_exitcode(wait_status))

    def _exited(self, slot: _Slot, pid: int, code: int) -> None:
        """A worker exited while the server runs: start it again later, or give up."""
        now = time.monotonic()
        how = _describe_exit(code)
        if slot.timed_out:
            how = f"did not serve within {self.start_timeout:g} s and was killed"
            slot.timed_out = False
        if slot.ready_at is None:
            slot.start_failures += 1
            if slot.start_failures >= self.max_start_failures:
                self.log(
                    f"coffer: worker {slot.number} (pid {pid}) {how} before it served, {slot.start_failures} times "
                    "in a row: giving up, the server stops"
                )
                self._status = 1
                self._begin_stop()
                return
            failures = slot.start_failures
            when = "before it served"
        else:
            if now - slot.ready_at >= STABLE_AFTER:
                slot.crashes = 0
            slot.crashes += 1
            failures = slot.crashes
            when = "while serving"
        delay = min(self.max_restart_delay, self.restart_delay * 2 ** (failures - 1))
        self.log(f"coffer: worker {slot.number} (pid {pid}) {how} {when}; starting it again in {delay:g} s")
        slot.restart_at = now + delay
        slot.ready_at = None

    def _tend(self) -> None:
        now = time.monotonic()
        if self._stopping:
            if now >= self._stop_deadline:
                for slot in self._live():
                    self.log(
                        f"coffer: worker {slot.number} (pid {slot.pid}) did not stop within "
                        f"{self.stop_timeout:g} s: killed"
                    )
                self._kill_all()
            return
        for slot in self._slots:
            if slot.pid is None and slot.restart_at is not None and now >= slot.restart_at:
                self._start(slot, now)
            elif (
                slot.pid is not None
                and slot.ready_at is None
                and not slot.timed_out
                and now >= slot.started_at + self.start_timeout
            ):
                slot.timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGKILL)
        if not self._announced and all(slot.ready_at is not None for slot in self._slots):
            self._announced = True
            self.on_ready()

    def _begin_stop(self) -> None:
        self._stopping = True
        self._stop_deadline = time.monotonic() + self.stop_timeout
        for slot in self._slots:
            slot.restart_at = None
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signum: int) -> None:
        for slot in self._live():
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signum)  # type: ignore[arg-type]

    def _kill_all(self) -> None:
        """Kill every worker still running and reap it (the last resort, and on the way out)."""
        for slot in self._live():
            pid = slot.pid
            assert pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            slot.pid = None

    def _install_signals(self, wake_w: int) -> dict[int, Any]:
        def note(signum: int, frame: FrameType | None) -> None:
            self._signals.append(signum)

        previous: dict[int, Any] = {
            signum: signal.signal(signum, note) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        }
        previous[-1] = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        signal.set_wakeup_fd(previous.pop(-1))
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    # --- a worker -------------------------------------------------------------------------------------------

    def _start(self, slot: _Slot, now: float) -> None:
        slot.restart_at = None
        slot.ready_at = None
        slot.started_at = now
        for stream in (sys.stdout, sys.stderr):  # what waits in a buffer would be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            os._exit(self._child(slot.number))
        slot.pid = pid

    def _child(self, number: int) -> int:
        """In the forked worker: leave the parent's signals and pipes behind, run the target; its exit status."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for fd in self._parent_fds:
                os.close(fd)
            assert self._board is not None
            code = self.target(WorkerLink(number, self.count, self._board, self._ready_w, self._alive_r))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int | None):
                print(exc.code, file=sys.stderr)
        except KeyboardInterrupt:
            code = 0
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
        return code


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"
