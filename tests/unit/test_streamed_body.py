"""StreamedBody: a request body read block by block from a worker thread, limited as it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from anyio import to_thread

from coffer.aws.auth import read_body
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
        assert check_declared_length(scope, 10) == int(header)
    assert check_declared_length({"headers": [(b"transfer-encoding", b"chunked")]}, 10) is None  # limited as it streams


# --- read_body: the whole (small) body of an API request ---------------------------------------------------------


def read_whole(client: Client, headers: list[tuple[bytes, bytes]], limit: int = 10) -> bytes:
    return anyio.run(read_body, {"headers": headers}, client.receive, limit)


def test_a_body_in_one_message_or_several() -> None:
    for chunks in ([b"0123456789"], [b"0123", b"", b"456789"]):
        client = Client(body(chunks))
        assert read_whole(client, [(b"content-length", b"10")]) == b"0123456789"
        assert client.taken == len(chunks)
    client = Client(body([b"01", b"23"]))  # chunked: no Content-Length
    assert read_whole(client, []) == b"0123"


def test_a_declared_empty_body_is_not_waited_for() -> None:
    client = Client([])  # receive() would fail: nothing may be asked of it
    assert read_whole(client, [(b"content-length", b"0")]) == b""
    assert client.taken == 0
    assert read_whole(Client(body([b""])), []) == b""  # without a length the (empty) message is read


def test_the_limit_holds_for_a_body_without_a_length() -> None:
    client = Client(body([b"012345", b"6789", b"X", b"never read"]))
    with pytest.raises(RequestTooLargeError):
        read_whole(client, [])
    assert client.taken == 3


def test_a_client_gone_before_the_end_gives_what_came() -> None:
    client = Client([{"type": "http.request", "body": b"01", "more_body": True}, {"type": "http.disconnect"}])
    assert read_whole(client, []) == b"01"
