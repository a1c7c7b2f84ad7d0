"""External connections against local upstreams: pypiserver (PEP 503 HTML) and a second Coffer (PEP 691 JSON,
with credentials in the connection URL), so that the suite needs no internet; one test reaches the real PyPI and
skips when it cannot.

Each test gets its own upstream packages and a Coffer started with ``--external-connection-url`` pointing at
them, then drives the real clients (pip, uv, twine) and boto3 the way a user would."""

from __future__ import annotations

import concurrent.futures
import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, make_client
from tests.functional.dists import build_sdist, build_wheel
from tests.functional.pypi_clients import Repo, client_env, new_repo, pip_install, run, twine_upload
from tests.functional.server import RunningServer, running_server

PYPI_SERVER = Path(sys.executable).parent / "pypi-server"
UV = str(Path(sys.executable).parent / "uv")
DOMAIN = "acme"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PypiServer:
    url: str  # the simple index, ending in '/'
    packages: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def requests_for(self, filename: str) -> int:
        return self.log.read_text(errors="replace").count(filename + " ")


@contextlib.contextmanager
def pypiserver(packages: Path, log: Path) -> Iterator[PypiServer]:
    port = _free_port()
    cmd = [str(PYPI_SERVER), "run", "-p", str(port), "-i", "127.0.0.1", "--disable-fallback", "-v", str(packages)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/simple/"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("pypiserver did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    server = PypiServer(url, packages, proc, log)
    try:
        yield server
    finally:
        if proc.poll() is None:
            server.stop()


@dataclass
class Setup:
    coffer: RunningServer
    ca: Any
    store: Repo  # pypi-store: holds the external connection
    app: Repo  # app: pypi-store as its upstream
    upstream: PypiServer
    tmp: Path


def _public_packages(out: Path) -> Path:
    out.mkdir()
    build_wheel(out, "pubdep", "1.0")
    build_wheel(out, "pubdep", "2.0")
    build_sdist(out, "pubdep", "2.0")
    build_wheel(out, "pubtop", "1.0", requires_dist=("pubdep>=2",))
    build_wheel(out, "squatted", "9.0")  # a public name a team also publishes internally
    build_wheel(out, "mixed", "1.0")  # a public wheel of a version a team publishes as an sdist
    return out


def _connected(coffer: RunningServer) -> tuple[Any, Repo, Repo]:
    ca = make_client(coffer)
    ca.create_domain(domain=DOMAIN)
    store = new_repo(ca, coffer, DOMAIN, "pypi-store")
    ca.associate_external_connection(domain=DOMAIN, repository="pypi-store", externalConnection="public:pypi")
    app = new_repo(ca, coffer, DOMAIN, "app", upstreams=["pypi-store"])
    return ca, store, app


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[Setup]:
    with pypiserver(_public_packages(tmp_path / "public"), tmp_path / "pypiserver.log") as upstream:
        flags = ("--account-id", ACCOUNT, "--external-connection-url", f"public:pypi={upstream.url}")
        with running_server(tmp_path / "coffer", *flags, "--upstream-timeout", "2") as coffer:
            ca, store, app = _connected(coffer)
            yield Setup(coffer, ca, store, app, upstream, tmp_path)


def _pip(s: Setup, repo: Repo, *projects: str, target: str = "t") -> subprocess.CompletedProcess[str]:
    env = client_env(s.tmp / "home")
    return run(
        [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--index-url", repo.authed_index(),
         "--target", str(s.tmp / target), *projects],
        env,
    )  # fmt: skip


def _versions(ca: Any, repo: str, name: str) -> dict[str, str]:
    found = ca.list_package_versions(domain=DOMAIN, repository=repo, format="pypi", package=name)
    return {v["version"]: v["status"] for v in found["versions"]}


# --- the API ----------------------------------------------------------------------------------------------------


def test_associate_and_disassociate_external_connections(setup: Setup) -> None:
    ca = setup.ca
    described = ca.describe_repository(domain=DOMAIN, repository="pypi-store")["repository"]
    assert described["externalConnections"] == [
        {"externalConnectionName": "public:pypi", "packageFormat": "pypi", "status": "Available"}
    ]
    listed = ca.list_repositories_in_domain(domain=DOMAIN)["repositories"]
    assert {r["name"] for r in listed} == {"pypi-store", "app"}

    def code(**kwargs: str) -> str:
        with pytest.raises(ClientError) as err:
            ca.associate_external_connection(domain=DOMAIN, **kwargs)
        return str(err.value.response["Error"]["Code"])

    # one per repository; names are CodeArtifact's ten
    assert code(repository="pypi-store", externalConnection="public:npmjs") == "ServiceQuotaExceededException"
    assert code(repository="pypi-store", externalConnection="public:pypi") == "ConflictException"
    assert code(repository="app", externalConnection="public:nosuch") == "ValidationException"
    assert code(repository="nosuch", externalConnection="public:pypi") == "ResourceNotFoundException"

    done = ca.disassociate_external_connection(domain=DOMAIN, repository="pypi-store", externalConnection="public:pypi")
    assert done["repository"]["externalConnections"] == []
    with pytest.raises(ClientError) as err:
        ca.disassociate_external_connection(domain=DOMAIN, repository="pypi-store", externalConnection="public:pypi")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    npm = ca.associate_external_connection(domain=DOMAIN, repository="app", externalConnection="public:npmjs")
    assert npm["repository"]["externalConnections"][0]["packageFormat"] == "npm"


# --- fetching through the chain ---------------------------------------------------------------------------------


def test_pip_installs_public_packages_through_the_chain_and_they_are_retained(setup: Setup) -> None:
    r = _pip(setup, setup.app, "pubtop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (setup.tmp / "t" / "pubtop").is_dir() and (setup.tmp / "t" / "pubdep").is_dir()
    assert "pubdep-2.0" in r.stdout  # the newest matching version, from the upstream's listing

    # retained in the repository asked and the one holding the connection, with the fetched-first origin rules
    for repo in ("app", "pypi-store"):
        assert _versions(setup.ca, repo, "pubdep") == {"2.0": "Published"}, repo
        assert _versions(setup.ca, repo, "pubtop") == {"1.0": "Published"}, repo
        package = setup.ca.describe_package(domain=DOMAIN, repository=repo, format="pypi", package="pubdep")
        assert package["package"]["originConfiguration"]["restrictions"] == {"publish": "BLOCK", "upstream": "ALLOW"}
        version = setup.ca.describe_package_version(
            domain=DOMAIN, repository=repo, format="pypi", package="pubdep", packageVersion="2.0"
        )["packageVersion"]
        assert version["origin"] == {
            "domainEntryPoint": {"externalConnectionName": "public:pypi"},
            "originType": "EXTERNAL",
        }
        assert version["summary"] == "pubdep for Coffer's tests"  # read from the fetched wheel's own metadata

    # the page lists what the upstream has (not only what was retained), with links to Coffer
    page = httpx.get(setup.app.index + "pubdep/", auth=setup.app.auth, timeout=10)
    assert page.status_code == 200
    for filename in ("pubdep-1.0-py3-none-any.whl", "pubdep-2.0-py3-none-any.whl", "pubdep-2.0.tar.gz"):
        assert f'href="1.0/{filename}' in page.text or f'href="2.0/{filename}' in page.text, filename
    assert setup.upstream.url.split("//")[1] not in page.text
    # PEP 658: offered once the wheel is cached (pypiserver offers none itself)
    assert page.text.count("data-core-metadata=") == 1
    metadata = httpx.get(setup.app.index + "pubdep/2.0/pubdep-2.0-py3-none-any.whl.metadata", auth=setup.app.auth)
    assert metadata.status_code == 200 and b"Name: pubdep" in metadata.content

    # a second install is served by Coffer alone: the upstream is gone
    setup.upstream.stop()
    r = _pip(setup, setup.app, "pubtop", target="t2")
    assert r.returncode == 0, r.stdout + r.stderr


def test_uv_installs_a_tree_mixing_private_and_public_packages(setup: Setup) -> None:
    wheels = setup.tmp / "private"
    wheels.mkdir()
    private = build_wheel(wheels, "privlib", "0.3", requires_dist=("pubtop>=1", "pubdep<2"))
    published = twine_upload(setup.app, setup.tmp / "home", private)
    assert published.returncode == 0, published.stdout + published.stderr
    env = client_env(setup.tmp / "home")
    r = run([UV, "pip", "install", "--python", sys.executable, "--target", str(setup.tmp / "uvt"), "--index-url",
             setup.app.authed_index(), "--no-cache", "privlib"], env)  # fmt: skip
    # privlib wants pubdep<2 but pubtop wants pubdep>=2: uv reports the conflict from what Coffer lists
    assert r.returncode != 0 and "pubdep" in r.stderr, r.stderr
    fixed = build_wheel(wheels, "privlib", "0.4", requires_dist=("pubtop>=1",))
    assert twine_upload(setup.app, setup.tmp / "home", fixed).returncode == 0
    r = run([UV, "pip", "install", "--python", sys.executable, "--target", str(setup.tmp / "uvt"), "--index-url",
             setup.app.authed_index(), "--no-cache", "privlib"], env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    installed = {p.name.split("-")[0] for p in (setup.tmp / "uvt").glob("*.dist-info")}
    assert installed == {"privlib", "pubtop", "pubdep"}


def test_dependency_confusion_is_refused_both_ways(setup: Setup) -> None:
    home = setup.tmp / "home"
    wheels = setup.tmp / "internal"
    wheels.mkdir()
    # a name published internally first shadows the public one: its upstream is blocked
    mine = build_wheel(wheels, "squatted", "1.0")
    assert twine_upload(setup.app, home, mine).returncode == 0
    page = httpx.get(setup.app.index + "squatted/", auth=setup.app.auth, timeout=10)
    assert "squatted-1.0-py3-none-any.whl" in page.text and "9.0" not in page.text
    r = _pip(setup, setup.app, "squatted")
    assert r.returncode == 0 and "squatted-1.0" in r.stdout, r.stdout + r.stderr

    # a public name fetched first cannot then be published internally
    assert _pip(setup, setup.app, "pubdep==1.0", target="t2").returncode == 0
    fake = build_wheel(wheels, "pubdep", "7.0")
    refused = twine_upload(setup.app, home, fake)
    assert refused.returncode != 0
    assert "origin configuration" in refused.stdout + refused.stderr
    assert "7.0" not in _versions(setup.ca, "app", "pubdep")


def test_a_published_version_never_takes_files_from_the_registry(setup: Setup) -> None:
    home = setup.tmp / "home"
    sdists = setup.tmp / "sdists"
    sdists.mkdir()
    assert twine_upload(setup.app, home, build_sdist(sdists, "mixed", "1.0")).returncode == 0
    # even with upstreams allowed for the package, version 1.0 is the team's: its sdist, not the public wheel
    setup.ca.put_package_origin_configuration(
        domain=DOMAIN, repository="app", format="pypi", package="mixed",
        restrictions={"publish": "ALLOW", "upstream": "ALLOW"},
    )  # fmt: skip
    page = httpx.get(setup.app.index + "mixed/", auth=setup.app.auth, timeout=10)
    assert page.status_code == 200
    assert "mixed-1.0.tar.gz" in page.text and "mixed-1.0-py3-none-any.whl" not in page.text
    wheel = httpx.get(setup.app.index + "mixed/1.0/mixed-1.0-py3-none-any.whl", auth=setup.app.auth, timeout=10)
    assert wheel.status_code == 404
    assert setup.upstream.requests_for("mixed-1.0-py3-none-any.whl") == 0


def test_the_upstream_down_fails_fast_and_cached_content_is_still_served(setup: Setup) -> None:
    assert _pip(setup, setup.app, "pubdep==1.0").returncode == 0
    setup.upstream.stop()
    started = time.monotonic()
    r = httpx.get(setup.app.index + "never-fetched/", auth=setup.app.auth, timeout=30)
    assert r.status_code == 502, r.text
    assert "public:pypi is unreachable" in r.text
    assert time.monotonic() - started < 5
    # the cached listing and the retained file: pip still gets pubdep 1.0
    r2 = _pip(setup, setup.app, "pubdep==1.0", target="t2")
    assert r2.returncode == 0, r2.stdout + r2.stderr
    # a file listed but never fetched cannot be had now: a clear 502, not a hang
    r3 = httpx.get(setup.app.index + "pubdep/2.0/pubdep-2.0-py3-none-any.whl", auth=setup.app.auth, timeout=30)
    assert r3.status_code == 502 and "public:pypi is unreachable" in r3.text


# --- a Coffer as the upstream: PEP 691 JSON, credentials in the URL, single flight -------------------------------


@pytest.fixture()
def coffer_upstream(tmp_path: Path, server: RunningServer, unique: Callable[[str], str]) -> tuple[Repo, Path]:
    """A repository of the session's server holding a large wheel, as a public index for another Coffer."""
    ca = make_client(server)
    domain = unique("public")
    ca.create_domain(domain=domain)
    repo = new_repo(ca, server, domain, "mirror")
    wheels = tmp_path / "upstream-wheels"
    wheels.mkdir()
    wheel = build_wheel(wheels, "bigwheel", "1.0", payload=b"x" * (8 * 1024 * 1024))
    assert twine_upload(repo, tmp_path / "home", wheel).returncode == 0
    return repo, wheel


def test_fifty_concurrent_first_downloads_cause_one_upstream_fetch(
    tmp_path: Path, server: RunningServer, coffer_upstream: tuple[Repo, Path]
) -> None:
    upstream, wheel = coffer_upstream
    flags = ("--account-id", ACCOUNT, "--external-connection-url", f"public:pypi={upstream.authed_index()}")
    with running_server(tmp_path / "downstream", *flags) as coffer:
        _, _, app = _connected(coffer)
        page = httpx.get(app.index + "bigwheel/", auth=app.auth, timeout=10)
        assert page.status_code == 200
        assert upstream.token not in page.text  # the connection's credentials never reach a client
        assert "data-core-metadata" in page.text  # offered because the upstream offers it (PEP 691 JSON)
        first_line = len(server.output)
        url = app.index + f"bigwheel/1.0/{wheel.name}"
        with httpx.Client(auth=app.auth, timeout=60) as http:

            def get(_: int) -> tuple[int, bytes]:
                r = http.get(url)
                return r.status_code, r.content

            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                results = list(pool.map(get, range(50)))
        assert {status for status, _ in results} == {200}
        assert all(body == wheel.read_bytes() for _, body in results)
        fetched = [line for line in server.output[first_line:] if f"/{wheel.name} " in line and '"GET' in line]
        assert len(fetched) == 1, fetched


def test_bytes_that_do_not_match_the_listed_digest_are_never_stored(tmp_path: Path, setup: Setup) -> None:
    # the upstream replaces a file under the same name after Coffer listed it
    page = httpx.get(setup.app.index + "pubdep/", auth=setup.app.auth, timeout=10)
    assert page.status_code == 200
    target = setup.upstream.packages / "pubdep-1.0-py3-none-any.whl"
    other = build_wheel(tmp_path, "pubdep", "1.0", payload=b"tampered")
    shutil.copy(other, target)
    r = httpx.get(setup.app.index + "pubdep/1.0/pubdep-1.0-py3-none-any.whl", auth=setup.app.auth, timeout=30)
    assert r.status_code == 502 and "SHA-256" in r.text
    for repo in ("app", "pypi-store"):  # nothing retained
        with pytest.raises(ClientError) as err:
            _versions(setup.ca, repo, "pubdep")
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --- the real PyPI -----------------------------------------------------------------------------------------------


def test_the_real_pypi_through_the_default_connection(tmp_path: Path) -> None:
    try:
        httpx.get("https://pypi.org/simple/six/", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"pypi.org is unreachable from here: {exc}")
    with running_server(tmp_path / "coffer", "--account-id", ACCOUNT) as coffer:
        _, _, app = _connected(coffer)
        env = client_env(tmp_path / "home")
        r = pip_install(sys.executable, app.authed_index(), tmp_path / "t", "six", env, keyring_provider="disabled")
        assert r.returncode == 0, r.stdout + r.stderr
        assert (tmp_path / "t" / "six.py").is_file()


# --- package groups on publish and fetch -------------------------------------------------------------------------


def _group_origin(ca: Any, pattern: str, restrictions: dict[str, str], allow: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
    ca.update_package_group_origin_configuration(
        domain=DOMAIN,
        packageGroup=pattern,
        restrictions=restrictions,
        addAllowedRepositories=[{"originRestrictionType": t, "repositoryName": r} for t, r in allow],
    )


def test_package_groups_block_names_on_fetch_and_publish(setup: Setup) -> None:
    ca, home = setup.ca, setup.tmp / "home"
    ca.create_package_group(domain=DOMAIN, packageGroup="/pypi//pub~")

    # no public pub* package may come in through any repository
    _group_origin(ca, "/pypi//pub~", {"EXTERNAL_UPSTREAM": "BLOCK"})
    page = httpx.get(setup.app.index + "pubdep/", auth=setup.app.auth, timeout=10)
    assert page.status_code == 404
    assert _pip(setup, setup.app, "pubdep").returncode != 0
    assert setup.upstream.requests_for("pubdep-2.0-py3-none-any.whl") == 0

    # ... except into the repository allowed to ingest them
    _group_origin(ca, "/pypi//pub~", {"EXTERNAL_UPSTREAM": "ALLOW_SPECIFIC_REPOSITORIES"},
                  [("EXTERNAL_UPSTREAM", "pypi-store")])  # fmt: skip
    assert _pip(setup, setup.app, "pubdep==2.0", target="t2").returncode == 0
    assert _versions(ca, "pypi-store", "pubdep") == {"2.0": "Published"}

    # app may not retain them from its internal upstream: what pypi-store holds stays out of app's view
    _group_origin(ca, "/pypi//pub~", {"INTERNAL_UPSTREAM": "BLOCK"})
    page = httpx.get(setup.app.index + "pubtop/", auth=setup.app.auth, timeout=10)
    assert page.status_code == 404, page.text
    store_page = httpx.get(setup.store.index + "pubtop/", auth=setup.store.auth, timeout=10)
    assert store_page.status_code == 200  # pypi-store fetches it itself (no internal upstream involved)

    # publishing a name the group blocks is refused, naming the group
    _group_origin(ca, "/pypi//pub~", {"PUBLISH": "BLOCK"})
    wheels = setup.tmp / "mine"
    wheels.mkdir()
    refused = twine_upload(setup.app, home, build_wheel(wheels, "pubnew", "1.0"))
    assert refused.returncode != 0
    assert "package group /pypi//pub~ sets PUBLISH to BLOCK" in " ".join((refused.stdout + refused.stderr).split())
    # other names are not in the group
    assert twine_upload(setup.app, home, build_wheel(wheels, "other-name", "1.0")).returncode == 0
