"""The data directory against real processes (issue 7, defects 2 (modes), 5 and 9).

- Modes: with umask 000 and a data directory the user made 0755, everything Coffer creates (database with its
  -wal and -shm, keys, credentials, blobs and their directories) is 0600/0700, and the start warns about the
  directory in one line (without changing it).
- Uploads in flight: a command that opens the data directory (``coffer token``, ``coffer admin ...``) sweeps only
  temporary files no live writer holds: a real server's streamed upload, and a writer in another process whose
  temporary file is hours old, both finish; a stale unlocked ``.part`` is swept.
- Garbage collection: ``coffer admin gc`` removes unreferenced blobs older than the grace period, keeps those in use
  and young ones, ``--dry-run`` removes nothing; the server collects on its own every ``COFFER_GC_INTERVAL``.
- Read-only data: on a read-only mount (a private mount namespace: ``unshare -m``, as root) and as an unprivileged
  user on a directory it cannot write, ``admin list-users``, ``token`` and ``admin gc --dry-run`` work; ``serve`` and
  the commands that write say in one line which path cannot be written and why, no traceback.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from coffer.app.bootstrap import open_data
from coffer.core.codeartifact.token_format import PREFIX as TOKEN_PREFIX
from coffer.settings import Settings
from coffer.store.blobs import FileBlobStore
from tests.functional.conftest import ACCOUNT, make_client
from tests.functional.dists import upload_form
from tests.functional.server import RunningServer, running_server

HOURS_AGO = 2 * 3600


def coffer(*args: str, umask: int | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coffer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
        **kwargs,
    )


def admin(data: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return coffer("admin", "--data-dir", str(data), *args, **kwargs)


def new_data(data: Path) -> None:
    """A fresh data directory, made as `coffer serve` makes it on first start (no other command creates one)."""
    open_data(Settings(data_dir=data, account_id=ACCOUNT), create=True).store.close()


def age(path: Path, seconds: float = HOURS_AGO) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def blob_path(data: Path, sha256: str) -> Path:
    return data / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256


def parts(data: Path) -> list[Path]:
    return sorted((data / "blobs" / "tmp").glob("*.part"))


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    """The single line a refusal prints (and nothing else: no traceback)."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- distributions and uploads --------------------------------------------------------------------------------


def wheel_bytes(name: str, version: str, payload: bytes = b"") -> tuple[str, bytes]:
    """A small valid wheel (file name, bytes); ``payload`` is stored uncompressed in it."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n\n".encode()
    files = {
        f"{dist}/__init__.py": b"VALUE = 1\n",
        f"{dist}/payload.bin": payload,
        f"{info}/METADATA": meta,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: coffer-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{p},{digest(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return f"{dist}-{version}-py3-none-any.whl", out.getvalue()


@dataclass
class Repo:
    server: RunningServer
    domain: str
    name: str
    endpoint: str
    token: str

    def upload(self, filename: str, data: bytes) -> httpx.Response:
        return httpx.post(
            self.endpoint,
            auth=("aws", self.token),
            data=upload_form(filename, data),
            files={"content": (filename, data, "application/octet-stream")},
            timeout=60,
        )

    def download(self, filename: str) -> httpx.Response:
        name = filename.split("-")[0].replace("_", "-")
        index = httpx.get(f"{self.endpoint}simple/{name}/", auth=("aws", self.token), timeout=30)
        assert index.status_code == 200, index.text
        href = index.text.split(f">{filename}<")[0].rsplit('href="', 1)[1].split('"')[0]
        url = urllib.parse.urljoin(f"{self.endpoint}simple/{name}/", href.split("#")[0])
        return httpx.get(url, auth=("aws", self.token), timeout=30, follow_redirects=True)


def new_repo(server: RunningServer, domain: str, name: str = "main") -> Repo:
    ca = make_client(server)
    with contextlib.suppress(ca.exceptions.ConflictException):
        ca.create_domain(domain=domain)
    ca.create_repository(domain=domain, repository=name)
    endpoint = ca.get_repository_endpoint(domain=domain, repository=name, format="pypi")["repositoryEndpoint"]
    token = ca.get_authorization_token(domain=domain, durationSeconds=3600)["authorizationToken"]
    return Repo(server, domain, name, endpoint, token)


class SlowUpload:
    """A twine-style multipart upload on a raw socket, sent in two halves at the test's pace."""

    def __init__(self, repo: Repo, filename: str, data: bytes) -> None:
        boundary = "coffer-test-boundary-7a1c"
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in upload_form(filename, data).items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._body = head + data + f"\r\n--{boundary}--\r\n".encode()
        url = urllib.parse.urlsplit(repo.endpoint)
        auth = base64.b64encode(f"aws:{repo.token}".encode()).decode()
        self._request = (
            f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(self._body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        self._sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=60)
        self._split = len(head) + len(data) // 2

    def send_first_half(self) -> None:
        self._sock.sendall(self._request + self._body[: self._split])

    def finish(self) -> int:
        self._sock.sendall(self._body[self._split :])
        response = b""
        while chunk := self._sock.recv(65536):
            response += chunk
        self._sock.close()
        return int(response.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("coffer-data-dir") / "data", "--account-id", ACCOUNT) as srv:
        yield srv


# --- defect 2: modes --------------------------------------------------------------------------------------------


def test_everything_coffer_creates_is_private_under_umask_000(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    old = os.umask(0)
    try:
        with running_server(data, "--account-id", ACCOUNT) as srv:
            os.umask(old)
            repo = new_repo(srv, "modes")
            filename, wheel = wheel_bytes("modes-pkg", "1.0", os.urandom(1000))
            assert repo.upload(filename, wheel).status_code == 200
            assert admin(data, "create-user", "alice", umask=0).returncode == 0
            r = admin(data, "create-access-key", "alice", "--profile", "alice", umask=0)
            assert r.returncode == 0, r.stderr
            assert admin(data, "rotate-keys", umask=0).returncode == 0
            while_running = {p: mode(p) for p in data.rglob("*")}
            banner = "".join(srv.output)
    finally:
        os.umask(old)
    names = {str(p.relative_to(data)) for p in while_running}
    assert {"coffer.db", "coffer.db-wal", "coffer.db-shm", "credentials", "keys", "blobs/tmp"} <= names
    assert blob_path(data, hashlib.sha256(wheel).hexdigest()) in while_running
    assert len(list((data / "keys").glob("*.json"))) == 2
    after = {p: mode(p) for p in data.rglob("*")}
    wrong = {
        str(p.relative_to(data)): oct(m)
        for p, m in {**while_running, **after}.items()
        if p.exists() and m != (0o700 if p.is_dir() else 0o600)
    }
    assert wrong == {}
    assert mode(data) == 0o755  # the user's own directory: warned about, not changed
    warning = f"the data directory {data.resolve()} is open to other users (mode 0755)"
    assert warning in banner and f"chmod 700 {data.resolve()}" in banner


# --- defect 5: uploads in flight, sweeping, garbage collection ------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from coffer.store.blobs import FileBlobStore

    store = FileBlobStore(Path(sys.argv[1]))

    def chunks():
        yield b"first half " * 10_000
        print("writing", flush=True)
        sys.stdin.readline()
        yield b"second half " * 10_000

    print(store.write(chunks()).sha256, flush=True)
    """
)


def test_a_writer_in_another_process_survives_commands_that_open_the_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    new_data(data)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data / "blobs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "writing"
        (part,) = parts(data)
        age(part)  # hours old: only the writer's lock keeps it now
        assert admin(data, "list-users").returncode == 0
        assert admin(data, "create-user", "bob").returncode == 0
        coffer("token", "--data-dir", str(data), "--domain", "nowhere")  # fails (no domain), after opening the data
        assert parts(data) == [part]
        writer.stdin.write("\n")
        writer.stdin.flush()
        out, err = writer.communicate(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    expected = hashlib.sha256(b"first half " * 10_000 + b"second half " * 10_000).hexdigest()
    assert out.strip() == expected
    assert blob_path(data, expected).read_bytes() == b"first half " * 10_000 + b"second half " * 10_000
    assert parts(data) == []


def test_an_upload_in_flight_survives_token_and_admin_commands(server: RunningServer) -> None:
    repo = new_repo(server, "inflight")
    filename, wheel = wheel_bytes("inflight-pkg", "1.0", os.urandom(3 * 1024 * 1024))
    upload = SlowUpload(repo, filename, wheel)
    upload.send_first_half()
    time.sleep(0.5)  # let the server take in what was sent
    for part in parts(server.data_dir):
        age(part)  # a streaming writer's file, made to look abandoned: its lock must protect it
    token = coffer("token", "--data-dir", str(server.data_dir), "--domain", "inflight")
    assert token.returncode == 0, token.stderr
    listing = admin(server.data_dir, "list-users")
    assert listing.returncode == 0, listing.stderr
    gc = admin(server.data_dir, "gc")
    assert gc.returncode == 0, gc.stderr
    assert upload.finish() == 200
    downloaded = repo.download(filename)
    assert downloaded.status_code == 200 and downloaded.content == wheel


def test_only_stale_unlocked_temporary_files_are_swept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    new_data(data)
    tmp = data / "blobs" / "tmp"
    stale, young, held = tmp / "stale.part", tmp / "young.part", tmp / "held.part"
    for path in (stale, young, held):
        path.write_bytes(b"part of an upload")
    age(stale)
    age(held)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'rb'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True);"
            " sys.stdin.readline()",
            str(held),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert admin(data, "list-users").returncode == 0
        assert not stale.exists()
        assert young.exists() and held.exists()
    finally:
        holder.communicate("\n", timeout=30)
    assert admin(data, "list-users").returncode == 0
    assert not held.exists() and young.exists()  # its holder is gone: now it is stale and unlocked


def test_gc_removes_old_unreferenced_blobs_only(server: RunningServer) -> None:
    data = server.data_dir
    repo = new_repo(server, "gc")
    filename, wheel = wheel_bytes("gc-pkg", "1.0", os.urandom(2000))
    assert repo.upload(filename, wheel).status_code == 200
    blobs = FileBlobStore(data / "blobs")
    orphan = blobs.write_bytes(b"orphan " + os.urandom(16))  # as a refused upload would leave it
    young = blobs.write_bytes(b"young orphan " + os.urandom(16))  # as an upload about to commit
    used = blob_path(data, hashlib.sha256(wheel).hexdigest())
    for path in (used, blob_path(data, orphan.sha256)):
        age(path)
    dry = admin(data, "gc", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"would remove 1 unreferenced blob ({orphan.size} bytes)"), dry.stdout
    assert blobs.exists(orphan.sha256)
    done = admin(data, "gc")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"removed 1 unreferenced blob ({orphan.size} bytes)"), done.stdout
    assert not blobs.exists(orphan.sha256)
    assert blobs.exists(young.sha256) and used.exists()
    downloaded = repo.download(filename)
    assert downloaded.status_code == 200 and downloaded.content == wheel
    # a deleted version's file (and its extracted metadata) is garbage once its grace period is over
    make_client(server).delete_package_versions(
        domain="gc", repository="main", format="pypi", package="gc-pkg", versions=["1.0"]
    )
    again = admin(data, "gc", "--grace", "0")
    assert again.returncode == 0, again.stderr
    assert not used.exists() and not blobs.exists(young.sha256)
    assert again.stdout.startswith("removed "), again.stdout
    assert int(again.stdout.split()[1]) >= 2  # the wheel, its METADATA, the young orphan (and others' leftovers)


def test_the_server_collects_on_its_own(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"COFFER_GC_INTERVAL": "0.3", "COFFER_GC_GRACE": "600"}
    with running_server(data, "--account-id", ACCOUNT, env=env) as srv:
        repo = new_repo(srv, "auto")
        filename, wheel = wheel_bytes("auto-pkg", "1.0", os.urandom(2000))
        assert repo.upload(filename, wheel).status_code == 200
        used = blob_path(data, hashlib.sha256(wheel).hexdigest())
        age(used)
        blobs = FileBlobStore(data / "blobs")
        orphan = blobs.write_bytes(b"orphan " + os.urandom(16))
        young = blobs.write_bytes(b"young " + os.urandom(16))
        age(blob_path(data, orphan.sha256))
        deadline = time.monotonic() + 15
        while blobs.exists(orphan.sha256) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not blobs.exists(orphan.sha256)
        assert used.exists() and blobs.exists(young.sha256)
        downloaded = repo.download(filename)
        assert downloaded.status_code == 200 and downloaded.content == wheel


def test_a_bad_collection_setting_is_refused_before_start(tmp_path: Path) -> None:
    r = coffer(
        "serve", "--port", "0", "--data-dir", str(tmp_path / "d"), env={**os.environ, "COFFER_GC_INTERVAL": "-1"}
    )
    assert r.returncode == 2
    assert "COFFER_GC_INTERVAL must be a number of seconds" in r.stderr
    assert not (tmp_path / "d").exists()


# --- defect 9: read-only and unwritable data directories ----------------------------------------------------------


@cache
def can_mount_read_only() -> bool:
    probe = Path(tempfile.mkdtemp(prefix="coffer-ro-probe-"))
    try:
        r = subprocess.run(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                f"mount --bind {probe} {probe} && mount -o remount,bind,ro {probe} && ! touch {probe}/x 2>/dev/null",
            ],
            capture_output=True,
            timeout=30,
        )
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def read_only(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``coffer ARGS`` in a private mount namespace where ``data`` is mounted read-only."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(data), sys.executable, "-m", "coffer", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Copies:
    cold: Path  # copied from a stopped server: no write-ahead log
    warm: Path  # copied while the server ran: coffer.db, -wal and -shm


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Copies:
    base = tmp_path_factory.mktemp("coffer-ro")
    data = base / "data"
    with running_server(data, "--account-id", ACCOUNT) as srv:
        make_client(srv).create_domain(domain="rodom")
        assert admin(data, "create-user", "reader").returncode == 0
    shutil.copytree(data, base / "cold", symlinks=True)
    with running_server(data, "--account-id", ACCOUNT):
        assert admin(data, "create-user", "latecomer").returncode == 0
        time.sleep(0.2)
        shutil.copytree(data, base / "warm", symlinks=True)
    assert (base / "warm" / "coffer.db-wal").stat().st_size > 0
    assert not (base / "cold" / "coffer.db-wal").exists()
    return Copies(base / "cold", base / "warm")


def users(r: subprocess.CompletedProcess[str]) -> list[str]:
    import json

    assert r.returncode == 0, r.stderr
    return sorted(u["UserName"] for u in json.loads(r.stdout))


needs_mount = pytest.mark.skipif("not can_mount_read_only()", reason="needs unshare -m and mount (root)")


@needs_mount
def test_read_only_commands_work_on_a_read_only_mount(copies: Copies) -> None:
    assert users(read_only(copies.cold, "admin", "--data-dir", str(copies.cold), "list-users", "--json")) == [
        "admin",
        "reader",
    ]
    # the write-ahead log is read too (a read-only mount of a live server's data, or a copy of it)
    assert users(read_only(copies.warm, "admin", "--data-dir", str(copies.warm), "list-users", "--json")) == [
        "admin",
        "latecomer",
        "reader",
    ]
    for copy in (copies.cold, copies.warm):
        token = read_only(copy, "token", "--data-dir", str(copy), "--domain", "rodom")
        assert token.returncode == 0, token.stderr
        assert token.stdout.startswith(TOKEN_PREFIX)
        dry = read_only(copy, "admin", "--data-dir", str(copy), "gc", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.startswith("would remove 0 unreferenced blobs")


@needs_mount
@pytest.mark.parametrize(
    "command",
    [
        ("serve", "--port", "0"),
        ("admin", "create-user", "writer"),
        ("admin", "rotate-keys"),
        ("admin", "gc"),
        ("admin", "revoke-token", "0" * 24),
    ],
)
def test_commands_that_write_say_so_in_one_line_on_a_read_only_mount(copies: Copies, command: tuple[str, ...]) -> None:
    group, *rest = command
    args = (
        [group, "--data-dir", str(copies.cold), *rest]
        if group == "admin"
        else [*command, "--data-dir", str(copies.cold)]
    )
    r = read_only(copies.cold, *args)
    assert r.returncode == 1, r.stderr
    assert one_line(r) == f"coffer: cannot write to {copies.cold} (read-only file system)"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_directory_the_user_cannot_write(copies: Copies) -> None:
    """An unprivileged user on data it may read but not write (root ignores permission bits: run as nobody)."""
    base = Path(tempfile.mkdtemp(prefix="coffer-perm-"))
    try:
        base.chmod(0o755)
        data = base / "data"
        shutil.copytree(copies.cold, data, symlinks=True)
        for path in [data, *data.rglob("*")]:
            os.chown(path, 65534, 65534, follow_symlinks=False)
            path.chmod(0o500 if path.is_dir() else 0o400)

        def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "coffer", *args],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "HOME": str(base), "PYTHONDONTWRITEBYTECODE": "1"},
            )

        assert users(as_nobody("admin", "--data-dir", str(data), "list-users", "--json")) == ["admin", "reader"]
        r = as_nobody("admin", "--data-dir", str(data), "create-user", "writer")
        assert r.returncode == 1
        assert one_line(r) == f"coffer: cannot write to {data} (permission denied)"
        r = as_nobody("serve", "--port", "0", "--data-dir", str(data))
        assert one_line(r) == f"coffer: cannot write to {data} (permission denied)"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_data_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a regular file")
    data = tmp_path / "file" / "data"
    for args in (
        ("serve", "--port", "0", "--data-dir", str(data)),
        ("token", "--domain", "d", "--data-dir", str(data)),
        ("admin", "--data-dir", str(data), "list-users"),
    ):
        r = coffer(*args)
        assert r.returncode == 1, r.stderr
        assert one_line(r) == f"coffer: cannot use {data} (not a directory)"


def test_the_asgi_factory_is_private_and_refuses_in_one_line(tmp_path: Path) -> None:
    """``coffer.app.asgi:app_from_env`` (under another ASGI server) sets the same umask and says the same one line."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    script = "from coffer.app.asgi import app_from_env; app_from_env()"
    env = {**os.environ, "COFFER_DATA_DIR": str(data), "COFFER_ACCOUNT_ID": ACCOUNT}
    r = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        preexec_fn=lambda: os.umask(0),
    )
    assert r.returncode == 0, r.stderr
    assert one_line(r).startswith(f"coffer: warning: the data directory {data.resolve()} is open to other users")
    wrong = {str(p): oct(mode(p)) for p in data.rglob("*") if mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}
    (tmp_path / "file").write_text("a regular file")
    env["COFFER_DATA_DIR"] = str(tmp_path / "file" / "data")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1
    assert one_line(r) == f"coffer: cannot use {tmp_path / 'file' / 'data'} (not a directory)"
