"""The access log of a real ``coffer serve``: one line per request with every field, in text or JSON, none with
``--no-access-log``; no token, password or secret in any line (nor anywhere in the server's output); the
principal of signed and token-authenticated requests; requests the HTTP guard refuses; responses cut short."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.conftest import ACCOUNT, client, make_client, read_profile
from tests.functional.dists import build_wheel
from tests.functional.pypi_clients import Repo, twine_upload
from tests.functional.server import RunningServer, running_server
from tests.functional.test_sts import creds_of, make_role, trust_policy

ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:user/admin"
TEXT_LINE = re.compile(
    r'(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<remote>\S+) "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r"(?P<bytes>\d+) (?P<ms>\d+\.\d\d)ms (?P<principal>\S+) req=(?P<id>[0-9a-f-]{36})(?P<tail> incomplete)?"
)
JSON_FIELDS = {
    "time",
    "remote",
    "method",
    "path",
    "protocol",
    "status",
    "bytes",
    "duration_ms",
    "principal",
    "request_id",
    "complete",
}
SERVER_ENV = {"COFFER_HEADER_TIMEOUT": "1", "COFFER_BODY_TIMEOUT": "1"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("access-log") / "data"
    with running_server(data, "--account-id", ACCOUNT, env=SERVER_ENV) as server:
        yield server


def request_id(response: dict[str, Any]) -> str:
    """The x-amzn-RequestId of an AWS call (boto3), which its line carries."""
    rid: str = response["ResponseMetadata"]["RequestId"]
    return rid


def probe() -> str:
    """A value to put in a request's query, to find its line by."""
    return uuid.uuid4().hex


def line_with(server: RunningServer, text: str, timeout: float = 10.0) -> str:
    """The one access-log line holding ``text`` (lines are written within a tenth of a second)."""
    lines = server.lines_after(0, lambda lines: any(text in line for line in lines), timeout)
    found = [line for line in lines if text in line]
    assert len(found) == 1, (text, found)
    return found[0].rstrip("\n")


def line_of(server: RunningServer, rid: str, timeout: float = 10.0) -> str:
    """The one access-log line with request id ``rid``."""
    return line_with(server, f"req={rid}", timeout)


def fields(line: str) -> dict[str, str | None]:
    m = TEXT_LINE.fullmatch(line)
    assert m is not None, line
    return m.groupdict()


def new_domain(ca: Any, name: str) -> tuple[str, str]:
    """A domain with repository ``main``: (its PyPI endpoint, a token)."""
    ca.create_domain(domain=name)
    ca.create_repository(domain=name, repository="main")
    endpoint: str = ca.get_repository_endpoint(domain=name, repository="main", format="pypi")["repositoryEndpoint"]
    token: str = ca.get_authorization_token(domain=name, durationSeconds=3600)["authorizationToken"]
    return endpoint, token


def test_one_line_per_request_with_every_field(srv: RunningServer) -> None:
    before = datetime.now(UTC)
    mark = probe()
    r = httpx.get(srv.url + f"/health?p={mark}")
    assert r.status_code == 200
    f = fields(line_with(srv, f"p={mark}"))
    assert f["request"] == f"GET /health?p={mark} HTTP/1.1"
    assert (f["status"], f["bytes"], f["principal"], f["tail"]) == ("200", str(len(r.content)), "-", None)
    assert f["remote"] == "127.0.0.1"
    logged = datetime.strptime(str(f["time"]), "%Y-%m-%dT%H:%M:%S.%f%z")
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= logged <= datetime.now(UTC)
    assert 0 < float(str(f["ms"])) < 5000

    r = httpx.get(srv.url + f"/no/such/thing?x=1&y={mark}")
    f = fields(line_with(srv, f"y={mark}"))
    assert (f["request"], f["status"], f["bytes"]) == (
        f"GET /no/such/thing?x=1&y={mark} HTTP/1.1",
        "404",
        str(len(r.content)),
    )
    assert "x-amzn-requestid" not in r.headers  # only AWS responses carry their id

    httpx.head(srv.url + f"/health?h={mark}")
    f = fields(line_with(srv, f"h={mark}"))
    assert (f["request"], f["bytes"]) == (f"HEAD /health?h={mark} HTTP/1.1", "0")


def test_forwarded_headers_do_not_change_the_remote_address(srv: RunningServer) -> None:
    """X-Forwarded-For is not trusted (uvicorn would trust it from 127.0.0.1, the default address): the line has
    the real peer, and a forged value cannot add fields to it."""
    for forwarded in ('1.2.3.4 req=forged "x"', "203.0.113.9"):
        mark = probe()
        r = httpx.get(srv.url + f"/health?xff={mark}", headers={"X-Forwarded-For": forwarded})
        assert r.status_code == 200
        line = line_with(srv, f"xff={mark}")
        f = fields(line)
        assert f["remote"] == "127.0.0.1"
        assert (f["request"], f["status"], f["principal"], f["tail"]) == (
            f"GET /health?xff={mark} HTTP/1.1",
            "200",
            "-",
            None,
        )
        assert "forged" not in line and "203.0.113.9" not in line
        assert len(line.split(" ")) == 10  # time, remote, "method, target, protocol", status, bytes, ms, principal, id


def test_the_principal_of_a_signed_call_and_of_a_token(srv: RunningServer) -> None:
    ca = make_client(srv)
    listed = ca.list_domains()
    f = fields(line_of(srv, request_id(listed)))  # the id of x-amzn-RequestId is the one logged
    assert (f["request"], f["status"], f["principal"]) == ("POST /v1/domains HTTP/1.1", "200", ADMIN_ARN)

    endpoint, token = new_domain(ca, "logged")
    mark = probe()
    r = httpx.get(endpoint + f"simple/?p={mark}", auth=("aws", token))
    assert r.status_code == 200
    f = fields(line_with(srv, f"p={mark}"))
    assert f["request"] == f"GET /pypi/d/logged-111122223333/main/simple/?p={mark} HTTP/1.1"
    assert (f["status"], f["bytes"], f["principal"]) == ("200", str(len(r.content)), ADMIN_ARN)

    httpx.get(endpoint + f"simple/?q={mark}", auth=("aws", "cf1.not.valid"))
    f = fields(line_with(srv, f"q={mark}"))
    assert (f["status"], f["principal"]) == ("401", "-")

    sts = client(srv, "sts", (*read_profile(srv.credentials_file), None))
    who = sts.get_caller_identity()
    f = fields(line_of(srv, request_id(who)))
    assert (f["request"], f["principal"]) == ("POST / HTTP/1.1", ADMIN_ARN)


def test_no_token_password_or_secret_in_any_line(srv: RunningServer, tmp_path: Path) -> None:
    admin_key, admin_secret = read_profile(srv.credentials_file)
    ca = make_client(srv)
    iam = client(srv, "iam", (admin_key, admin_secret, None))
    sts = client(srv, "sts", (admin_key, admin_secret, None))
    secrets: dict[str, str] = {"admin secret": admin_secret}
    ids: dict[str, str] = {}

    endpoint, token = new_domain(ca, "secrets")
    minted = ca.get_authorization_token(domain="secrets", durationSeconds=900)
    ids["GetAuthorizationToken"] = request_id(minted)
    secrets |= {"token": token, "minted token": minted["authorizationToken"]}
    secrets["token signature"] = token.rsplit(".", 1)[1]
    secrets["token in Basic"] = base64.b64encode(f"aws:{token}".encode()).decode()

    user = iam.create_user(UserName="logged-user")
    key = iam.create_access_key(UserName="logged-user")
    ids["CreateAccessKey"] = request_id(key)
    secrets["user secret"] = key["AccessKey"]["SecretAccessKey"]
    assert user["User"]["UserName"] == "logged-user"

    role = make_role(iam, trust_policy(f"arn:aws:iam::{ACCOUNT}:root"))
    assumed = sts.assume_role(RoleArn=role, RoleSessionName="logged")
    ids["AssumeRole"] = request_id(assumed)
    session = creds_of(assumed)
    secrets |= {"role session secret": session[1], "role session token": str(session[2])}
    session_token = sts.get_session_token(DurationSeconds=900)
    ids["GetSessionToken"] = request_id(session_token)
    other = creds_of(session_token)
    secrets |= {"session secret": other[1], "session token": str(other[2])}
    as_role = client(srv, "codeartifact", session).list_domains()  # signed with the session token in a header
    ids["as role"] = request_id(as_role)

    marks = {name: probe() for name in ("Basic", "Bearer", "bare", "query", "path", "password", "presigned")}
    presigned = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{session[0]}/20261202/us-east-1/codeartifact/aws4_request",
        "X-Amz-Date": "20261202T120000Z",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Security-Token": str(session[2]),
        "X-Amz-Signature": "5f3b" * 16,
    }
    password = {"Action": "ChangePassword", "NewPassword": "hunter2-new"}
    reads = {
        "Basic": httpx.get(endpoint + "simple/", params={"p": marks["Basic"]}, auth=("aws", token)),
        "Bearer": httpx.get(
            endpoint + "simple/", params={"p": marks["Bearer"]}, headers={"Authorization": f"Bearer {token}"}
        ),
        "bare": httpx.get(endpoint + "simple/", params={"p": marks["bare"]}, headers={"Authorization": token}),
        "query": httpx.get(
            endpoint + "simple/", params={"token": token, "other": token, "p": marks["query"]}, auth=("aws", token)
        ),
        "path": httpx.get(endpoint + f"simple/{token}/", params={"p": marks["path"]}, auth=("aws", token)),
        "password": httpx.get(srv.url + "/", params={**password, "p": marks["password"]}),
        "presigned": httpx.get(srv.url + "/v1/domains", params={**presigned, "p": marks["presigned"]}),
    }
    secrets |= {"password": "hunter2-new", "presigned signature": "5f3b" * 16, "credential": f"{session[0]}/2026"}
    wheel = build_wheel(tmp_path, "logged-pkg", "1.0")
    home = tmp_path / "home"
    home.mkdir()
    uploaded = twine_upload(Repo("", "main", endpoint, token, srv), home, wheel)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr

    for name, rid in ids.items():
        assert TEXT_LINE.fullmatch(line_of(srv, rid)), name
    for name, response in reads.items():
        assert response.status_code < 500, (name, response.status_code)
        assert TEXT_LINE.fullmatch(line_with(srv, marks[name])), name
    assert (
        fields(line_of(srv, ids["as role"]))["principal"]
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.split('/')[-1]}/logged"
    )
    upload = line_with(srv, '"POST /pypi/d/secrets-111122223333/main/ HTTP/1.1" 200')
    assert fields(upload)["principal"] == ADMIN_ARN
    assert f"/simple/[REDACTED]/?p={marks['path']} " in line_with(srv, marks["path"])
    assert f"?token=[REDACTED]&other=[REDACTED]&p={marks['query']} " in line_with(srv, marks["query"])
    assert "NewPassword=[REDACTED]" in line_with(srv, marks["password"])
    # credential, security token and signature; and X-Amz-SignedHeaders, no secret but a name with "sig" in it
    assert line_with(srv, marks["presigned"]).count("[REDACTED]") == 4

    everything = "".join(srv.output)  # every line the server wrote, on stdout and stderr
    for name, secret in secrets.items():
        assert secret and secret not in everything, name


def test_requests_the_guard_refuses_are_logged(srv: RunningServer) -> None:
    host, port = srv.url.removeprefix("http://").split(":")

    def exchange(data: bytes, wait: float = 0.0) -> bytes:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(data)
            time.sleep(wait)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    def rid_of(response: bytes) -> str:
        m = re.search(rb"\r\nx-amzn-requestid: ([0-9a-f-]{36})\r\n", response, re.IGNORECASE)
        assert m is not None, response[:300]
        return m.group(1).decode()

    long_line = exchange(b"GET /pypi/" + b"a" * 20_000 + b"?token=" + b"cf1.x" * 10 + b" HTTP/1.1\r\n\r\n")
    assert long_line.startswith(b"HTTP/1.1 414 ")
    f = fields(line_of(srv, rid_of(long_line)))
    assert str(f["request"]).startswith("GET /pypi/aaaa") and str(f["request"]).endswith("...")
    assert (f["status"], f["principal"]) == ("414", "-")

    big_head = exchange(b"GET /v1/domains HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n")
    assert big_head.startswith(b"HTTP/1.1 431 ")
    f = fields(line_of(srv, rid_of(big_head)))
    assert (f["request"], f["status"]) == ("GET /v1/domains HTTP/1.1", "431")

    slow_head = exchange(b"GET /health HTTP/1.1\r\nHost: t\r\n")  # the head never ends
    assert slow_head.startswith(b"HTTP/1.1 408 ")
    f = fields(line_of(srv, rid_of(slow_head)))
    assert (f["request"], f["status"]) == ("GET /health HTTP/1.1", "408")
    assert float(str(f["ms"])) >= 900

    # a body that stalls while the app reads it: the app's line, with the 408 the client got
    stalled = exchange(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nAction=GetCallerIdentity")
    assert stalled.startswith(b"HTTP/1.1 408 ")
    f = fields(line_of(srv, rid_of(stalled)))
    assert (f["request"], f["status"], f["tail"]) == ("POST / HTTP/1.1", "408", None)


def test_a_download_the_client_abandons_is_logged_incomplete(srv: RunningServer, tmp_path: Path) -> None:
    endpoint, token = new_domain(make_client(srv), "abandoned")
    wheel = build_wheel(tmp_path, "big-pkg", "1.0", payload=os.urandom(24 * 1024 * 1024))  # incompressible
    home = tmp_path / "home"
    home.mkdir()
    uploaded = twine_upload(Repo("", "main", endpoint, token, srv), home, wheel)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    path = endpoint.split(srv.url, 1)[1] + f"simple/big-pkg/1.0/{wheel.name}?p={probe()}"
    basic = base64.b64encode(f"aws:{token}".encode())
    host, port = srv.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server can put little in flight
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n".encode() + b"Authorization: Basic " + basic + b"\r\n\r\n")
    head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 ")
    time.sleep(0.3)
    sock.close()
    f = fields(line_with(srv, path))
    assert (f["request"], f["status"], f["tail"]) == (f"GET {path} HTTP/1.1", "200", " incomplete")
    assert 0 < int(str(f["bytes"])) < wheel.stat().st_size


def test_json_lines(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--account-id", ACCOUNT, "--log-format", "json") as server:
        start = len(server.output)
        mark = probe()
        httpx.get(server.url + f"/health?p={mark}")
        ca = make_client(server)
        created = ca.create_domain(domain="jsonlog")
        ca.create_repository(domain="jsonlog", repository="main")
        endpoint = ca.get_repository_endpoint(domain="jsonlog", repository="main", format="pypi")["repositoryEndpoint"]
        token = ca.get_authorization_token(domain="jsonlog")["authorizationToken"]
        httpx.get(endpoint + f"simple/?token={token}&q={mark}", auth=("aws", token))
        wanted = (f"p={mark}", request_id(created), f"q={mark}")
        lines = server.lines_after(start, lambda lines: all(w in "".join(lines) for w in wanted))
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    by_id = {record["request_id"]: record for record in records}
    by_path = {record["path"]: record for record in records}
    assert all(set(record) == JSON_FIELDS for record in records)
    h = by_path[f"/health?p={mark}"]
    assert (h["method"], h["protocol"], h["status"], h["bytes"]) == ("GET", "HTTP/1.1", 200, 52)
    assert h["principal"] is None and h["remote"] == "127.0.0.1" and h["complete"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", h["time"]) and h["duration_ms"] > 0
    assert by_id[request_id(created)]["principal"] == ADMIN_ARN
    p = by_path[f"/pypi/d/jsonlog-111122223333/main/simple/?token=[REDACTED]&q={mark}"]
    assert (p["status"], p["principal"]) == (200, ADMIN_ARN)
    assert token not in "".join(server.output)


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--no-access-log",), {}), (("--log-format", "json"), {"COFFER_ACCESS_LOG": "0"})],
    ids=["flag", "env"],
)
def test_no_access_log(tmp_path: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
    with running_server(tmp_path / "data", "--account-id", ACCOUNT, *args, env=env) as server:
        start = len(server.output)
        health = httpx.get(server.url + "/health")
        assert health.status_code == 200
        make_client(server).list_domains()
        httpx.get(server.url + "/pypi/" + "a" * 20_000)  # refused by the guard
        time.sleep(0.5)
        after = server.output[start:]
    assert after == [], after
