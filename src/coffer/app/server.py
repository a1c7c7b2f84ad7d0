"""Run the ASGI app under uvicorn on a socket we bind ourselves (so port 0 works and we can print it), in this
process or in several worker processes (``--workers``, :mod:`coffer.app.workers`)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, Final

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE

from coffer.app import background, workers
from coffer.app.bootstrap import BootstrapError, Bootstrapped, open_data
from coffer.app.factory import create_app
from coffer.app.uvicorn_fence import GuardedHttpToolsProtocol, install_reason_phrases, uvicorn_problems
from coffer.aws.query_model import load_query_service
from coffer.aws.restjson_model import load_service
from coffer.core.shared.cache import share_invalidations
from coffer.http.access_log import AccessLog, AccessLogWriter
from coffer.settings import HttpLimits, Settings
from coffer.store.blobs import FileBlobStore
from coffer.store.engine import create_engine_for
from coffer.store.secrets import SecretCipher
from coffer.store.sql_store import SqlStore


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"coffer: cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


RESERVED_FILES = 128
"""Open files kept beside the connections: the database, blobs being read or written, key files."""


def http_limits(limits: HttpLimits) -> HttpLimits:
    """The HTTP layer's limits (``COFFER_*`` variables, see :mod:`coffer.settings.http_limits`), checked against
    uvicorn and the open-file limit, which is raised to fit ``max_connections`` when the hard limit allows."""
    problems = uvicorn_problems()
    if problems:
        raise SystemExit(f"coffer: {'; '.join(problems)}: coffer/app/uvicorn_fence.py must be updated for this uvicorn")
    return _fit_open_files(limits)


def _fit_open_files(limits: HttpLimits) -> HttpLimits:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = limits.max_connections + RESERVED_FILES
    if soft == resource.RLIM_INFINITY or soft >= need:
        return limits
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target >= need:
        return limits
    cap = max(1, target - RESERVED_FILES)
    print(
        f"coffer: the open-file limit ({target}) leaves room for {cap} connections, not {limits.max_connections}: "
        f"serving at most {cap} (raise `ulimit -n` or set COFFER_MAX_CONNECTIONS)",
        file=sys.stderr,
        flush=True,
    )
    return dataclasses.replace(limits, max_connections=cap)


def run(settings: Settings) -> None:
    """``coffer serve``: bind, bootstrap the data directory, then serve, in this process (``settings.workers``
    1) or in that many worker processes (:mod:`coffer.app.workers`), until SIGTERM or SIGINT."""
    limits = http_limits(settings.http_limits)
    try:
        boot = open_data(settings, create=True)
    except BootstrapError as exc:
        raise SystemExit(f"coffer: {exc}") from exc
    in_background = background.background_child()
    if in_background:
        try:
            background.hold_server_lock(settings.data_dir)  # one background server per data directory
        except background.BackgroundError as exc:
            raise SystemExit(f"coffer: {exc}") from exc
    sock = bind_socket(settings.host, settings.port)
    bound_port = sock.getsockname()[1]
    install_reason_phrases()
    text = banner(settings, boot, bound_port, in_background=in_background)
    base_url = settings.base_url(bound_port)

    def announce() -> None:
        background.announce_ready(settings.data_dir, base_url, text)

    status = 0
    if settings.workers == 1:
        app = create_app(settings, bound_port=bound_port, boot=boot)
        request_log = AccessLogWriter(settings.log_format) if settings.access_log else None
        server = _Server(_uvicorn_config(app, limits, request_log), on_started=announce)
        print(text, flush=True)
    else:
        # the workers open the database themselves: nothing of this process's may be used on both sides of a fork
        boot.store.close()
        _warm_up()
        print(text, flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: make that a clean exit.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        if settings.workers == 1:
            server.run(sockets=[sock])
        else:
            supervisor = workers.Supervisor(
                settings.workers,
                functools.partial(_worker, settings, limits, boot, sock, bound_port),
                on_ready=announce,
            )
            status = supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        if in_background:
            background.forget(settings.data_dir)
        print("Coffer stopped.", file=sys.stderr, flush=True)
    if status:
        raise SystemExit(status)


def _uvicorn_config(app: ASGIApp, limits: HttpLimits, request_log: AccessLogWriter | None) -> uvicorn.Config:
    return uvicorn.Config(
        AccessLog(app, request_log) if request_log is not None else app,
        # uvicorn's httptools protocol with Coffer's limits on head size, slow clients and connections; it logs
        # the requests it refuses before the app sees them
        http=GuardedHttpToolsProtocol.with_limits(limits, access_log=request_log),
        timeout_keep_alive=math.ceil(limits.keep_alive_timeout),  # the protocol uses the exact value
        log_level="warning",
        access_log=False,  # uvicorn's would show tokens in URLs; Coffer's (coffer.http.access_log) takes them out
        lifespan="on",
        server_header=False,
        # the client address is the connection's peer: X-Forwarded-For from anyone on the (default) loopback
        # address would otherwise replace it in the log
        proxy_headers=False,
        # a long download must not hold up a stop (`coffer stop` waits 20 s): requests still running 15 s after
        # the signal are cancelled
        timeout_graceful_shutdown=15,
    )


def _warm_up() -> None:
    """Before the workers are forked: fill the pure, process-wide caches every worker's app would fill the same
    way (the AWS models' compiled patterns), so that each worker starts in a fraction of the time."""
    load_service("codeartifact")
    for service in ("sts", "iam"):
        load_query_service(service)


def _worker(
    settings: Settings,
    limits: HttpLimits,
    boot: Bootstrapped,
    sock: socket.socket,
    bound_port: int,
    link: workers.WorkerLink,
) -> int:
    """One worker process: the app on a store of its own (the data directory was bootstrapped by the supervisor),
    the blob collector in worker 1 only, uvicorn on the inherited socket. Its exit status."""
    background.leave_launcher()
    # a change made through another worker empties this one's caches at once (the TTL is for changes made elsewhere)
    share_invalidations(link.board.invalidations(link.number))
    own = dataclasses.replace(
        boot,
        store=SqlStore(
            create_engine_for(settings.database_url), SecretCipher.from_directory(boot.data.encryption_keys)
        ),
        blobs=FileBlobStore(boot.data.blobs),
    )
    app = create_app(settings, bound_port=bound_port, boot=own, worker=link.number, collect_blobs=link.number == 1)
    request_log = AccessLogWriter(settings.log_format) if settings.access_log else None
    server = _Server(_uvicorn_config(app, limits, request_log), on_started=link.ready, link=link)
    server.on_starting = lambda: link.watch_supervisor(server.request_exit)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        if request_log is not None:
            request_log.flush()
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, telling ``on_started`` once it accepts connections (a background server's parent, or the
    workers' supervisor, waits for that); ``on_starting`` is called on the event loop before the app starts.

    ``link`` (a worker of several): the socket is served by :class:`OneByOneAcceptor` instead of the event loop's
    own server, and the worker's connections are published on the worker board (at each accept and every tick)."""

    def __init__(
        self, config: uvicorn.Config, on_started: Callable[[], None], *, link: workers.WorkerLink | None = None
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._link = link
        self.on_starting: Callable[[], None] = lambda: None

    def request_exit(self) -> None:
        """Stop gracefully, as on SIGTERM."""
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.on_starting()
        if self._link is not None and sockets is not None:
            await self._startup_one_by_one(sockets)
        else:
            await super().startup(sockets)
        if self.started:
            self._on_started()

    async def _startup_one_by_one(self, sockets: list[socket.socket]) -> None:
        """uvicorn's ``startup`` for sockets given (the lifespan first, a failure exits with its status), each
        socket served by an :class:`OneByOneAcceptor` (uvicorn's shutdown closes and waits for them as it does
        for its servers)."""
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config, loop = self.config, asyncio.get_running_loop()

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )

        self.servers = [
            OneByOneAcceptor(loop, sock, create_protocol, self._may_accept)  # type: ignore[misc]
            for sock in sockets
        ]
        self.started = True

    def _may_accept(self) -> bool:
        """Whether this worker takes a waiting connection now: not while it holds ``ACCEPT_SLACK`` more than
        another worker that is alive (that one will take it)."""
        assert self._link is not None
        mine = len(self.server_state.connections)
        self._link.board.publish(self._link.number, mine)
        fewest = self._link.board.fewest_elsewhere(self._link.number)
        return fewest is None or mine <= fewest + ACCEPT_SLACK

    async def on_tick(self, counter: int) -> bool:
        if self._link is not None:  # every 0.1 s: closed connections are seen, and this worker is alive
            self._link.board.publish(self._link.number, len(self.server_state.connections))
        return await super().on_tick(counter)


ACCEPT_PAUSE: Final = 0.1
"""Seconds an acceptor stops accepting after the system refused it a connection (out of file descriptors)."""
ACCEPT_SLACK: Final = 2
"""Connections a worker may hold beyond the least loaded other worker and still accept more."""
ACCEPT_DEFER: Final = 0.002
"""Seconds a worker that holds more than its share leaves waiting connections to the others, before it looks
again."""


class OneByOneAcceptor:
    """Serves a listening socket shared by worker processes, accepting one connection per turn of the event loop.

    The event loop's own server accepts every connection waiting when the socket becomes readable: the worker
    that wakes first takes a whole burst (32 keep-alive connections opened at once all went to one worker of two,
    some of the time), and keeps them for their life. One at a time, the workers take turns, and a busier worker,
    whose loop turns slower, takes fewer. A worker whose loop did not turn during a burst (it was not scheduled)
    would still miss it: ``may_accept`` (the worker board) makes one that holds more than its share leave waiting
    connections to the others for ``ACCEPT_DEFER`` seconds at a time. Each accepted connection is handed to the
    loop as an accepted socket (``connect_accepted_socket``), with the protocol uvicorn would have given it."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        may_accept: Callable[[], bool] = lambda: True,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._may_accept = may_accept
        self._fd = sock.fileno()
        self._closed = False
        self._handing: set[asyncio.Task[Any]] = set()
        sock.setblocking(False)
        loop.add_reader(self._fd, self._accept)

    def _accept(self) -> None:
        if not self._may_accept():
            self._loop.remove_reader(self._fd)
            self._loop.call_later(ACCEPT_DEFER, self._resume)
            return
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it, or the client gave up while it waited
        except OSError as exc:  # out of file descriptors, most likely: pause rather than spin
            print(f"coffer: cannot accept a connection: {exc.strerror or exc}", file=sys.stderr, flush=True)
            self._loop.remove_reader(self._fd)
            self._loop.call_later(ACCEPT_PAUSE, self._resume)
            return
        task = self._loop.create_task(self._loop.connect_accepted_socket(self._factory, conn))
        self._handing.add(task)
        task.add_done_callback(self._handed)

    def _handed(self, task: asyncio.Task[Any]) -> None:
        self._handing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            print(f"coffer: a connection could not be opened: {task.exception()}", file=sys.stderr, flush=True)

    def _resume(self) -> None:
        if not self._closed:
            self._loop.add_reader(self._fd, self._accept)

    def close(self) -> None:
        """Accept no more connections (the socket itself stays open: its owner closes it)."""
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._fd)

    async def wait_closed(self) -> None:
        if self._handing:
            await asyncio.gather(*self._handing, return_exceptions=True)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def banner(settings: Settings, boot: Bootstrapped, bound_port: int, *, in_background: bool = False) -> str:
    base = settings.base_url(bound_port)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    creds = boot.data.credentials.resolve()
    return "\n".join(
        [
            f"Coffer listening on http://{host}:{bound_port} (clients use {base})",
            f"  account {boot.account_id}, region {settings.region}, data in {boot.data.root.resolve()}",
            *([f"  {settings.workers} worker processes (--workers)"] if settings.workers > 1 else []),
            f"  credentials of IAM user admin: {creds} (profile default)",
            "  try:",
            f"    export AWS_SHARED_CREDENTIALS_FILE={creds} AWS_DEFAULT_REGION={settings.region}",
            f"    aws --endpoint-url {base} codeartifact create-domain --domain acme",
            f"  running in the background (pid {os.getpid()}), log {background.log_file(boot.data.root).resolve()}"
            if in_background
            else "  Ctrl-C stops the server.",
            *([f"  stop it: {background.stop_hint(boot.data.root)}"] if in_background else []),
        ]
    )
