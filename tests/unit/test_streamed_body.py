"""StreamedBody: a request body read block by block from a worker thread, limited as it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from anyio import to_thread

from coffer.aws.streamed_body import BLOCK, StreamedBody, check_declared_length
from coffer.core.shared.errors import RequestTooLargeError, ValidationError


class Client:
    """An ASGI ``receive`` playing back ``messages``, counting what the server took."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._messages: Iterator[dict[str, Any]] = iter(messages)
        self.taken = 0

    async def receive(self) -> dict[str, Any]:
        self.taken += 1
        return next(self._messages)


def body(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]


def read(stream: StreamedBody, blocks: list[bytes]) -> None:
    for block in stream:
        blocks.append(block)


def run(stream: StreamedBody) -> list[bytes]:
    blocks: list[bytes] = []

    async def main() -> None:
        await to_thread.run_sync(read, stream, blocks)

    anyio.run(main)
    return blocks


def test_blocks_gather_chunks_and_the_end_is_reported() -> None:
    ended: list[bool] = []
    chunks = [b"a" * 300_000] * 8 + [b"", b"tail"]
    client = Client(body(chunks))
    stream = StreamedBody(client.receive, 10 * BLOCK, lambda: ended.append(True))
    assert not stream.complete
    blocks = run(stream)
    assert b"".join(blocks) == b"".join(chunks)
    assert all(len(b) <= BLOCK + 300_000 for b in blocks) and len(blocks) < len(chunks)
    assert stream.complete and ended == [True] and stream.received == 2_400_004
    assert client.taken == len(chunks)  # nothing asked past the end


def test_an_empty_body() -> None:
    stream = StreamedBody(Client(body([b""])).receive, 10)
    assert run(stream) == [] and stream.complete


def test_the_limit_holds_as_bytes_arrive() -> None:
    client = Client(body([b"x" * 1000] * 100))
    stream = StreamedBody(client.receive, 4500)
    with pytest.raises(RequestTooLargeError) as err:
        run(stream)
    assert "4500" in err.value.message
    assert client.taken == 5 and not stream.complete  # stopped at the chunk that passed the limit


def test_a_client_gone_mid_body() -> None:
    client = Client([{"type": "http.request", "body": b"abc", "more_body": True}, {"type": "http.disconnect"}])
    stream = StreamedBody(client.receive, 100)
    with pytest.raises(ValidationError) as err:
        run(stream)
    assert "disconnected" in err.value.message and not stream.complete


@pytest.mark.parametrize(("header", "refused"), [(b"10", False), (b"11", True), (b"-1", True), (b"ten", True)])
def test_declared_lengths(header: bytes, refused: bool) -> None:
    scope = {"headers": [(b"host", b"x"), (b"content-length", header)]}
    if refused:
        with pytest.raises(RequestTooLargeError):
            check_declared_length(scope, 10)
    else:
        check_declared_length(scope, 10)
    check_declared_length({"headers": [(b"transfer-encoding", b"chunked")]}, 10)  # limited as it streams
