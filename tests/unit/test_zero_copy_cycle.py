"""The uvicorn internals ``coffer.app.zero_copy_cycle`` relies on, and when it offers ``http.response.zerocopysend``.

If a test here fails after a uvicorn upgrade, fix ``coffer/app/zero_copy_cycle.py`` and ``uvicorn_fence.py`` before
anything else: files would otherwise be sent by a ``send`` the app never calls, or not at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from coffer.app.uvicorn_fence import GuardedHttpToolsProtocol, uvicorn_problems
from coffer.app.zero_copy_cycle import ZERO_COPY, ZeroCopyCycle


class Transport(asyncio.Transport):
    def __init__(self, extra: dict[str, Any]) -> None:
        super().__init__()
        self.extra = extra

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.extra.get(name, default)


def cycle(transport: asyncio.Transport) -> RequestResponseCycle:
    return RequestResponseCycle(
        scope={"type": "http", "method": "GET", "path": "/", "headers": []},  # type: ignore[typeddict-item]
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("t"),
        access_logger=logging.getLogger("t"),
        access_log=False,
        default_headers=[],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=True,
        on_response=lambda: None,
    )


def test_a_plain_connection_is_offered_the_extension() -> None:
    with socket.socket() as sock:
        plain = cycle(Transport({"socket": sock}))
        assert ZeroCopyCycle.adopt(plain)
        assert type(plain) is ZeroCopyCycle
        assert plain.scope["extensions"] == {ZERO_COPY: {}}  # type: ignore[typeddict-item]
        assert not ZeroCopyCycle.adopt(plain)  # once
        tls = cycle(Transport({"socket": sock, "ssl_object": object()}))
        assert not ZeroCopyCycle.adopt(tls)  # sendfile would bypass TLS
        assert type(tls) is RequestResponseCycle and "extensions" not in tls.scope
    assert not ZeroCopyCycle.adopt(cycle(Transport({})))  # no socket


def test_uvicorn_creates_each_task_through_the_method_the_protocol_overrides() -> None:
    assert uvicorn_problems() == []
    assert "_start_asgi_task" in GuardedHttpToolsProtocol.__dict__
    for method in (HttpToolsProtocol.on_headers_complete, HttpToolsProtocol.on_response_complete):
        assert "self._start_asgi_task(" in inspect.getsource(method), method
    # the app gets the cycle's send, looked up when the task runs (after adopt changed the class)
    assert "self.scope, self.receive, self.send" in inspect.getsource(RequestResponseCycle.run_asgi)
    assert "cycle.run_asgi(app)" in inspect.getsource(HttpToolsProtocol._start_asgi_task)


# --- the extension's messages on a real uvicorn server --------------------------------------------------------


class App:
    """Answers ``/<case>`` with the file in zerocopysend messages, as the case says."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.extensions: list[object] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.extensions.append(scope.get("extensions"))
        case = scope["path"].strip("/")
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as f:
            if case == "whole":  # Content-Length, no offset or count: from the file's position to its end
                f.seek(100)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"%d" % (size - 100))],
                    }
                )
                await send({"type": ZERO_COPY, "file": f})
                assert f.tell() == size  # the position moved on, as a read would
            elif case == "chunked":  # no Content-Length: chunks, a file's part in each, then the end
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": ZERO_COPY, "file": f, "offset": 0, "count": 10, "more_body": True})
                await send({"type": "http.response.body", "body": b"|", "more_body": True})
                await send({"type": ZERO_COPY, "file": f.fileno(), "offset": size - 5, "count": 5, "more_body": False})
            elif case == "too-long":
                await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
                await send({"type": ZERO_COPY, "file": f, "offset": 0, "count": 6})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes, App]]:
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path_factory.mktemp("zc") / "file"
    path.write_bytes(data)
    app = App(str(path))
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=GuardedHttpToolsProtocol, loop="uvloop", lifespan="off", log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", data, app
    server.should_exit = True
    thread.join(10)


def test_the_messages_on_the_wire(served: tuple[str, bytes, App]) -> None:
    url, data, app = served
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.get("/whole")
        assert (r.status_code, r.content) == (200, data[100:])
        assert app.extensions[-1] == {ZERO_COPY: {}}
        r = http.get("/chunked")
        assert r.headers["transfer-encoding"] == "chunked"
        assert r.content == data[:10] + b"|" + data[-5:]
        r = http.head("/whole")
        assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", str(len(data) - 100))
        assert http.get("/whole").content == data[100:]  # the connection carries on after each
    with pytest.raises(httpx.RemoteProtocolError):  # more than the Content-Length: the connection is dropped
        httpx.get(url + "/too-long", timeout=30)
