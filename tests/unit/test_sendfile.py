"""``coffer.http.sendfile`` on real sockets, under uvloop (what the server runs) and asyncio's own loop: bytes in
order after what the transport still holds, a slow reader served without stalling the loop, a lost connection
stopping the send, a file shorter than promised; and the page-cache probe it relies on."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import uvloop
from uvicorn.protocols.http.flow_control import FlowControl

from coffer.formats.page_cache import in_memory, read_into_cache
from coffer.http import sendfile as sendfile_module
from coffer.http.sendfile import PIECE, FileShorterThanExpected, SocketFileSender

MB = 1024 * 1024
LOOPS = {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
NOT_EVICTED = (
    "the file's pages still read as cached after POSIX_FADV_DONTNEED: the kernel kept them (another reader, or its "
    "readahead), or this file system cannot tell (no RWF_NOWAIT)"
)


@pytest.fixture(params=sorted(LOOPS))
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    new_loop: Callable[[], asyncio.AbstractEventLoop] = LOOPS[request.param]
    loop = new_loop()
    yield loop
    loop.close()


@pytest.fixture()
def blob(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(8 * MB)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return path, data


class Server(asyncio.Protocol):
    """The server side of one connection: its transport and uvicorn's flow control, as the HTTP protocol has."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.flow: FlowControl | None = None
        self.made = asyncio.Event()
        self.sender: SocketFileSender | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.flow = FlowControl(self.transport)
        self.made.set()

    def connection_lost(self, exc: Exception | None) -> None:
        assert self.flow is not None
        self.flow.resume_writing()
        if self.sender is not None:
            self.sender.wake()

    def pause_writing(self) -> None:
        assert self.flow is not None
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        assert self.flow is not None
        self.flow.resume_writing()


def connected(
    loop: asyncio.AbstractEventLoop, rcvbuf: int = 8192
) -> tuple[Server, socket.socket, Callable[[Awaitable[Any]], Any]]:
    """(the server side, the client's blocking socket, run): one loopback connection on ``loop``, with small socket
    buffers on both sides, so that the server's fills at once."""
    protocol = Server()
    listener = socket.create_server(("127.0.0.1", 0))
    server = loop.run_until_complete(loop.create_server(lambda: protocol, sock=listener))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    client.settimeout(30)
    client.connect(listener.getsockname())
    loop.run_until_complete(protocol.made.wait())
    server.close()
    assert protocol.transport is not None and protocol.flow is not None
    protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    protocol.sender = SocketFileSender(protocol.transport, protocol.flow.drain)
    return protocol, client, loop.run_until_complete


def read_all(sock: socket.socket, size: int, delay: float = 0.0, into: bytearray | None = None) -> bytes:
    data = into if into is not None else bytearray()
    while len(data) < size:
        chunk = sock.recv(min(65536, size - len(data)))
        if not chunk:
            break
        data += chunk
        if delay:
            time.sleep(delay)
    return bytes(data)


def test_the_file_follows_what_the_transport_holds(loop: asyncio.AbstractEventLoop, blob: tuple[Path, bytes]) -> None:
    path, data = blob
    server, client, run = connected(loop)
    assert server.transport is not None and server.sender is not None
    limits = server.transport.get_write_buffer_limits()
    before = os.urandom(2 * MB)  # more than the socket takes while nobody reads: the transport buffers the rest
    server.transport.write(before)
    assert server.transport.get_write_buffer_size() > 0
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(client, len(before) + len(data), 0.0, received))
    with open(path, "rb") as f:
        reader.start()
        sent = run(server.sender.send(f.fileno(), 0, len(data)))
    reader.join(30)
    assert sent == len(data)
    assert bytes(received) == before + data
    assert server.transport.get_write_buffer_limits() == limits  # restored after the flush
    server.transport.write(b"after")  # and the transport writes on after the file
    assert read_all(client, 5) == b"after"
    client.close()


def test_a_slow_reader_gets_a_range_and_the_loop_keeps_running(
    loop: asyncio.AbstractEventLoop, blob: tuple[Path, bytes]
) -> None:
    path, data = blob
    server, client, run = connected(loop)
    assert server.sender is not None
    sender = server.sender
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(client, 5 * MB, 0.001, received))
    gaps: list[float] = []

    async def main() -> int:
        async def tick() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.ensure_future(tick())
        with open(path, "rb") as f:
            sent = await sender.send(f.fileno(), 3 * MB, 5 * MB)
        ticker.cancel()
        return sent

    reader.start()
    assert run(main()) == 5 * MB
    reader.join(30)
    assert bytes(received) == data[3 * MB : 8 * MB]
    assert len(gaps) > 10 and max(gaps) < 0.25
    client.close()


def test_a_lost_connection_stops_the_send(loop: asyncio.AbstractEventLoop, blob: tuple[Path, bytes]) -> None:
    path, data = blob
    for how in ("wake", "reset"):
        server, client, run = connected(loop)
        assert server.sender is not None and server.transport is not None
        sender, transport = server.sender, server.transport

        async def main(how: str = how, client: socket.socket = client) -> int:
            with open(path, "rb") as f:
                task = asyncio.ensure_future(sender.send(f.fileno(), 0, len(data)))
                await asyncio.sleep(0.2)  # stalled: nobody reads
                assert not task.done()
                if how == "wake":
                    sender.wake()  # what the protocol does on connection_lost
                else:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    client.close()
                return await asyncio.wait_for(task, 5)

        sent = run(main())
        assert 0 < sent < len(data), how
        assert sender.lost
        transport.close()
        client.close()


def test_a_file_shorter_than_promised_raises(loop: asyncio.AbstractEventLoop, blob: tuple[Path, bytes]) -> None:
    path, data = blob
    server, client, run = connected(loop, rcvbuf=4 * MB)
    assert server.sender is not None
    with open(path, "rb") as f, pytest.raises(FileShorterThanExpected):
        run(server.sender.send(f.fileno(), len(data) - 100, 200))
    assert read_all(client, 100) == data[-100:]  # what there was went out; the caller must close the connection
    client.close()


def test_the_page_cache_probe(tmp_path: Path) -> None:
    path = tmp_path / "cold"
    path.write_bytes(os.urandom(4 * MB))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if in_memory(fd, 0, 4 * MB):
            pytest.skip(NOT_EVICTED)
        read_into_cache(os.dup(fd), 0, 4 * MB, close=True)
        assert in_memory(fd, 0, 4 * MB)
        assert in_memory(fd, 0, 0) and in_memory(fd, 17, 1)
    finally:
        os.close(fd)


def test_pages_not_in_memory_are_read_in_a_thread_first(
    loop: asyncio.AbstractEventLoop, blob: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = blob
    reads: list[tuple[int, int]] = []
    probes: list[tuple[int, int, bool]] = []

    def counted(fd: int, offset: int, size: int, *, close: bool = False) -> None:
        reads.append((offset, size))
        read_into_cache(fd, offset, size, close=close)

    def probed(fd: int, offset: int, size: int) -> bool:
        # the kernel's answer, except for the first piece, which is always said to be absent: the kernel may have
        # read the file back meanwhile (its readahead, on a loaded machine), so the path is taken at least once
        answer = bool(probes) and in_memory(fd, offset, size)
        probes.append((offset, size, answer))
        return answer

    monkeypatch.setattr(sendfile_module, "read_into_cache", counted)
    monkeypatch.setattr(sendfile_module, "in_memory", probed)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # most pieces are then really not in memory
        server, client, run = connected(loop, rcvbuf=4 * MB)
        assert server.sender is not None
        received = bytearray()
        reader = threading.Thread(target=read_all, args=(client, len(data), 0.0, received))
        reader.start()
        assert run(server.sender.send(fd, 0, len(data))) == len(data)
        reader.join(30)
        assert bytes(received) == data
        # what each system call is to send next (at most a piece, from where the last one ended; again after the
        # socket was full) is probed, in order; what is not in memory, and only that, is read into the cache first
        offsets = [offset for offset, _, _ in probes]
        assert offsets[0] == 0 and offsets == sorted(offsets)
        assert all(0 < size <= PIECE and offset + size <= len(data) for offset, size, _ in probes)
        assert reads == [(offset, size) for offset, size, cached in probes if not cached]
        assert reads[0] == (0, PIECE)
        client.close()
    finally:
        os.close(fd)
