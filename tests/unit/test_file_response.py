"""``coffer.formats.file_response``: the Range header as RFC 9110 reads it, and the response under an ASGI server
that offers no file extension (chunks read on the loop, a thread only for pages not in memory, a client that
leaves stops the reading); ``send_blob`` with a blob gone before it is opened, and one removed once it is open."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import anyio.to_thread
import pytest
from starlette.requests import Request

from coffer.core.packages.package_service import PackageService
from coffer.formats import file_response
from coffer.formats.blob_responses import send_blob
from coffer.formats.file_response import CHUNK, ZERO_COPY, OpenFileResponse, parse_ranges
from coffer.formats.page_cache import in_memory

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", [(0, 1)]),
        ("bytes=0-999", [(0, 1000)]),
        ("bytes=10-", [(10, 1000)]),
        ("bytes=-10", [(990, 1000)]),
        ("bytes=-5000", [(0, 1000)]),
        ("bytes=990-5000", [(990, 1000)]),
        ("BYTES = 1-2", [(1, 3)]),
        ("bytes=1-2, ,3-4", [(1, 5)]),  # touching ranges are merged; empty elements are allowed
        ("bytes=500-599,0-9,5-14", [(0, 15), (500, 600)]),
        ("bytes=0-9,1000-,-0", [(0, 10)]),  # the unsatisfiable ones are left out
        ("bytes=1000-", []),
        ("bytes=-0", []),
        ("bytes=1000-1000,2000-", []),
        ("items=0-1", None),
        ("bytes", None),
        ("bytes=", None),
        ("bytes=5-4", None),
        ("bytes=-", None),
        ("bytes=1-2-3", None),
        ("bytes=+1-2", None),
        ("bytes=0x1-2", None),
        ("bytes=1 -2", None),
        ("bytes=" + ",".join(f"{i}-{i}" for i in range(101)), None),
    ],
)
def test_parse_ranges(header: str, expected: list[tuple[int, int]] | None) -> None:
    assert parse_ranges(header, SIZE) == expected


def test_an_empty_file_has_no_satisfiable_range() -> None:
    assert parse_ranges("bytes=0-", 0) == []
    assert parse_ranges("bytes=-1", 0) == []


# --- the response under a server without the extension -----------------------------------------------------------


def scope(method: str = "GET", extensions: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": "/f",
        "headers": [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        **({"extensions": extensions} if extensions is not None else {}),
    }


def respond(
    path: Path, request: dict[str, Any], receive: Callable[[], Any] | None = None, stop_after: int = 0
) -> tuple[list[dict[str, Any]], bool]:
    """(the messages sent, whether the file was closed) of an OpenFileResponse of ``path``; ``stop_after``: the
    client leaves after that many body messages (receive then says http.disconnect)."""
    file = open(path, "rb", buffering=0)  # noqa: SIM115 - the response closes it
    sent: list[dict[str, Any]] = []
    left = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if stop_after and sum(m["type"] == "http.response.body" for m in sent) >= stop_after:
            left.set()
        await asyncio.sleep(0)

    async def wait_for_disconnect() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def main() -> None:
        stat = os.fstat(file.fileno())
        response = OpenFileResponse(file, stat.st_size, etag='"e"', mtime=stat.st_mtime, headers={"X-A": "1"})
        await response(request, cast(Any, receive or wait_for_disconnect), cast(Any, send))

    asyncio.run(main())
    return sent, file.closed


def body_of(messages: list[dict[str, Any]]) -> bytes:
    assert messages[-1].get("more_body", False) is False
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


def headers_of(messages: list[dict[str, Any]]) -> dict[str, str]:
    assert messages[0]["type"] == "http.response.start"
    return {k.decode(): v.decode() for k, v in messages[0]["headers"]}


@pytest.fixture()
def big(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(3 * CHUNK + 123)
    path = tmp_path / "big"
    path.write_bytes(data)
    return path, data


def test_the_whole_file_in_chunks_read_on_the_loop(big: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    path, data = big
    hops: list[object] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(file_response.anyio.to_thread, "run_sync", counted)
    messages, closed = respond(path, scope())
    assert messages[0]["status"] == 200
    headers = headers_of(messages)
    assert (headers["content-length"], headers["etag"], headers["accept-ranges"]) == (str(len(data)), '"e"', "bytes")
    assert headers["x-a"] == "1"
    assert body_of(messages) == data
    assert max(len(m.get("body", b"")) for m in messages[1:]) == CHUNK
    assert closed
    fd = os.open(path, os.O_RDONLY)
    try:
        if not in_memory(fd, 0, len(data)):
            pytest.skip("the file's pages are not in memory right after writing it")
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        cold = not in_memory(fd, 0, len(data))
    finally:
        os.close(fd)
    assert hops == []  # in memory: no worker thread
    messages, _ = respond(path, scope())
    assert body_of(messages) == data
    if cold:
        assert hops  # read from the disk in a worker thread


def test_ranges_without_the_extension(big: tuple[Path, bytes]) -> None:
    path, data = big
    messages, _ = respond(path, scope(range="bytes=10-19"))
    assert (messages[0]["status"], body_of(messages)) == (206, data[10:20])
    assert headers_of(messages)["content-range"] == f"bytes 10-19/{len(data)}"
    messages, _ = respond(path, scope(range="bytes=0-0,-2"))
    headers = headers_of(messages)
    boundary = headers["content-type"].removeprefix("multipart/byteranges; boundary=")
    body = body_of(messages)
    assert int(headers["content-length"]) == len(body)
    size = len(data)
    assert body == (
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-0/{size}\r\n\r\n".encode()
        + data[:1]
        + f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {size - 2}-{size - 1}/"
        f"{size}\r\n\r\n".encode()
        + data[-2:]
        + f"\r\n--{boundary}--\r\n".encode()
    )
    messages, closed = respond(path, scope("HEAD", range="bytes=0-9"))
    assert (messages[0]["status"], body_of(messages), headers_of(messages)["content-length"]) == (206, b"", "10")
    assert closed
    messages, _ = respond(path, scope(range=f"bytes={size}-"))
    assert messages[0]["status"] == 416
    assert headers_of(messages) == {
        "content-range": f"bytes */{size}",
        "content-type": "text/plain; charset=utf-8",
        "content-length": str(len(body_of(messages))),
    }
    messages, _ = respond(path, scope(range="bytes=0-9", if_range='"other"'))
    assert (messages[0]["status"], body_of(messages)) == (200, data)
    messages, _ = respond(path, scope(range="bytes=0-9", if_range='"e"'))
    assert messages[0]["status"] == 206


def test_a_client_that_leaves_stops_the_reading(big: tuple[Path, bytes]) -> None:
    path, data = big
    messages, closed = respond(path, scope(), stop_after=1)
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert len(bodies) < 3 and sum(len(m["body"]) for m in bodies) < len(data)
    assert closed

    async def raising_receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        raise AssertionError

    class Gone(OSError):
        pass

    file = open(path, "rb", buffering=0)  # noqa: SIM115 - the response closes it
    calls = []

    async def send(message: dict[str, Any]) -> None:  # ASGI 2.4: send raises once the client is gone
        calls.append(message)
        if len(calls) > 1:
            raise Gone

    response = OpenFileResponse(file, len(data), etag='"e"', mtime=0.0)
    asyncio.run(response(scope(), cast(Any, raising_receive), cast(Any, send)))
    assert len(calls) == 2 and file.closed


def test_the_extension_gets_one_message_per_range(big: tuple[Path, bytes]) -> None:
    path, data = big
    messages, closed = respond(path, scope(extensions={ZERO_COPY: {}}, range="bytes=0-9,100-199"))
    kinds = [(m["type"], m.get("offset"), m.get("count"), m.get("more_body", False)) for m in messages[1:]]
    assert kinds == [
        ("http.response.body", None, None, True),
        (ZERO_COPY, 0, 10, True),
        ("http.response.body", None, None, True),
        (ZERO_COPY, 100, 100, True),
        ("http.response.body", None, None, False),
    ]
    assert closed
    messages, _ = respond(path, scope(extensions={ZERO_COPY: {}}))
    assert [(m["type"], m.get("offset"), m.get("count"), m.get("more_body")) for m in messages[1:]] == [
        (ZERO_COPY, 0, len(data), False)
    ]


# --- send_blob -------------------------------------------------------------------------------------------------


class Blobs:
    def __init__(self, path: str | None) -> None:
        self.path = path

    def open_blob(self, sha256: str) -> tuple[str | None, int]:
        return self.path, 0


def request(**headers: str) -> Request:
    return Request(scope(**headers))


def test_a_blob_gone_before_it_is_opened_is_a_503(tmp_path: Path) -> None:
    for path in (None, str(tmp_path / "removed")):
        response = send_blob(cast(PackageService, Blobs(path)), request(), "ab" * 32, "f.whl")
        assert response.status_code == 503


def test_a_blob_removed_once_open_is_sent_whole(big: tuple[Path, bytes]) -> None:
    path, data = big
    response = send_blob(cast(PackageService, Blobs(str(path))), request(), "ab" * 32, "f.whl")
    path.unlink()  # the store's sweep, say
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        raise AssertionError

    asyncio.run(cast(Any, response)(scope(), receive, send))
    assert body_of(sent) == data
    assert headers_of(sent)["etag"] == '"' + "ab" * 32 + '"'
    not_modified = send_blob(
        cast(PackageService, Blobs(None)), request(if_none_match='"x", "' + "ab" * 32 + '"'), "ab" * 32, "f.whl"
    )
    assert not_modified.status_code == 304
