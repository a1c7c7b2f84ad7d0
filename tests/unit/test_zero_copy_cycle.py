"""The uvicorn internals ``coffer.app.zero_copy_cycle`` relies on, and when it offers ``http.response.zerocopysend``.

If a test here fails after a uvicorn upgrade, fix ``coffer/app/zero_copy_cycle.py`` and ``uvicorn_fence.py`` before
anything else: files would otherwise be sent by a ``send`` the app never calls, or not at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from typing import Any

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
