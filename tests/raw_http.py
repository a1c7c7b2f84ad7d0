"""A raw HTTP/1.1 client that streams a request body from another thread while it waits for the answer: what the
limit tests need to see that a server answers (and stops reading) before a body has been sent."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class RawReply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes handed to the kernel when the status line arrived
    done: bool  # the whole body had been sent by then
    seconds: float  # from the end of the request head to the status line
    sent_after: int  # body bytes sent when the sender stopped
    done_after: bool  # the whole body had been sent when the sender stopped


def stream_request(
    host: str,
    port: int,
    head: list[str],
    pieces: Iterable[bytes],
    length: int | None,
    *,
    wait: float = 0.0,
    timeout: float = 60,
) -> RawReply:
    """Send ``head`` (the request line and headers, without the body's framing), then ``pieces`` from another
    thread (``Content-Length: length``, or chunked when None), starting ``wait`` seconds after the head; the sender
    stops when the answer arrives. Returns the answer and how much of the body had gone out."""
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    sock = socket.create_connection((host, port), timeout=timeout)
    stop = threading.Event()
    progress = {"sent": 0, "done": False}

    def send() -> None:
        if wait and stop.wait(wait):
            return
        try:
            for piece in pieces:
                if stop.is_set():
                    return
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if length is None else piece)
                progress["sent"] += len(piece)
            if length is None:
                sock.sendall(b"0\r\n\r\n")
            progress["done"] = True
        except OSError:
            pass

    sock.sendall(("\r\n".join([*head, framing]) + "\r\n\r\n").encode())
    started = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise AssertionError(f"the server closed the connection without an answer ({progress})")
            buf += data
        seconds = time.monotonic() - started
        sent, done = int(progress["sent"]), bool(progress["done"])
        stop.set()
        head_bytes, _, rest = buf.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        _, status, reason = [*lines[0].split(" ", 2), ""][:3]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        size = int(headers.get("content-length", "0"))
        while len(rest) < size:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
    finally:
        stop.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sender.join(timeout=30)
        sock.close()
    return RawReply(
        int(status), reason, headers, rest[:size], sent, done, seconds, int(progress["sent"]), bool(progress["done"])
    )
