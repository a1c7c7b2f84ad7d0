"""Uploads are authorized before their body is read, and every limit holds as the bytes arrive (issue 7, defect 4),
and an upload's digests are checked before its blob is kept (defect 5).

Against a real ``coffer serve`` (its file size limit lowered to 4 MiB with ``COFFER_MAX_UPLOAD_BYTES``), driven by a
raw-socket client that streams the body from one thread while another waits for the answer, so a test sees how much
of the body had been sent when the answer came. Memory and disk are measured on the server process: its peak RSS
(``VmHWM``) and the bytes of the files it holds open or has written under its temporary directories.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import itertools
import json
import os
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Domain, Repository
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import PackageRef, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.policy import parse_policy
from coffer.core.shared.arns import domain_arn, repository_arn, user_arn
from coffer.core.shared.errors import AccessDeniedError, ResourceNotFoundError
from coffer.core.shared.pagination import Paginator
from coffer.core.shared.signing import KeyRing, SigningKey
from coffer.formats.multipart import BLOCK as MULTIPART_BLOCK
from coffer.formats.multipart import FilePart, FormError, FormLimits, boundary_of, read_form
from coffer.store.blobs import FileBlobStore
from coffer.store.sql_store import SqlStore, open_store
from tests.functional.conftest import ACCOUNT, make_client, new_user, token_policy
from tests.functional.dists import build_wheel, upload_form
from tests.functional.pypi_clients import Repo, twine_upload
from tests.functional.server import RunningServer, running_server
from tests.raw_http import stream_request

MiB = 1024 * 1024
CAP = 4 * MiB  # the server's file size limit in these tests
RSS_BUDGET = 64 * MiB
BLOCK = b"x" * MiB


# --- the server, its repository and principals ---------------------------------------------------------------


@dataclass
class Setup:
    server: RunningServer
    tmpdir: Path  # the server's TMPDIR
    repo: Repo  # as the admin (may publish)
    reader_token: str  # a principal that may read the repository, not publish to it

    @property
    def pid(self) -> int:
        return self.server.process.pid


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("limits")
    tmpdir = root / "tmp"
    tmpdir.mkdir()
    env = {"COFFER_MAX_UPLOAD_BYTES": str(CAP), "TMPDIR": str(tmpdir)}
    with running_server(root / "data", "--account-id", ACCOUNT, env=env) as server:
        admin = make_client(server)
        admin.create_domain(domain="limits")
        admin.create_repository(domain="limits", repository="main")
        endpoint = admin.get_repository_endpoint(domain="limits", repository="main", format="pypi")[
            "repositoryEndpoint"
        ]
        token = admin.get_authorization_token(domain="limits")["authorizationToken"]
        reader = new_user(server, token_policy("codeartifact:ReadFromRepository"))
        reader_token = reader.get_authorization_token(domain="limits", domainOwner=ACCOUNT)["authorizationToken"]
        yield Setup(server, tmpdir, Repo("limits", "main", endpoint, token, server), reader_token)


# --- measuring the server ---------------------------------------------------------------------------------------


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} for {pid}")


def peak_rss(pid: int) -> int:
    return _status_kib(pid, "VmHWM") * 1024


def _tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def spooled_bytes(setup: Setup) -> int:
    """Bytes of upload data the server has on disk: files under its TMPDIR and blobs/tmp, and the (unlinked)
    files there it holds open."""
    dirs = (str(setup.tmpdir), str(setup.server.data_dir / "blobs" / "tmp"))
    total = sum(_tree_bytes(Path(d)) for d in dirs)
    fd_dir = Path(f"/proc/{setup.pid}/fd")
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / fd)
            info = os.stat(fd_dir / fd)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and target.endswith(" (deleted)") and target.startswith(dirs):
            total += info.st_size
    return total


class Sampler:
    """Polls the server's spooled bytes while a request runs; ``peak`` is the largest seen."""

    def __init__(self, setup: Setup) -> None:
        self._setup = setup
        self.peak = spooled_bytes(setup)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, spooled_bytes(self._setup))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, spooled_bytes(self._setup))


def blob_files(setup: Setup) -> set[str]:
    return {p.name for p in (setup.server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()}


# --- a raw HTTP/1.1 client that streams a body while it waits for the answer --------------------------------------


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes handed to the kernel when the status line arrived
    total: int | None  # body bytes the request would have sent (None: not known in advance)
    seconds: float  # from the end of the request head to the status line


@dataclass
class Body:
    pieces: Iterable[bytes]
    length: int | None = None  # None: chunked
    sent: int = 0
    done: bool = False


def exchange(url: str, token: str, body: Body, *, wait: float = 0.0, timeout: float = 120) -> Reply:
    """POST ``body`` to ``url`` (Basic auth aws:``token``); the body is sent from another thread, starting
    ``wait`` seconds after the head, and stops when the answer arrives."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    auth = base64.b64encode(f"aws:{token}".encode()).decode()
    head = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Authorization: Basic {auth}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
    ]
    raw = stream_request(host, port, head, body.pieces, body.length, wait=wait, timeout=timeout)
    body.sent, body.done = raw.sent_after, raw.done_after
    return Reply(raw.status, raw.reason, raw.headers, raw.body, raw.sent, body.length, raw.seconds)


# --- multipart bodies, generated as they are sent --------------------------------------------------------------------

BOUNDARY = "coffer-limits-boundary"


def part_head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    extra = "\r\nContent-Type: application/octet-stream" if filename else ""
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}{extra}\r\n\r\n".encode()


def field_part(name: str, value: str | bytes) -> bytes:
    return part_head(name) + (value.encode() if isinstance(value, str) else value) + b"\r\n"


def big_part(name: str, size: int, filename: str | None = None) -> Iterator[bytes]:
    """One part holding ``size`` bytes of ``x``, sent a MiB at a time."""
    yield part_head(name, filename)
    full, rest = divmod(size, MiB)
    for _ in range(full):
        yield BLOCK
    if rest:
        yield BLOCK[:rest]
    yield b"\r\n"


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def sized(pieces: Callable[[], Iterable[bytes]], chunked: bool = False) -> Body:
    """A body from a generator function: its length is measured by a first pass (nothing is kept)."""
    return Body(pieces(), None if chunked else sum(len(p) for p in pieces()))


def upload_body(wheel: Path, *, extra: Iterable[bytes] = (), **overrides: str) -> Callable[[], Iterator[bytes]]:
    data = wheel.read_bytes()

    def pieces() -> Iterator[bytes]:
        for key, value in upload_form(wheel.name, data, **overrides).items():
            yield field_part(key, value)
        yield part_head("content", wheel.name) + data + b"\r\n"
        yield closing()
        yield from extra

    return pieces


# --- authorization before the body ---------------------------------------------------------------------------------


def test_read_only_principal_is_refused_before_any_body_byte(setup: Setup) -> None:
    """Content-Length says 480 MB, not a byte of it is sent: the 403 comes anyway."""
    body = Body(iter([BLOCK]), length=480 * MiB)
    reply = exchange(setup.repo.endpoint, setup.reader_token, body, wait=30, timeout=40)
    assert reply.status == 403, reply
    assert reply.sent == 0
    assert reply.seconds < 5
    assert "PublishPackageVersion" in reply.reason
    assert "PublishPackageVersion" in reply.body.decode()
    assert reply.headers.get("connection") == "close"


def _fields_480mb() -> Iterator[bytes]:
    # 120 fields just under 4 MiB each: within the per-part size and field count Starlette allowed
    for i in range(120):
        yield from big_part(f"description{i}", 4 * MiB - 1024)
    yield closing()


def test_read_only_uploads_of_480mb_of_fields_are_refused_with_memory_flat(setup: Setup) -> None:
    before = peak_rss(setup.pid)
    replies: list[Reply] = []
    lock = threading.Lock()

    def one() -> None:
        reply = exchange(setup.repo.endpoint, setup.reader_token, sized(_fields_480mb))
        with lock:
            replies.append(reply)

    with Sampler(setup) as disk:
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    growth = peak_rss(setup.pid) - before
    print(f"4 read-only uploads of 480 MB of fields: peak RSS growth {growth / MiB:.1f} MiB")
    assert len(replies) == 4
    for reply in replies:
        assert reply.status == 403, reply
        assert reply.total is not None and reply.sent < reply.total // 4, (reply.sent, reply.total)
    assert growth < RSS_BUDGET, growth
    assert disk.peak < MiB, disk.peak


# --- limits on fields, as they arrive -------------------------------------------------------------------------------


def _refused_promptly(setup: Setup, body: Body, status: int = 413) -> Reply:
    before = peak_rss(setup.pid)
    with Sampler(setup) as disk:
        reply = exchange(setup.repo.endpoint, setup.repo.token, body)
    growth = peak_rss(setup.pid) - before
    print(f"{reply.status} {reply.reason!r} after {reply.sent / MiB:.1f} MiB sent; RSS +{growth / MiB:.1f} MiB")
    assert reply.status == status, reply
    assert reply.reason in reply.body.decode()
    assert reply.headers.get("connection") == "close"
    assert not body.done, "the whole body was sent before the answer"
    assert growth < RSS_BUDGET, growth
    assert disk.peak < CAP + 2 * MiB, disk.peak
    assert spooled_bytes(setup) < MiB
    return reply


def test_too_many_fields_are_refused_as_they_arrive(setup: Setup) -> None:
    def pieces() -> Iterator[bytes]:
        yield field_part(":action", "file_upload")
        for i in range(400_000):  # ~ 100 MB of tiny fields
            yield field_part("classifiers", f"Topic :: Test {i} " + "c" * 180)
        yield closing()

    reply = _refused_promptly(setup, Body(pieces()))  # chunked: the declared length would be refused at once
    assert "Too many form fields: the limit is 1000 fields" in reply.reason


def test_an_oversized_field_is_refused_as_it_arrives(setup: Setup) -> None:
    def pieces() -> Iterator[bytes]:
        yield field_part(":action", "file_upload")
        yield from big_part("description", 300 * MiB)
        yield closing()

    reply = _refused_promptly(setup, Body(pieces()))  # chunked: the declared length would be refused at once
    assert "Form field 'description' too large: the limit is 4194304 bytes per field" in reply.reason
    assert reply.sent < 100 * MiB


def test_fields_together_are_capped(setup: Setup) -> None:
    def pieces() -> Iterator[bytes]:
        for i in range(100):
            yield from big_part(f"field{i}", 3 * MiB)
        yield closing()

    reply = _refused_promptly(setup, Body(pieces()))  # chunked: the declared length would be refused at once
    assert "Form fields too large: the limit is 8388608 bytes" in reply.reason


# --- limits on the file and the whole body, chunked or not ------------------------------------------------------------


def test_a_chunked_file_over_the_limit_is_refused_as_it_arrives(setup: Setup, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "limits-big", "1.0")
    fields = upload_form(wheel.name, wheel.read_bytes())

    def pieces() -> Iterator[bytes]:
        for key, value in fields.items():
            yield field_part(key, value)
        yield from big_part("content", 64 * CAP, wheel.name)
        yield closing()

    blobs = blob_files(setup)
    reply = _refused_promptly(setup, Body(pieces()))
    assert reply.reason.startswith(f"File too large: the limit is {CAP} bytes")
    assert blob_files(setup) == blobs


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(setup: Setup, tmp_path: Path) -> None:
    """A complete, valid form followed by an endless epilogue: the body cap counts every byte received."""
    wheel = build_wheel(tmp_path, "limits-epilogue", "1.0")
    reply = _refused_promptly(setup, Body(upload_body(wheel, extra=itertools.repeat(BLOCK, 256))()))
    assert reply.reason.startswith("Request body too large: the limit is")
    with_length = sized(upload_body(wheel, extra=itertools.repeat(BLOCK, 256)))
    reply = exchange(setup.repo.endpoint, setup.repo.token, with_length, wait=30, timeout=40)
    assert reply.status == 413  # a declared length over the limit: refused from the head alone
    assert reply.sent == 0
    assert reply.reason.startswith("Request body too large")


def test_a_second_content_file_is_refused(setup: Setup, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "limits-two", "1.0")
    data = wheel.read_bytes()

    def pieces() -> Iterator[bytes]:
        for key, value in upload_form(wheel.name, data).items():
            yield field_part(key, value)
        yield part_head("content", wheel.name) + data + b"\r\n"
        yield from big_part("content", 2 * MiB, wheel.name)
        yield closing()

    reply = exchange(setup.repo.endpoint, setup.repo.token, sized(pieces))
    assert reply.status == 400
    assert "more than 1 file part" in reply.reason


# --- digests before the blob is kept ----------------------------------------------------------------------------------


def test_a_digest_mismatch_keeps_no_blob(setup: Setup, tmp_path: Path) -> None:
    blobs = blob_files(setup)
    wheel = build_wheel(tmp_path, "limits-digest", "1.0")
    for key, size in (("sha256_digest", 64), ("md5_digest", 32), ("blake2_256_digest", 64)):
        reply = exchange(setup.repo.endpoint, setup.repo.token, sized(upload_body(wheel, **{key: "0" * size})))
        assert reply.status == 400, reply
        assert "digest supplied does not match" in reply.reason
        assert blob_files(setup) == blobs, key
    assert spooled_bytes(setup) < MiB


def test_digests_sent_after_the_file_are_checked_too(setup: Setup, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "limits-late", "1.0")
    data = wheel.read_bytes()
    fields = upload_form(wheel.name, data, sha256_digest="1" * 64)

    def pieces() -> Iterator[bytes]:
        yield part_head("content", wheel.name) + data + b"\r\n"
        for key, value in fields.items():
            yield field_part(key, value)
        yield closing()

    blobs = blob_files(setup)
    reply = exchange(setup.repo.endpoint, setup.repo.token, sized(pieces))
    assert reply.status == 400 and "(sha256)" in reply.reason, reply
    assert blob_files(setup) == blobs
    fields["sha256_digest"] = hashlib.sha256(data).hexdigest()
    reply = exchange(setup.repo.endpoint, setup.repo.token, sized(pieces))
    assert reply.status == 200, reply


# --- what must still work ----------------------------------------------------------------------------------------------


def test_uploads_within_the_limits_work(setup: Setup, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "limits-ok", "1.0")
    r = twine_upload(setup.repo, tmp_path, wheel)
    assert r.returncode == 0, r.stdout + r.stderr
    # many repeated fields (one part per classifier), a long description, a gpg_signature file part, chunked
    other = build_wheel(tmp_path, "limits-ok", "2.0")
    many = [field_part("classifiers", f"Topic :: Software Development :: Test {i}") for i in range(600)]
    signature = [part_head("gpg_signature", other.name + ".asc") + b"-----BEGIN PGP SIGNATURE-----\r\n"]
    description = [field_part("description", "d" * (3 * MiB))]
    data = other.read_bytes()

    def pieces() -> Iterator[bytes]:
        yield from many
        yield from description
        for key, value in upload_form(other.name, data).items():
            yield field_part(key, value)
        yield from signature
        yield part_head("content", other.name) + data + b"\r\n"
        yield closing()

    reply = exchange(setup.repo.endpoint, setup.repo.token, Body(pieces()))
    assert reply.status == 200, reply
    assert "connection" not in reply.headers
    # a file just under the limit is accepted (the metadata check refuses it, not a limit)
    junk = tmp_path / "limits_ok-3.0-py3-none-any.whl"
    fields = upload_form(junk.name, b"x" * (CAP - 1))

    def near_cap() -> Iterator[bytes]:
        for key, value in fields.items():
            yield field_part(key, value)
        yield from big_part("content", CAP - 1, junk.name)
        yield closing()

    reply = exchange(setup.repo.endpoint, setup.repo.token, Body(near_cap()))
    assert reply.status == 400 and "zip" in reply.reason, reply


def test_a_principal_allowed_one_package_uploads_it_and_nothing_else(setup: Setup, tmp_path: Path) -> None:
    package_arn = f"arn:aws:codeartifact:us-east-1:{ACCOUNT}:package/limits/main/pypi//limits-mine"
    policy = token_policy("codeartifact:ReadFromRepository")
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": package_arn}
    )
    user = new_user(setup.server, policy)
    token = user.get_authorization_token(domain="limits", domainOwner=ACCOUNT)["authorizationToken"]
    mine = build_wheel(tmp_path, "limits-mine", "1.0")
    reply = exchange(setup.repo.endpoint, token, sized(upload_body(mine)))
    assert reply.status == 200, reply
    theirs = build_wheel(tmp_path, "limits-theirs", "1.0")
    data = theirs.read_bytes()

    def pieces() -> Iterator[bytes]:
        for key, value in upload_form(theirs.name, data).items():
            yield field_part(key, value)
        yield from big_part("content", 64 * MiB, theirs.name)
        yield closing()

    with Sampler(setup) as disk:
        reply = exchange(setup.repo.endpoint, token, Body(pieces()))
    assert reply.status == 403, reply
    assert "package/limits/main/pypi//limits-theirs" in reply.reason
    assert reply.headers.get("connection") == "close"
    assert disk.peak < MiB  # refused when the file part began, before any of its bytes were kept


# --- the early check, policy by policy (in process) ------------------------------------------------------------------

REGION = "us-east-1"
OWNER = "111122223333"
OTHER = "444455556666"
SPACE = f"arn:aws:codeartifact:{REGION}:{OWNER}:package/dom/r"


@dataclass
class Service:
    svc: PackageService
    store: SqlStore
    repo: RepoRef
    policies: list[str] = field(default_factory=list)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    store = open_store(f"sqlite:///{tmp_path / 'coffer.db'}")
    clock = time.time
    ring = KeyRing([SigningKey.generate(0.0)])
    deps = Deps(
        store=store,
        clock=clock,
        region=REGION,
        authorizer=Authorizer(clock, REGION),
        paginator=Paginator(lambda: ring),
        cache_ttl=0.0,
    )
    store.create_domain(
        Domain(name="dom", owner=OWNER, arn=domain_arn(REGION, OWNER, "dom"), created_time=0.0, encryption_key="k"), {}
    )
    store.create_repository(
        Repository(
            domain_name="dom",
            domain_owner=OWNER,
            name="r",
            arn=repository_arn(REGION, OWNER, "dom", "r"),
            administrator_account=OWNER,
            created_time=0.0,
        ),
        {},
    )
    yield Service(PackageService(deps, FileBlobStore(tmp_path / "blobs")), store, RepoRef(OWNER, "dom", "r"))
    store.close()


def _caller(*statements: dict[str, Any], account: str = OWNER) -> Caller:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return Caller(
        account_id=account,
        arn=user_arn(account, "carol"),
        user_id="AIDAEXAMPLECAROL",
        user_name="carol",
        kind="user",
        access_key_id="AKIAEXAMPLE",
        policies=(parse_policy(json.dumps(document), "identity"),) if statements else (),
    )


def _allow(resource: str | list[str], action: str = "codeartifact:PublishPackageVersion") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _deny(resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": "codeartifact:PublishPackageVersion", "Resource": resource}


def _early(service: Service, who: Caller) -> bool:
    try:
        service.svc.authorize_publish_to_repository(who, service.repo, "pypi")
    except AccessDeniedError as exc:
        assert f"codeartifact:PublishPackageVersion on resource: {SPACE}/pypi//*" in exc.message
        return False
    return True


def _late(service: Service, who: Caller, name: str) -> bool:
    try:
        service.svc.authorize_publish(who, PackageRef(service.repo, "pypi", None, name))
    except AccessDeniedError:
        return False
    return True


@pytest.mark.parametrize(
    ("statements", "early", "allowed", "refused"),
    [
        ([_allow("*")], True, ["any"], []),
        ([_allow(f"{SPACE}/*")], True, ["any"], []),
        ([_allow(f"{SPACE}/pypi//mine")], True, ["mine"], ["other"]),
        ([_allow(f"{SPACE}/pypi//team-*")], True, ["team-a"], ["other"]),
        ([_allow(f"arn:aws:codeartifact:*:{OWNER}:package/dom/*/pypi/*/mine")], True, ["mine"], ["other"]),
        ([_allow(f"arn:aws:codeartifact:{REGION}:{OWNER}:package/dom/other/*")], False, [], ["any"]),
        ([_allow(f"arn:aws:codeartifact:{REGION}:{OWNER}:repository/dom/r")], False, [], ["any"]),
        ([_allow("*", "codeartifact:ReadFromRepository")], False, [], ["any"]),
        ([], False, [], ["any"]),
        ([_allow("*"), _deny(f"{SPACE}/*")], False, [], ["any"]),
        ([_allow("*"), _deny("arn:aws:codeartifact:*:*:package/dom/r*")], False, [], ["any"]),
        ([_allow("*"), _deny(f"{SPACE}/pypi//other")], True, ["mine"], ["other"]),
        ([_allow("*"), _deny(f"{SPACE}/pypi//?")], True, ["mine"], ["a"]),
        ([_allow("*"), {**_deny(""), "Resource": None, "NotResource": f"{SPACE}/pypi//mine"}], True, ["mine"], ["x"]),
        ([{**_allow(""), "Resource": None, "NotResource": f"{SPACE}/*"}], False, [], ["any"]),
        ([{**_allow(""), "Resource": None, "NotResource": f"{SPACE}/pypi//other"}], True, ["mine"], ["other"]),
        ([_allow("arn:aws:codeartifact:*:*:package/dom/r/pypi//${aws:username}")], True, ["carol"], ["bob"]),
        ([_allow("*"), _deny("arn:aws:codeartifact:*:*:package/dom/r/pypi//${aws:username}*")], True, ["x"], ["carol"]),
        ([_allow("*"), {**_deny("*"), "Condition": {"Bool": {"aws:SecureTransport": "false"}}}], False, [], ["any"]),
        ([{**_allow("*"), "Condition": {"Bool": {"aws:SecureTransport": "true"}}}], False, [], ["any"]),
    ],
)
def test_the_early_check_refuses_only_those_no_package_would_admit(
    service: Service, statements: list[dict[str, Any]], early: bool, allowed: list[str], refused: list[str]
) -> None:
    for statement in statements:
        if statement.get("Resource") is None:
            statement.pop("Resource", None)
    who = _caller(*statements)
    assert _early(service, who) is early
    for name in allowed:
        assert _late(service, who, name), name
    for name in refused:
        assert not _late(service, who, name), name
    if not early:  # sound: nothing the early check refuses is allowed later
        for name in ("any", "mine", "other", "team-a", "carol", "a"):
            assert not _late(service, who, name), name


def test_the_early_check_honours_the_repository_policy_across_accounts(service: Service) -> None:
    outsider = _caller(_allow("*"), account=OTHER)
    assert not _early(service, outsider)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "codeartifact:PublishPackageVersion",
                "Resource": f"{SPACE}/pypi//shared",
            }
        ],
    }
    service.store.put_resource_policy(repository_arn(REGION, OWNER, "dom", "r"), json.dumps(policy), None)
    assert _early(service, outsider)
    assert _late(service, outsider, "shared") and not _late(service, outsider, "other")
    assert not _early(service, _caller(account=OTHER))  # the resource policy alone is not enough across accounts
    assert not _early(
        service, dataclasses.replace(outsider, arn=user_arn("999988887777", "eve"), account_id="999988887777")
    )


def test_the_early_check_then_requires_the_repository(service: Service) -> None:
    who = _caller(_allow("*"))
    with pytest.raises(ResourceNotFoundError):
        service.svc.authorize_publish_to_repository(who, RepoRef(OWNER, "dom", "missing"), "pypi")
    with pytest.raises(AccessDeniedError):  # authorization first, as for reads
        service.svc.authorize_publish_to_repository(_caller(), RepoRef(OWNER, "dom", "missing"), "pypi")


# --- the streaming form reader (in process) ---------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.fields: list[tuple[str, str]] = []
        self.files: dict[str, bytearray] = {}
        self.closed: list[str] = []
        self.writes: list[int] = []

    def keeps(self, name: str) -> bool:
        return not name.startswith("drop")

    async def on_field(self, name: str, value: str) -> None:
        self.fields.append((name, value))

    async def on_file(self, part: FilePart) -> Any:
        collector = self
        self.files[part.filename] = buf = bytearray()

        class Sink:
            async def write(self, data: bytes) -> None:
                collector.writes.append(len(data))
                buf.extend(data)

            async def close(self) -> None:
                collector.closed.append(part.filename)

        return Sink()


def _read(body: bytes, chunk: int, limits: FormLimits | None = None) -> _Collector:
    collector = _Collector()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    limits = limits or FormLimits(max_body_bytes=64 * MiB, max_file_bytes=32 * MiB, file_fields=frozenset({"content"}))
    asyncio.run(read_form(chunks(), BOUNDARY.encode(), limits, collector))
    return collector


def _sample_body(file_size: int = 3 * MiB + 17) -> tuple[bytes, bytes]:
    data = os.urandom(file_size)
    body = b"".join(
        [
            field_part("name", "démo"),
            field_part("drop-me", "x" * 1000),
            part_head("other", "other.bin") + b"dropped file" + b"\r\n",
            part_head("content", "demo-1.0.tar.gz") + data + b"\r\n",
            field_part("version", "1.0"),
            b"--" + BOUNDARY.encode() + b"--\r\nepilogue",
        ]
    )
    return body, data


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65536, 3 * MiB])
def test_the_form_reader_sees_the_same_form_however_the_body_is_cut(chunk: int) -> None:
    body, data = _sample_body(300_000 if chunk < 4096 else 3 * MiB + 17)
    got = _read(body, chunk)
    assert got.fields == [("name", "démo"), ("version", "1.0")]
    assert list(got.files) == ["demo-1.0.tar.gz"]
    assert bytes(got.files["demo-1.0.tar.gz"]) == data
    assert got.closed == ["demo-1.0.tar.gz"]
    assert max(got.writes) <= MULTIPART_BLOCK + chunk  # handed over in blocks, never whole


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (field_part("name", "x"), 400, "ends before its closing boundary"),
        (b"garbage" + field_part("name", "x") + closing(), 400, "malformed multipart body"),
        (part_head("x").replace(b"form-data", b"attachment") + b"v\r\n" + closing(), 400, "no Content-Disposition"),
        (b"".join(field_part("f", "v") for _ in range(11)) + closing(), 413, "Too many form fields: the limit is 10"),
        (field_part("f", "v" * 101) + closing(), 413, "Form field 'f' too large: the limit is 100 bytes"),
        (b"".join(field_part(f"f{i}", "v" * 90) for i in range(6)) + closing(), 413, "Form fields too large"),
        (
            b"".join(part_head("content", f"f{i}.whl") + b"x\r\n" for i in range(2)) + closing(),
            400,
            "more than 1 file part(s) named 'content'",
        ),
        (part_head("content", "f.whl") + b"x" * 1001 + b"\r\n" + closing(), 413, "File too large: the limit is 1000"),
        (field_part("f", "v") + closing() + b"e" * 5000, 413, "Request body too large: the limit is 4096 bytes"),
    ],
)
def test_the_form_reader_refuses_at_the_first_limit(body: bytes, status: int, message: str) -> None:
    limits = FormLimits(
        max_body_bytes=4096,
        max_file_bytes=1000,
        file_fields=frozenset({"content"}),
        max_fields=10,
        max_field_bytes=100,
        max_fields_bytes=600,
    )
    with pytest.raises(FormError) as info:
        _read(body, 64, limits)
    assert info.value.status == status
    assert message in info.value.message, info.value.message


def test_boundaries_are_read_from_the_content_type() -> None:
    assert boundary_of("multipart/form-data; boundary=abc") == b"abc"
    assert boundary_of('Multipart/Form-Data; charset=utf-8; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data") is None
    assert boundary_of("application/x-www-form-urlencoded; boundary=abc") is None
