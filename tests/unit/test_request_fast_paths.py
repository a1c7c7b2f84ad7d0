"""The read path's shortcuts: requests served on the event loop while nothing blocks, verified tokens and
policy decisions kept, simple pages kept rendered. Each must give exactly the answer of the long way."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
from typing import Any
from urllib.parse import parse_qsl

import botocore.model
import pytest
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import dialect as postgresql_dialect
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from coffer.app.direct_routes import DirectRoutesApp
from coffer.aws.protocol import ServiceHandlers
from coffer.aws.restjson_model import ServiceSpec, build_service, load_service
from coffer.aws.restjson_protocol import MAX_PARSED, MAX_PARSED_BYTES, RestJsonProtocol, RestJsonRequest
from coffer.aws.sigv4 import IncomingRequest
from coffer.core.codeartifact.authorization_tokens import AuthorizationTokenService
from coffer.core.codeartifact.token_format import (
    ExpiredTokenError,
    RevokedTokenError,
    UnknownSigningKeyError,
    WrongDomainError,
)
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.packages.package_models import PackageRef, RepoRef
from coffer.core.policy import parse_policy
from coffer.core.shared.blocking import WouldBlock, may_block, no_blocking, run_inline_first
from coffer.core.shared.errors import ValidationError
from coffer.core.shared.signing import KeyRing, SigningKey
from coffer.formats.pypi.rendered_pages import RenderedPages
from coffer.store.schema import packages
from coffer.store.sql.packages import _package_id_select
from coffer.store.sql_store import SqlStore
from tests.unit.package_services import DOMAIN, OWNER, REGION, caller, make_deps
from tests.unit.test_aws_wire import SYNTH

# --- served on the event loop while nothing blocks -----------------------------------------------------------


def test_work_that_never_blocks_runs_on_the_event_loop() -> None:
    threads: list[threading.Thread] = []

    def work(x: int) -> int:
        threads.append(threading.current_thread())
        return x * 2

    assert asyncio.run(run_inline_first(work, 21)) == 42
    assert threads == [threading.main_thread()]


def test_work_that_would_block_runs_again_on_a_worker_thread() -> None:
    threads: list[threading.Thread] = []

    def work() -> str:
        threads.append(threading.current_thread())
        may_block()
        return "read"

    assert asyncio.run(run_inline_first(work)) == "read"
    assert threads[0] is threading.main_thread()
    assert len(threads) == 2 and threads[1] is not threading.main_thread()


def test_would_block_passes_through_except_exception() -> None:
    """An upstream failure handler (``except Exception``) must not take the signal for an error."""

    def work() -> str:
        try:
            may_block()
        except Exception:
            return "stale copy"
        return "fresh"

    with no_blocking(), pytest.raises(WouldBlock):
        work()
    assert asyncio.run(run_inline_first(work)) == "fresh"


def test_errors_of_the_work_propagate_from_either_attempt() -> None:
    def fails_inline() -> None:
        raise ValueError("bad")

    def fails_on_thread() -> None:
        may_block()
        raise KeyError("gone")

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(run_inline_first(fails_inline))
    with pytest.raises(KeyError):
        asyncio.run(run_inline_first(fails_on_thread))


def test_the_store_never_reads_under_no_blocking(store: SqlStore) -> None:
    with no_blocking(), pytest.raises(WouldBlock):
        store.list_accounts()
    assert store.list_accounts() == []  # and it reads normally otherwise


# --- verified tokens -------------------------------------------------------------------------------------------


class _Revocations:
    def __init__(self) -> None:
        self.revoked: set[str] = set()

    def __call__(self, token_id: str) -> bool:
        return token_id in self.revoked


class _Issued:
    """A token service with an issued token; ``ring[0]`` is its key ring, ``now[0]`` its clock."""

    def __init__(self, store: SqlStore) -> None:
        deps = make_deps(store)
        self.ring = [KeyRing([SigningKey.generate(0.0)])]
        self.now = [float(deps.clock())]
        self.revocations = _Revocations()
        deps = type(deps)(
            store=store, clock=lambda: self.now[0], region=REGION, authorizer=deps.authorizer, paginator=deps.paginator
        )
        who = caller({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        identities = IdentityService(store, deps.clock)
        identities.caller_for_principal = lambda arn, pid, sit: who  # type: ignore[method-assign]
        self.service = AuthorizationTokenService(deps, identities, lambda: self.ring[0], is_revoked=self.revocations)
        self.issued = self.service.issue(who, DOMAIN, OWNER, 900)

    def verify(self, domain: str = DOMAIN) -> Any:
        return self.service.verify(self.issued.token, OWNER, domain)[0]


def test_a_token_seen_before_is_still_checked_for_revocation_domain_and_key(store: SqlStore) -> None:
    t = _Issued(store)
    claims = t.verify()  # the long way, remembered
    assert t.verify() == claims  # the short way
    with pytest.raises(WrongDomainError):
        t.verify("other")
    t.revocations.revoked.add(claims.token_id)
    with pytest.raises(RevokedTokenError):
        t.verify()
    t.revocations.revoked.clear()
    t.ring[0] = KeyRing([SigningKey.generate(1.0)])  # the signing key retired
    with pytest.raises(UnknownSigningKeyError):
        t.verify()


def test_a_token_seen_before_expires_on_time(store: SqlStore) -> None:
    t = _Issued(store)
    t.now[0] = float(t.issued.expiration - 1)
    t.verify()
    t.now[0] = float(t.issued.expiration)
    with pytest.raises(ExpiredTokenError):
        t.verify()


# --- decisions kept on the caller ------------------------------------------------------------------------------

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
RESOURCE = f"arn:aws:codeartifact:{REGION}:{OWNER}:domain/{DOMAIN}"


def _resource_policy(effect: str, condition: dict[str, Any] | None = None) -> Any:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
        "Action": "codeartifact:*",
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [statement]}), "resource")


def test_a_kept_decision_follows_a_new_resource_policy() -> None:
    authorizer = Authorizer(lambda: 1_700_000_000.0, REGION)
    who = caller(ALLOW_ALL)
    allow = _resource_policy("Allow")
    deny = _resource_policy("Deny")
    assert authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE, resource_policy=allow).allowed
    assert authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE, resource_policy=allow).allowed
    assert not authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE, resource_policy=deny).allowed
    assert authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE, resource_policy=None).allowed


def test_a_decision_that_reads_the_request_is_never_kept() -> None:
    now = [1_700_000_000.0]
    authorizer = Authorizer(lambda: now[0], REGION)
    who = caller(ALLOW_ALL)
    until = _resource_policy("Deny", {"DateGreaterThan": {"aws:CurrentTime": "2023-11-14T22:20:00Z"}})
    action = "codeartifact:ReadFromRepository"
    assert authorizer.decide(who, action, RESOURCE, resource_policy=until).allowed  # 22:13:20, before
    now[0] += 3600
    assert not authorizer.decide(who, action, RESOURCE, resource_policy=until).allowed  # an hour later: denied
    assert who.decisions == {}

    by_ip = caller(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                }
            ],
        }
    )
    assert authorizer.decide(by_ip.with_source_ip("10.1.2.3"), action, RESOURCE).allowed
    assert not authorizer.decide(by_ip.with_source_ip("192.168.1.1"), action, RESOURCE).allowed
    assert authorizer.decide(by_ip.with_source_ip("10.1.2.3"), action, RESOURCE).allowed


def test_kept_decisions_are_per_action_and_resource() -> None:
    authorizer = Authorizer(lambda: 1_700_000_000.0, REGION)
    who = caller(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": RESOURCE}],
        }
    )
    assert authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE).allowed
    assert not authorizer.decide(who, "codeartifact:PublishPackageVersion", RESOURCE).allowed
    assert not authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE + "x").allowed
    assert authorizer.decide(who, "codeartifact:ReadFromRepository", RESOURCE).allowed


# --- simple pages kept rendered --------------------------------------------------------------------------------


def test_a_page_is_rendered_again_for_another_view_object() -> None:
    cache = RenderedPages()
    renders: list[int] = []
    view_a, view_b = object(), object()

    def render(n: int) -> bytes:
        renders.append(n)
        return b"page %d" % n

    assert cache.get("k", view_a, lambda: render(1)) == b"page 1"
    assert cache.get("k", view_a, lambda: render(2)) == b"page 1"
    assert cache.get("k", view_b, lambda: render(3)) == b"page 3"
    assert renders == [1, 3]


def test_the_page_cache_is_bounded_by_bytes_and_count() -> None:
    cache = RenderedPages(max_pages=3, max_bytes=800)
    views = [object() for _ in range(10)]
    for i, view in enumerate(views):
        cache.get(i, view, lambda: b"x" * 90)
    assert len(cache._kept) == 3
    big = RenderedPages(max_pages=100, max_bytes=800)
    for i, view in enumerate(views):
        big.get(i, view, lambda: b"x" * 99)
    assert big._bytes <= 800


# --- query-only inputs kept parsed ------------------------------------------------------------------------------


def _rest_json() -> tuple[RestJsonProtocol, ServiceSpec]:
    service = load_service("codeartifact")
    return RestJsonProtocol(service, ServiceHandlers({}, None)), service


def _parsed(protocol: RestJsonProtocol, service: ServiceSpec, method: str, target: str, body: bytes = b"") -> Any:
    path, _, query = target.partition("?")
    request = RestJsonRequest(
        method, path, IncomingRequest(method, path, query, []), body, tuple(parse_qsl(query, keep_blank_values=True))
    )
    return protocol.parse(request, protocol.operation(request))


def test_a_query_only_input_is_parsed_once_and_handed_out_read_only() -> None:
    protocol, service = _rest_json()
    target = "/v1/authorization-token?domain=acme&domain-owner=111122223333&duration=900"
    first = _parsed(protocol, service, "POST", target)
    assert dict(first) == {"domain": "acme", "domainOwner": "111122223333", "durationSeconds": 900}
    assert _parsed(protocol, service, "POST", target) is first
    with pytest.raises(TypeError):
        first["domain"] = "other"  # type: ignore[index]
    assert dict(_parsed(protocol, service, "POST", target + "0")) == {**first, "durationSeconds": 9000}
    # a body is not read by a query-only operation, kept or not
    assert _parsed(protocol, service, "POST", target, body=b"not json") is first


def test_a_refused_query_only_input_is_refused_every_time() -> None:
    protocol, service = _rest_json()
    for _ in range(2):
        with pytest.raises(ValidationError, match="durationSeconds"):
            _parsed(protocol, service, "POST", "/v1/authorization-token?domain=acme&duration=86400")


def test_inputs_with_a_body_or_a_list_are_parsed_every_time() -> None:
    protocol, service = _rest_json()
    body = b'{"versions": ["1.0"]}'
    target = "/v1/package/versions/delete?domain=acme&repository=repo&format=pypi&package=p"
    first = _parsed(protocol, service, "POST", target, body=body)
    assert first["versions"] == ["1.0"]
    assert _parsed(protocol, service, "POST", target, body=body) is not first


def test_the_kept_inputs_are_bounded() -> None:
    protocol, service = _rest_json()
    for n in range(MAX_PARSED + 5):
        _parsed(protocol, service, "GET", f"/v1/domain?domain=d{n}")
    assert len(protocol._parsed) <= MAX_PARSED
    long_value = "x" * 8000  # ignored by the parser, but part of the query kept
    for n in range(300):
        _parsed(protocol, service, "GET", f"/v1/domain?domain=d{n}&junk={long_value}")
    assert protocol._parsed_bytes <= MAX_PARSED_BYTES and len(protocol._parsed) < 300


# --- the CodeArtifact API reached before Starlette ---------------------------------------------------------------


def test_direct_routes_skip_starlettes_stack_and_nothing_else() -> None:
    seen: list[str] = []

    class Marker:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append("middleware " + scope["path"])
            await self.app(scope, receive, send)

    async def api(scope: Any, receive: Any, send: Any) -> None:
        seen.append("api " + scope["path"])
        assert scope["app"] is app
        await PlainTextResponse("api")(scope, receive, send)

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("page")

    started: list[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> Any:
        started.append(True)
        yield

    app = DirectRoutesApp(
        direct=(("/v1/", api),),
        routes=[Route("/{rest:path}", page)],
        middleware=[Middleware(Marker)],
        lifespan=lifespan,
    )

    async def call(scope: dict[str, Any]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        first = {"type": "lifespan.startup"} if scope["type"] == "lifespan" else {"type": "http.request"}
        incoming = [first, {"type": "lifespan.shutdown"}]

        async def receive() -> dict[str, Any]:
            return incoming.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    def body_of(method: str, path: str) -> bytes:
        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [], "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80)}  # fmt: skip
        return b"".join(m.get("body", b"") for m in asyncio.run(call(scope)))

    lifespan_messages = asyncio.run(call({"type": "lifespan"}))
    assert started == [True] and lifespan_messages[0]["type"] == "lifespan.startup.complete"
    assert body_of("POST", "/v1/authorization-token") == b"api"
    assert body_of("GET", "/v1") == b"page"  # the prefix is "/v1/"
    assert body_of("GET", "/pypi/x") == b"page"
    assert seen == ["api /v1/authorization-token", "middleware /v1", "middleware /pypi/x"]


# --- the package match, one statement for reads and writes -------------------------------------------------------


@pytest.mark.parametrize("dialect", [sqlite_dialect(), postgresql_dialect()], ids=["sqlite", "postgresql"])
def test_a_write_that_sets_the_packages_own_columns_binds_apart_from_the_match(dialect: Any) -> None:
    """The match's parameters must never meet the VALUES/SET binds a write names after its columns."""
    ref = PackageRef(RepoRef(OWNER, DOMAIN, "repo"), "pypi", "", "flask")
    stmt = (
        update(packages)
        .where(packages.c.id == _package_id_select(ref).scalar_subquery())
        .values(name="renamed", format="npm", namespace="ns")
    )
    compiled = stmt.compile(dialect=dialect)
    params = compiled.params
    assert params["name"] == "renamed" and params["format"] == "npm" and params["namespace"] == "ns"
    assert params["pkg_name"] == "flask" and params["pkg_format"] == "pypi" and params["pkg_owner"] == OWNER


def test_only_inputs_of_scalars_in_the_query_alone_are_kept() -> None:
    model = copy.deepcopy(SYNTH)
    for name, members in {
        "Lookup": {"since": "Time", "flag": "Bool", "size": "Long"},  # every member a scalar in the query
        "Tagged": {"tags": "StrList", "flag": "Bool"},  # a list member
    }.items():
        model["operations"][name] = {
            "name": name,
            "http": {"method": "GET", "requestUri": f"/v1/{name.lower()}"},
            "input": {"shape": f"{name}Request"},
        }
        model["shapes"][f"{name}Request"] = {
            "type": "structure",
            "members": {
                member: {"shape": shape, "location": "querystring", "locationName": member}
                for member, shape in members.items()
            },
        }
    service = build_service(botocore.model.ServiceModel(model, service_name="synth"))
    kept = RestJsonProtocol(service, ServiceHandlers({}, None))._query_only
    assert "Lookup" in kept and "Tagged" not in kept
    assert "GetThing" not in kept and "PutObject" not in kept and "Search" not in kept  # labels, headers, a body
