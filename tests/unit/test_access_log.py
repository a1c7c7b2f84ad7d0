"""The access log's pieces in-process: what the target shows, the line formats, and the middleware's line when the
app fails or the response is cut short."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from coffer.http.access_log import MARK, MAX_TARGET, AccessLog, AccessLogWriter, iso_time, log_target, split_target
from coffer.request_context import RECORD_KEY, RequestRecord, note_principal, request_id_for

TOKEN = "cf1.eyJhIjoxfQ.c2lnbmF0dXJl-_x"
TEXT_LINE = re.compile(
    r'(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<remote>\S+) "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r"(?P<bytes>\d+) (?P<ms>\d+\.\d\d)ms (?P<principal>\S+) req=(?P<id>[0-9a-f-]{36})(?P<tail> incomplete)?\n"
)


@pytest.mark.parametrize(
    ("path", "query", "shown"),
    [
        ("/health", "", "/health"),
        ("/v1/domain", "domain=acme&domain-owner=111122223333", "/v1/domain?domain=acme&domain-owner=111122223333"),
        (
            f"/pypi/d/acme-111122223333/internal/{TOKEN}/simple/",
            "",
            f"/pypi/d/acme-111122223333/internal/{MARK}/simple/",
        ),
        ("/x", f"next={TOKEN}", f"/x?next={MARK}"),
        ("/x", "a=1&" + TOKEN, f"/x?a=1&{MARK}"),
        ("/x", "q=" + TOKEN.replace(".", "%2E"), f"/x?q={MARK}"),  # percent-encoded
        ("/x", "q=CF1.ABC", f"/x?q={MARK}"),
        (
            "/v1/domains",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261202%2Fus-east-1%2Fcodeartifact"
            "%2Faws4_request&X-Amz-Date=20261202T120000Z&X-Amz-Security-Token=FQoGZXIvYXdzE&X-Amz-Signature=abc123",
            f"/v1/domains?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={MARK}&X-Amz-Date=20261202T120000Z"
            f"&X-Amz-Security-Token={MARK}&X-Amz-Signature={MARK}",
        ),
        (
            "/",
            "Action=X&Password=p&NewPassword=q&SecretAccessKey=s&access_token=t&api-key=k&TokenCode=1&Auth%6frization=z",
            f"/?Action=X&Password={MARK}&NewPassword={MARK}&SecretAccessKey={MARK}&access_token={MARK}&api-key={MARK}"
            f"&TokenCode={MARK}&Auth%6frization={MARK}",
        ),
        ('/a b/\n"q\\', "x=\x01", "/a b/\\x0a\\x22q\\x5c?x=\\x01"),
        # names with pass, pwd, sig or assertion in them (case, separators and percent-encoding aside)
        ("/login", "user=u&pass=p&PASS_WORD=q", f"/login?user=u&pass={MARK}&PASS_WORD={MARK}"),
        ("/login", "user=u&pwd=p&new-pwd=q", f"/login?user=u&pwd={MARK}&new-pwd={MARK}"),
        ("/hook", "id=1&sig=abc&X-Hub-Sig=d&oauth_sig=e", f"/hook?id=1&sig={MARK}&X-Hub-Sig={MARK}&oauth_sig={MARK}"),
        (
            "/",
            "Action=AssumeRoleWithSAML&SAMLAssertion=PHNhbWw%2B&saml_assertion=x&SAML%41ssertion=y",
            f"/?Action=AssumeRoleWithSAML&SAMLAssertion={MARK}&saml_assertion={MARK}&SAML%41ssertion={MARK}",
        ),
        ("/x", "p%2577d=s&Pa%2573s=t", f"/x?p%2577d={MARK}&Pa%2573s={MARK}"),  # names percent-encoded twice
        # a token percent-encoded twice: in a value, as a parameter, in the (once decoded) path
        ("/x", "q=" + TOKEN.replace(".", "%252E"), f"/x?q={MARK}"),
        ("/x", "a=1&" + TOKEN.replace(".", "%252e"), f"/x?a=1&{MARK}"),
        ("/p/" + TOKEN.replace(".", "%2E") + "/simple/", "", f"/p/{MARK}/simple/"),
        ("/p/" + TOKEN.replace(".", "%252E") + "/simple/", "", f"/p/{MARK}/simple/"),
    ],
)
def test_the_target_has_no_credentials_and_stays_on_one_line(path: str, query: str, shown: str) -> None:
    assert log_target(path, query) == shown
    assert log_target(path, query) == shown  # again (query strings with nothing to take out are remembered)


def test_a_long_target_is_cut_after_redaction() -> None:
    shown = log_target("/" + "a" * (MAX_TARGET - 10) + TOKEN, "")
    assert len(shown) == MAX_TARGET and shown.endswith("...") and "cf1." not in shown


def test_split_target_drops_the_authority_of_an_absolute_form() -> None:
    assert split_target(f"http://aws:{TOKEN}@host:5080/p%20q?a=1") == ("/p q", "a=1")
    assert split_target("/v1/x?y") == ("/v1/x", "y")


def test_iso_time() -> None:
    assert iso_time(1796212800.1234) == "2026-12-02T12:00:00.123Z"
    assert iso_time(1796212801.0) == "2026-12-02T12:00:01.000Z"


def _write(fmt: str, **fields: Any) -> str:
    lines: list[bytes] = []
    values: dict[str, Any] = {
        "started": 1796212800.5,
        "remote": "203.0.113.5",
        "method": "GET",
        "target": "/health",
        "protocol": "HTTP/1.1",
        "status": 200,
        "sent": 52,
        "duration": 0.0032,
        "principal": "arn:aws:iam::111122223333:user/ci",
        "request_id": "0f1e2d3c-4b5a-4968-8776-655443322110",
    }
    AccessLogWriter(fmt, lines.append, flush_after=0).write(**(values | fields))
    assert len(lines) == 1
    return lines[0].decode()


def test_text_and_json_lines() -> None:
    assert _write("text") == (
        '2026-12-02T12:00:00.500Z 203.0.113.5 "GET /health HTTP/1.1" 200 52 3.20ms arn:aws:iam::111122223333:user/ci '
        "req=0f1e2d3c-4b5a-4968-8776-655443322110\n"
    )
    assert _write("text", principal=None, remote=None, complete=False).endswith(
        ' - "GET /health HTTP/1.1" 200 52 3.20ms - req=0f1e2d3c-4b5a-4968-8776-655443322110 incomplete\n'
    )
    assert '"- " 408' not in _write("text", method=None, target=None, protocol=None, status=408)
    assert ' "-" 408 ' in _write("text", method=None, target=None, protocol=None, status=408)
    line = _write("json", target='/"x\u00e9', principal=None)
    assert line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2026-12-02T12:00:00.500Z",
        "remote": "203.0.113.5",
        "method": "GET",
        "path": '/"x\u00e9',
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": 52,
        "duration_ms": 3.2,
        "principal": None,
        "request_id": "0f1e2d3c-4b5a-4968-8776-655443322110",
        "complete": True,
    }


def test_the_remote_address_stays_one_field_of_a_text_line() -> None:
    forged = '1.2.3.4 req=forged "x"\\\n\u00a0\U0001f600'
    line = _write("text", remote=forged)
    m = TEXT_LINE.fullmatch(line)
    assert m is not None, line
    assert m["remote"] == "1.2.3.4\\x20req=forged\\x20\\x22x\\x22\\x5c\\x0a\\xa0\\U0001f600"
    assert m["id"] == "0f1e2d3c-4b5a-4968-8776-655443322110"
    assert json.loads(_write("json", remote=forged))["remote"] == forged  # JSON has its own escapes
    assert _write("text", remote="::1").split(" ")[1] == "::1"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        AccessLogWriter("xml", lambda line: None)


# --- the middleware ----------------------------------------------------------------------------------------------


def _scope(method: str = "GET", path: str = "/p", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [],
        "client": ("198.51.100.7", 40000),
        "server": ("127.0.0.1", 5080),
    }


def _serve(
    app: Any, scope: dict[str, Any] | None = None
) -> tuple[list[str], list[dict[str, Any]], BaseException | None]:
    lines: list[bytes] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> None:
        await AccessLog(app, AccessLogWriter("text", lines.append, flush_after=0))(scope or _scope(), receive, send)

    error: BaseException | None = None
    try:
        asyncio.run(main())
    except Exception as exc:
        error = exc
    return [line.decode() for line in lines], sent, error


@dataclass(frozen=True)
class _Caller:
    arn: str


def _fields(line: str) -> dict[str, str | None]:
    m = TEXT_LINE.fullmatch(line)
    assert m is not None, line
    return m.groupdict()


def test_a_line_with_the_principal_and_the_id_the_app_answered_with() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        note_principal(scope, _Caller("arn:aws:sts::111122223333:assumed-role/ci/build-42"))
        request_id = request_id_for(scope)
        assert request_id is not None
        await send(
            {"type": "http.response.start", "status": 201, "headers": [(b"x-amzn-RequestId", request_id.encode())]}
        )
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"de"})

    lines, sent, error = _serve(app, _scope("POST", "/v1/x", b"a=b"))
    assert error is None and len(lines) == 1
    fields = _fields(lines[0])
    assert fields["request"] == "POST /v1/x?a=b HTTP/1.1" and fields["remote"] == "198.51.100.7"
    assert (fields["status"], fields["bytes"], fields["tail"]) == ("201", "5", None)
    assert fields["principal"] == "arn:aws:sts::111122223333:assumed-role/ci/build-42"
    assert sent[0]["headers"] == [(b"x-amzn-RequestId", str(fields["id"]).encode())]  # not added a second time


def test_other_responses_go_out_as_the_app_sent_them_and_their_line_has_an_id() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert isinstance(scope[RECORD_KEY], RequestRecord)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    lines, sent, _ = _serve(app)
    fields = _fields(lines[0])
    assert fields["principal"] == "-" and fields["id"]
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]},
        {"type": "http.response.body", "body": b"ok"},
    ]
    assert _fields(_serve(app)[0][0])["id"] != fields["id"]


def test_an_app_that_raises_before_answering_is_logged_as_the_500_the_server_sends() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    lines, _, error = _serve(app)
    assert isinstance(error, RuntimeError)
    fields = _fields(lines[0])
    assert (fields["status"], fields["bytes"], fields["tail"]) == ("500", "0", None)


def test_a_starlette_500_is_logged() -> None:
    async def boom(request: Any) -> PlainTextResponse:
        raise RuntimeError("boom")

    lines, sent, error = _serve(Starlette(routes=[Route("/p", boom)]))
    assert isinstance(error, RuntimeError)  # Starlette answers 500, then re-raises for the server
    fields = _fields(lines[0])
    assert fields["status"] == "500" and sent[0]["status"] == 500 and fields["tail"] is None


def test_a_response_cut_short_is_incomplete() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
        raise OSError("client went away")

    lines, _, error = _serve(app)
    assert isinstance(error, OSError)
    fields = _fields(lines[0])
    assert (fields["status"], fields["bytes"], fields["tail"]) == ("200", "10", " incomplete")


def test_after_a_disconnect_nothing_more_counts() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
        scope[RECORD_KEY].disconnected = True  # what the HTTP guard does when the connection is lost
        await send({"type": "http.response.body", "body": b"x" * 10})

    fields = _fields(_serve(app)[0][0])
    assert (fields["bytes"], fields["tail"]) == ("10", " incomplete")


def test_lines_wait_for_each_other_on_the_loop_and_go_out_in_whole_line_chunks() -> None:
    writes: list[bytes] = []
    writer = AccessLogWriter("text", writes.append, flush_after=0.05)
    line = {"started": 1796212800.5, "remote": "203.0.113.5", "method": "GET", "target": "/" + "p" * 900}
    rest = {"protocol": "HTTP/1.1", "status": 200, "sent": 1, "duration": 0.001, "principal": None, "request_id": "r"}

    async def main() -> None:
        for _ in range(10):
            writer.write(**line, **rest)  # type: ignore[arg-type]
        assert writes == []
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert len(b"".join(writes).splitlines()) == 10
    assert len(writes) > 1 and all(len(chunk) <= 4096 and chunk.endswith(b"\n") for chunk in writes)
    writes.clear()
    writer.write(**line, **rest)  # type: ignore[arg-type]  # no running loop: at once
    assert len(writes) == 1


def test_lifespan_passes_through_and_its_shutdown_writes_what_waits() -> None:
    seen: list[str] = []
    writes: list[bytes] = []
    writer = AccessLogWriter("text", writes.append, flush_after=60)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        writer.write(
            started=0.0, remote=None, method=None, target=None, protocol=None, status=503, sent=0, duration=0,
            principal=None, request_id="r",
        )  # fmt: skip
        assert writes == []
        await send({"type": "lifespan.shutdown.complete"})

    async def send(message: Any) -> None:
        seen.append(message["type"])

    async def main() -> None:
        await AccessLog(app, writer)({"type": "lifespan"}, None, send)  # type: ignore[arg-type]

    asyncio.run(main())
    assert seen == ["lifespan", "lifespan.shutdown.complete"] and len(writes) == 1


def test_without_the_access_log_the_endpoints_get_no_id() -> None:
    scope: dict[str, Any] = {}
    note_principal(scope, _Caller("arn:aws:iam::111122223333:user/x"))
    assert request_id_for(scope) is None and scope == {}


def test_request_ids_are_version_4_uuids_and_unique() -> None:
    from coffer.request_context import new_request_id

    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i) for i in ids)
