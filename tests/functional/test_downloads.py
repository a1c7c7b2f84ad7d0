"""Package files on the wire from a real server: a multi-MB wheel and an npm tarball, whole (pip, httpx) and in
ranges, HEAD and 304, a client that reads slowly while others are answered, clients that leave mid-file (no file
descriptor left behind, nothing logged but their lines), and a stop while downloads are running."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import signal
import socket
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import requests

from tests.functional.conftest import ACCOUNT, make_client
from tests.functional.dists import build_wheel, upload_form
from tests.functional.npm_clients import integrity, new_npm_repo, publish_body
from tests.functional.pypi_clients import Repo, client_env, new_repo, run
from tests.functional.server import RunningServer, running_server

WHEEL_BYTES = 6 * 1024 * 1024
TARBALL_BYTES = 3 * 1024 * 1024


@dataclass
class Served:
    url: str
    headers: dict[str, str]
    data: bytes

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.data).hexdigest()}"'


def publish_wheel(server: RunningServer, tmp: Path, project: str) -> tuple[Repo, Served]:
    ca = make_client(server)
    domain = f"dl-{uuid.uuid4().hex[:8]}"
    ca.create_domain(domain=domain)
    repo = new_repo(ca, server, domain, "main")
    wheel = build_wheel(tmp, project, "1.0", payload=os.urandom(WHEEL_BYTES))  # stored: incompressible
    data = wheel.read_bytes()
    response = requests.post(
        repo.endpoint, auth=repo.auth, data=upload_form(wheel.name, data), files={"content": (wheel.name, data)}
    )
    assert response.status_code == 200, response.text
    url = f"{repo.index}{project}/1.0/{wheel.name}"
    return repo, Served(url, {"Authorization": httpx.BasicAuth("aws", repo.token)._auth_header}, data)


@pytest.fixture(scope="module")
def wheel(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, Served]:
    return publish_wheel(server, tmp_path_factory.mktemp("wheel"), "coffer-big")


@pytest.fixture(scope="module")
def npm_tarball(server: RunningServer) -> Served:
    ca = make_client(server)
    domain = f"dl-npm-{uuid.uuid4().hex[:8]}"
    ca.create_domain(domain=domain)
    repo = new_npm_repo(ca, server, domain, "app")
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path, content in {
            "package.json": json.dumps({"name": "big-tarball", "version": "1.0.0"}).encode(),
            "blob.bin": os.urandom(TARBALL_BYTES),
        }.items():
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    data = out.getvalue()
    escaped, body = publish_body("big-tarball", "1.0.0", data=data)
    headers = {**repo.headers, "Content-Type": "application/json"}
    assert httpx.put(repo.endpoint + escaped, content=body, headers=headers, timeout=60).status_code == 201
    packument = httpx.get(repo.endpoint + "big-tarball", headers=repo.headers, timeout=60).json()
    dist = packument["versions"]["1.0.0"]["dist"]
    assert dist["integrity"] == integrity(data)
    return Served(dist["tarball"], repo.headers, data)


def get(served: Served, **headers: str) -> httpx.Response:
    return httpx.get(served.url, headers={**served.headers, **headers}, timeout=60)


def raw_request(served: Served, method: str = "GET", extra: str = "", *, small: bool = False) -> socket.socket:
    """A connection with the request sent; ``small``: with a receive buffer of 8 KiB (set before connecting, so
    that the window is small from the start), so that the server's socket fills at once."""
    parts = httpx.URL(served.url)
    sock = socket.socket()
    if small:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.settimeout(30)
    sock.connect((parts.host, parts.port or 80))
    head = [f"{method} {parts.raw_path.decode()} HTTP/1.1", f"Host: {parts.host}"]
    head += [f"{k}: {v}" for k, v in served.headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n" + extra + "\r\n").encode())
    return sock


def drain(sock: socket.socket) -> bytes:
    """Everything the socket still delivers, until the server closes it (or resets it)."""
    data = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        pass
    return bytes(data)


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(the response head, the body bytes that came with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def open_fds(server: RunningServer) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if re.search(r"Traceback|ERROR|Exception|Task was destroyed", line)]


# --- whole files ---------------------------------------------------------------------------------------------


def test_pip_downloads_the_whole_wheel(wheel: tuple[Repo, Served], tmp_path: Path) -> None:
    repo, served = wheel
    out = tmp_path / "out"
    env = client_env(tmp_path, PIP_INDEX_URL=repo.authed_index())
    r = run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "-d", str(out), "coffer-big"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    (got,) = out.iterdir()
    assert hashlib.sha256(got.read_bytes()).hexdigest() == hashlib.sha256(served.data).hexdigest()


def test_whole_file_headers_and_bytes(wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    r = get(served)
    assert r.status_code == 200
    assert r.content == served.data
    assert r.headers["content-length"] == str(len(served.data))
    assert r.headers["etag"] == served.etag
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert r.headers["content-type"] == "application/octet-stream"
    assert "last-modified" in r.headers


def test_head_and_not_modified(wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    head = httpx.head(served.url, headers=served.headers, timeout=60)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(served.data))
    assert head.headers["etag"] == served.etag
    assert head.content == b""
    for value in (served.etag, f'"other", {served.etag}'):
        r = get(served, **{"If-None-Match": value})
        assert r.status_code == 304, value
        assert r.headers["etag"] == served.etag
        assert r.content == b""
    assert get(served, **{"If-None-Match": '"other"'}).status_code == 200
    # HEAD with a range: the 206's head without its body, on a connection that then serves the next request
    with raw_request(served, "HEAD", "Range: bytes=0-9\r\n") as sock:
        head, rest = read_head(sock)
        assert head.startswith(b"HTTP/1.1 206 ") and rest == b""
        assert b"\r\ncontent-length: 10\r\n" in head.lower()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_head(sock)[0].startswith(b"HTTP/1.1 200 ")


# --- ranges ----------------------------------------------------------------------------------------------------


def test_single_ranges(wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    data, size = served.data, len(served.data)
    for spec, start, end in [
        ("bytes=0-0", 0, 1),
        ("bytes=100-199", 100, 200),
        ("bytes=-1000", size - 1000, size),
        ("bytes=5000000-", 5000000, size),
        (f"bytes={size - 10}-{size + 500}", size - 10, size),  # the last position is cut to the file
        ("bytes=0-9,5-19", 0, 20),  # overlapping ranges are merged
        (f"bytes=-{size * 2}", 0, size),
    ]:
        r = get(served, Range=spec)
        assert r.status_code == 206, spec
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", spec
        assert r.headers["content-length"] == str(end - start), spec
        assert r.content == data[start:end], spec


def multipart_parts(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body."""
    found = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", content_type)
    assert found is not None, content_type
    delimiter = b"--" + found.group(1).encode()
    assert body.endswith(delimiter + b"--\r\n")
    parts = []
    for chunk in body[: -len(delimiter) - 4].split(delimiter)[1:]:
        head, _, content = chunk.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().strip().split("\r\n"))
        assert fields["Content-Type"] == "application/octet-stream"
        assert content.endswith(b"\r\n")
        parts.append((fields["Content-Range"], content[:-2]))
    return parts


def test_multiple_ranges(wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    data, size = served.data, len(served.data)
    r = get(served, Range="bytes=2000000-2999999, 0-9,-5, 20-29")
    assert r.status_code == 206
    assert int(r.headers["content-length"]) == len(r.content)
    assert multipart_parts(r.headers["content-type"], r.content) == [
        (f"bytes 0-9/{size}", data[0:10]),
        (f"bytes 20-29/{size}", data[20:30]),
        (f"bytes 2000000-2999999/{size}", data[2000000:3000000]),
        (f"bytes {size - 5}-{size - 1}/{size}", data[size - 5 :]),
    ]
    # ranges beyond the end are left out while one is satisfiable
    r = get(served, Range=f"bytes=0-1,{size}-,{size + 10}-{size + 20}")
    assert (r.status_code, r.content) == (206, data[0:2])


def test_unsatisfiable_and_ignored_ranges(wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    size = len(served.data)
    for spec in (f"bytes={size}-", f"bytes={size + 1}-{size + 9}", "bytes=-0", f"bytes={size}-,-0"):
        r = get(served, Range=spec)
        assert r.status_code == 416, spec
        assert r.headers["content-range"] == f"bytes */{size}", spec
        assert "immutable" not in r.headers.get("cache-control", ""), spec
    # not about bytes, malformed, or too many ranges: the whole file
    too_many = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(101))
    for spec in ("items=0-9", "bytes=9-0", "bytes=a-b", "bytes=-", "bytes=1-2-3", too_many):
        r = get(served, Range=spec)
        assert (r.status_code, len(r.content)) == (200, size), spec
    # If-Range: a range of this file only
    assert get(served, Range="bytes=0-9", **{"If-Range": served.etag}).status_code == 206
    assert get(served, Range="bytes=0-9", **{"If-Range": '"another"'}).status_code == 200
    assert get(served, Range="bytes=0-9", **{"If-Range": "W/" + served.etag}).status_code == 200


def test_npm_tarballs_go_out_the_same_way(npm_tarball: Served) -> None:
    r = get(npm_tarball)
    assert r.status_code == 200
    assert integrity(r.content) == integrity(npm_tarball.data)
    assert r.headers["etag"] == npm_tarball.etag
    r = get(npm_tarball, Range="bytes=1000-1999,-100")
    size = len(npm_tarball.data)
    assert multipart_parts(r.headers["content-type"], r.content) == [
        (f"bytes 1000-1999/{size}", npm_tarball.data[1000:2000]),
        (f"bytes {size - 100}-{size - 1}/{size}", npm_tarball.data[-100:]),
    ]
    assert get(npm_tarball, **{"If-None-Match": npm_tarball.etag}).status_code == 304


# --- slow and departing clients --------------------------------------------------------------------------------


def test_slow_readers_get_every_byte_and_hold_up_no_one(server: RunningServer, wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    data, size = served.data, len(served.data)
    rss_before = _rss(server)
    ranges = "Range: bytes=0-9,100-4999999,-1000\r\n"  # a part sent while the head of the next waits
    slow = [raw_request(served, extra=ranges if i % 2 else "", small=True) for i in range(4)]
    try:
        heads = [read_head(sock) for sock in slow]
        assert [h.split(b" ", 2)[1] for h, _ in heads] == [b"200", b"206", b"200", b"206"]
        # the slow ones are stalled mid-file; others are answered at once, whole files included
        for _ in range(3):
            started = time.monotonic()
            assert httpx.get(server.url + "/health", timeout=10).status_code == 200
            assert get(served).content == data
            assert time.monotonic() - started < 5
        assert _rss(server) - rss_before < 32 * 1024 * 1024  # no copy of the files in the server
        # then each slow client reads on, a little at a time at first, and gets its bytes unchanged
        for sock, (head, first) in zip(slow, heads, strict=True):
            fields = dict(line.split(": ", 1) for line in head.decode("latin-1").lower().split("\r\n")[1:])
            body = bytearray(first)
            reads = 0
            while len(body) < int(fields["content-length"]):
                chunk = sock.recv(256 * 1024 if reads > 20 else 4096)
                assert chunk, len(body)
                body += chunk
                reads += 1
                if reads <= 20:
                    time.sleep(0.01)
            if head.startswith(b"HTTP/1.1 200 "):
                assert bytes(body) == data
            else:
                assert multipart_parts(fields["content-type"], bytes(body)) == [
                    (f"bytes 0-9/{size}", data[:10]),
                    (f"bytes 100-4999999/{size}", data[100:5000000]),
                    (f"bytes {size - 1000}-{size - 1}/{size}", data[-1000:]),
                ]
    finally:
        for sock in slow:
            sock.close()


def _rss(server: RunningServer) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_clients_leaving_mid_file_leave_nothing_behind(server: RunningServer, wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    assert get(served).status_code == 200  # a first download: whatever the server opens once is open now
    start = len(server.output)
    before = open_fds(server)
    for i in range(12):
        sock = raw_request(served, extra="Range: bytes=0-9,100-5999999\r\n" if i % 3 == 2 else "", small=True)
        head, _ = read_head(sock)
        assert head.split(b" ")[1] in (b"200", b"206")
        if i % 2:
            sock.recv(100_000)
            time.sleep(0.05)
        else:  # a reset instead of a close
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    deadline = time.monotonic() + 10
    while open_fds(server) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(server) <= before
    assert get(served).content == served.data  # and the server goes on serving
    lines = server.lines_after(start, lambda lines: sum(" incomplete" in line for line in lines) >= 12)
    assert sum(" incomplete" in line for line in lines) == 12, lines
    assert problems(lines) == []


def test_the_log_counts_the_bytes_of_files_and_ranges(server: RunningServer, wheel: tuple[Repo, Served]) -> None:
    _, served = wheel
    mark = uuid.uuid4().hex
    start = len(server.output)
    for spec in ("", "bytes=10-19", "bytes=0-0,-1"):
        r = httpx.get(f"{served.url}?p={mark}", headers={**served.headers, **({"Range": spec} if spec else {})})
        assert r.status_code in (200, 206)
    lines = server.lines_after(start, lambda lines: sum(mark in line for line in lines) >= 3)
    logged = [re.search(r'HTTP/1.1" (\d{3}) (\d+) ', line) for line in lines if mark in line]
    assert [m.groups() for m in logged if m] == [
        ("200", str(len(served.data))),
        ("206", "10"),
        ("206", str(int(r.headers["content-length"]))),
    ]


# --- stopping ------------------------------------------------------------------------------------------------


def test_a_stop_lets_downloads_finish_and_cuts_a_stalled_one(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--account-id", ACCOUNT) as server:
        _, served = publish_wheel(server, tmp_path, "coffer-stop")
        reader, stalled = raw_request(served, small=True), raw_request(served, small=True)
        head, first = read_head(reader)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert read_head(stalled)[0].startswith(b"HTTP/1.1 200 ")
        start = len(server.output)
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        # the reader goes on and gets the whole file, then the server closes the connection
        assert first + drain(reader) == served.data
        code = server.process.wait(timeout=40)  # the stalled download is cut after the graceful 15 s
        assert code == 0
        assert 14 < time.monotonic() - stopped_at < 30
        lines = server.lines_after(start, lambda lines: any("Coffer stopped." in line for line in lines))
        assert any("Coffer stopped." in line for line in lines), lines
        # one line each: the reader's whole file, the stalled one's cut (uvicorn also logs the cancelled task)
        logged = sorted(line.rstrip().endswith(" incomplete") for line in lines if "coffer_stop-1.0" in line)
        assert logged == [False, True], lines
        assert len(drain(stalled)) < len(served.data)
        reader.close()
        stalled.close()
