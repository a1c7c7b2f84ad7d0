"""AWS host-style repository URLs (``{domain}-{owner}.d.codeartifact.{region}.{suffix}/{format}/{repo}/``) and the
formats Coffer does not serve yet, against a real ``coffer serve``.

The routing tests set ``Host`` explicitly (no DNS). The end-to-end tests make the host resolve to 127.0.0.1 with an
``/etc/hosts`` entry (removed afterwards, even on failure) and skip where that file is not writable; the one with
the third-party ``keyrings.codeartifact`` installs it from PyPI into a throwaway venv (cached beside the test venv)
and skips when PyPI is unreachable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from coffer.core.codeartifact.repositories import (
    ENDPOINT_FORMATS,
    SERVED_FORMATS,
    UNSERVED_FORMATS,
    endpoint_url,
    unserved_format_message,
)
from coffer.formats.host_style import parse_host
from coffer.login import parse_pypi_url
from tests.functional.conftest import ACCOUNT, REGION, make_client
from tests.functional.dists import build_wheel, upload_form
from tests.functional.pypi_clients import client_env, pip_install
from tests.functional.server import RunningServer, running_server

PROJECT = "coffer-hs-demo"
CHALLENGE_HEADER = "www-authenticate"


@dataclass
class HsRepo:
    server: RunningServer
    domain: str
    name: str
    token: str
    wheel: Path

    @property
    def port(self) -> int:
        port = urlsplit(self.server.url).port
        assert port is not None
        return port

    def host(self, region: str = REGION, suffix: str = "coffer.localhost") -> str:
        return f"{self.domain}-{ACCOUNT}.d.codeartifact.{region}.{suffix}:{self.port}"

    @property
    def path_style(self) -> str:
        return f"/pypi/d/{self.domain}-{ACCOUNT}/{self.name}/"

    @property
    def host_style(self) -> str:
        return f"/pypi/{self.name}/"

    def get(self, path: str, host: str | None = None, auth: bool = True, **kw: Any) -> httpx.Response:
        return self.request("GET", path, host, auth, **kw)

    def request(self, method: str, path: str, host: str | None = None, auth: bool = True, **kw: Any) -> httpx.Response:
        headers = {"Host": host or self.host(), **kw.pop("headers", {})}
        return httpx.request(
            method,
            self.server.url + path,
            headers=headers,
            auth=("aws", self.token) if auth else None,
            follow_redirects=False,
            timeout=60,
            **kw,
        )

    def upload(self, wheel: Path, path: str, host: str | None = None) -> httpx.Response:
        return self.request(
            "POST",
            path,
            host,
            data=upload_form(wheel.name, wheel.read_bytes()),
            files={"content": (wheel.name, wheel.read_bytes(), "application/octet-stream")},
        )


def _new_domain(ca: Any, prefix: str) -> str:
    domain = f"{prefix}-{uuid.uuid4().hex[:8]}"  # a hyphen in the domain: the owner is after the last one
    ca.create_domain(domain=domain)
    return domain


@pytest.fixture(scope="module")
def hs_repo(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> HsRepo:
    """A repository holding coffer-hs-demo 1.0, uploaded path style, on the suite's server (no DNS suffix set)."""
    ca = make_client(server)
    domain = _new_domain(ca, "hs-dom")
    ca.create_repository(domain=domain, repository="internal")
    token = ca.get_authorization_token(domain=domain, durationSeconds=3600)["authorizationToken"]
    wheel = build_wheel(tmp_path_factory.mktemp("hs-dists"), PROJECT, "1.0")
    repo = HsRepo(server, domain, "internal", token, wheel)
    r = repo.upload(wheel, repo.path_style, host=f"127.0.0.1:{repo.port}")
    assert r.status_code == 200, r.text
    return repo


# --- routing ----------------------------------------------------------------------------------------------------


def test_parse_host() -> None:
    assert parse_host(f"my-dom-1-{ACCOUNT}.d.codeartifact.us-east-1.coffer.localhost:5080") == (
        "my-dom-1",
        ACCOUNT,
        "us-east-1",
    )
    assert parse_host(f"Acme-{ACCOUNT}.D.CodeArtifact.eu-west-1.amazonaws.com") == ("acme", ACCOUNT, "eu-west-1")
    for bad in (
        f"acme-{ACCOUNT}.d.codeartifact.us-east-1",  # no suffix
        f"acme-{ACCOUNT[:-1]}.d.codeartifact.us-east-1.localhost",  # 11-digit owner
        f"-{ACCOUNT}.d.codeartifact.us-east-1.localhost",
        f"acme{ACCOUNT}.d.codeartifact.us-east-1.localhost",
        f"acme-{ACCOUNT}.x.codeartifact.us-east-1.localhost",
        f"acme-{ACCOUNT}.d.codeartifact.us-east-1.localhost:port",
        "127.0.0.1:5080",
    ):
        assert parse_host(bad) is None, bad


def test_simple_index_and_project_page_are_those_of_the_path_style_route(hs_repo: HsRepo) -> None:
    path_host = f"127.0.0.1:{hs_repo.port}"
    for rest, accept in (
        ("simple/", None),
        (f"simple/{PROJECT}/", None),
        (f"simple/{PROJECT}/", "application/vnd.pypi.simple.v1+json"),
    ):
        headers = {"Accept": accept} if accept else {}
        by_host = hs_repo.get(hs_repo.host_style + rest, headers=headers)
        by_path = hs_repo.get(hs_repo.path_style + rest, host=path_host, headers=headers)
        assert by_host.status_code == 200, by_host.text
        assert by_host.content == by_path.content
        assert by_host.headers["content-type"] == by_path.headers["content-type"]
    assert f'href="{PROJECT}/"' in hs_repo.get(hs_repo.host_style + "simple/").text


def test_download_and_metadata_by_the_relative_links(hs_repo: HsRepo) -> None:
    page = hs_repo.get(hs_repo.host_style + f"simple/{PROJECT}/")
    href = re.search(r'href="([^"#]+)#sha256=', page.text)
    assert href is not None and not href[1].startswith(("/", "http"))  # relative to the page
    r = hs_repo.get(hs_repo.host_style + f"simple/{PROJECT}/" + href[1])
    assert r.status_code == 200
    assert r.content == hs_repo.wheel.read_bytes()
    assert hs_repo.get(hs_repo.host_style + f"simple/{PROJECT}/" + href[1] + ".metadata").status_code == 200


def test_redirects_and_404s_name_the_host_style_paths(hs_repo: HsRepo) -> None:
    r = hs_repo.get(hs_repo.host_style + "simple/Coffer_HS.Demo/", params={"format": "json"})
    assert r.status_code == 301
    assert r.headers["location"] == f"/pypi/internal/simple/{PROJECT}/?format=json"
    r = hs_repo.get(hs_repo.host_style + "simple")
    assert (r.status_code, r.headers["location"]) == (301, "/pypi/internal/simple/")
    r = hs_repo.get(hs_repo.host_style + f"simple/{PROJECT}")
    assert (r.status_code, r.headers["location"]) == (301, f"/pypi/internal/simple/{PROJECT}/")
    r = hs_repo.get(hs_repo.host_style + "nothing/here")
    assert r.status_code == 404
    assert r.text.strip() == "No such resource: /pypi/internal/nothing/here"
    # the path-style spelling is unchanged
    r = hs_repo.get(hs_repo.path_style + "simple/Coffer_HS.Demo/", host=f"127.0.0.1:{hs_repo.port}")
    assert (r.status_code, r.headers["location"]) == (301, f"{hs_repo.path_style}simple/{PROJECT}/")


def test_upload_by_host_style(hs_repo: HsRepo, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, PROJECT, "2.0")
    r = hs_repo.upload(wheel, hs_repo.host_style)
    assert r.status_code == 200, r.text
    page = hs_repo.get(hs_repo.path_style + f"simple/{PROJECT}/", host=f"127.0.0.1:{hs_repo.port}")
    assert wheel.name in page.text
    assert hs_repo.upload(wheel, hs_repo.host_style).status_code == 400  # exists already: the same checks


def test_unauthenticated_gets_the_same_401(hs_repo: HsRepo) -> None:
    by_host = hs_repo.get(hs_repo.host_style + "simple/", auth=False)
    by_path = hs_repo.get(hs_repo.path_style + "simple/", host=f"127.0.0.1:{hs_repo.port}", auth=False)
    assert by_host.status_code == by_path.status_code == 401
    assert by_host.headers[CHALLENGE_HEADER] == by_path.headers[CHALLENGE_HEADER]
    assert (
        by_host.headers[CHALLENGE_HEADER]
        == f'Bearer realm="{hs_repo.domain}/internal", Basic realm="{hs_repo.domain}/internal"'
    )
    assert by_host.text == by_path.text
    r = hs_repo.request("POST", hs_repo.host_style, auth=False, content=b"x")
    assert r.status_code == 401 and r.headers[CHALLENGE_HEADER] == by_path.headers[CHALLENGE_HEADER]


def test_the_host_names_the_domain_a_token_must_be_for(hs_repo: HsRepo) -> None:
    # another domain of the same owner, with the same repository name: the host picks it, and hs_repo's token,
    # minted for hs_repo's domain, is refused there (401 naming the domain), upper-case Host and trailing dot too
    ca = make_client(hs_repo.server)
    other = _new_domain(ca, "hs-other")
    ca.create_repository(domain=other, repository="internal")
    for host in (
        f"{other}-{ACCOUNT}.d.codeartifact.{REGION}.coffer.localhost:{hs_repo.port}",
        f"{other}-{ACCOUNT}.D.CodeArtifact.{REGION}.Coffer.Localhost.:{hs_repo.port}".upper(),
    ):
        r = hs_repo.get(hs_repo.host_style + "simple/", host=host)
        assert r.status_code == 401, (host, r.status_code, r.text)
        assert r.headers[CHALLENGE_HEADER] == f'Bearer realm="{other}/internal", Basic realm="{other}/internal"'
    own = hs_repo.host().upper()
    assert hs_repo.get(hs_repo.host_style + "simple/", host=own).status_code == 200


def test_another_region_is_a_404_naming_it(hs_repo: HsRepo) -> None:
    r = hs_repo.get(hs_repo.host_style + "simple/", host=hs_repo.host(region="eu-west-1"))
    assert r.status_code == 404
    assert "eu-west-1" in r.text and REGION in r.text
    assert r.reason_phrase == r.text.strip()


def test_malformed_hosts_fall_through_to_normal_routing(hs_repo: HsRepo) -> None:
    good = hs_repo.host()
    assert hs_repo.get(hs_repo.host_style + "simple/", host=good).status_code == 200
    for host in (
        good.replace(ACCOUNT, ACCOUNT[:-1]),
        good.replace(f"-{ACCOUNT}", ACCOUNT),
        good.replace(".d.codeartifact.", ".e.codeartifact."),
        f"{hs_repo.domain}-{ACCOUNT}.d.codeartifact.{REGION}:{hs_repo.port}",
    ):
        r = hs_repo.get(hs_repo.host_style + "simple/", host=host)
        assert r.status_code == 404, host
        assert r.json() == {"message": "No such resource: /pypi/internal/simple/"}
        assert hs_repo.get(hs_repo.path_style + "simple/", host=host).status_code == 200


def test_other_paths_on_a_host_style_host_are_served_as_usual(hs_repo: HsRepo) -> None:
    assert hs_repo.get(hs_repo.host_style + "simple/").status_code == 200
    assert hs_repo.get("/health").json()["status"] == "ok"
    assert hs_repo.get(hs_repo.path_style + "simple/").status_code == 200  # path style on that host too
    assert hs_repo.get("/pypi/").status_code == 404
    assert hs_repo.get("/pypi/no-such-repo/simple/").status_code == 404  # a repository the domain does not have
    api = hs_repo.get("/v1/domain?domain=x")  # the CodeArtifact API, not SigV4-signed: its own AWS-shaped refusal
    assert api.status_code == 403 and api.headers["x-amzn-errortype"] == "IncompleteSignatureException"
    assert "message" in api.json()


# --- GetRepositoryEndpoint --------------------------------------------------------------------------------------


def test_endpoint_url() -> None:
    args = (REGION, "my-dom", ACCOUNT, "pypi", "internal")
    assert (
        endpoint_url("http://127.0.0.1:5080", None, *args) == f"http://127.0.0.1:5080/pypi/d/my-dom-{ACCOUNT}/internal/"
    )
    host = f"my-dom-{ACCOUNT}.d.codeartifact.{REGION}"
    assert (
        endpoint_url("http://127.0.0.1:5080", "coffer.localhost", *args)
        == f"http://{host}.coffer.localhost:5080/pypi/internal/"
    )
    assert (
        endpoint_url("https://coffer.example.com/base", "example.com", *args)
        == f"https://{host}.example.com/pypi/internal/"
    )
    assert endpoint_url("https://[::1]:8443", "x.test", *args) == f"https://{host}.x.test:8443/pypi/internal/"


@pytest.fixture(scope="module")
def aws_suffix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose endpoints are host style under amazonaws.com, the one suffix keyrings.codeartifact accepts."""
    data = tmp_path_factory.mktemp("coffer-hs") / "data"
    with running_server(data, "--account-id", ACCOUNT, "--endpoint-dns-suffix", "amazonaws.com") as srv:
        yield srv


def test_endpoint_is_host_style_with_the_suffix_option_and_path_style_without(
    hs_repo: HsRepo, aws_suffix_server: RunningServer
) -> None:
    ca = make_client(aws_suffix_server)
    domain = _new_domain(ca, "hs-ep")
    ca.create_repository(domain=domain, repository="internal")
    url = ca.get_repository_endpoint(domain=domain, repository="internal", format="pypi")["repositoryEndpoint"]
    port = urlsplit(aws_suffix_server.url).port
    assert url == f"http://{domain}-{ACCOUNT}.d.codeartifact.{REGION}.amazonaws.com:{port}/pypi/internal/"
    # the suite's server has no suffix: path style, as before
    default = make_client(hs_repo.server)
    url = default.get_repository_endpoint(domain=hs_repo.domain, repository="internal", format="pypi")
    assert url["repositoryEndpoint"] == f"{hs_repo.server.url}/pypi/d/{hs_repo.domain}-{ACCOUNT}/internal/"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--endpoint-dns-suffix", "http://coffer.example"), {}),
        ((), {"COFFER_ENDPOINT_DNS_SUFFIX": ".coffer.example"}),
    ],
)
def test_a_bad_suffix_stops_serve(tmp_path: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "coffer", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "endpoint DNS suffix must be a lowercase DNS name" in r.stderr
    assert not (tmp_path / "d").exists()


# --- formats not served yet ---------------------------------------------------------------------------------------


def test_every_format_of_the_model_is_served_or_refused() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("codeartifact")
    enum = set(model.shape_for("PackageFormat").enum)
    assert set(ENDPOINT_FORMATS) == enum
    assert SERVED_FORMATS | set(UNSERVED_FORMATS) == enum and not SERVED_FORMATS & set(UNSERVED_FORMATS)


@pytest.mark.parametrize("fmt", UNSERVED_FORMATS)
def test_endpoint_of_an_unserved_format_is_refused(hs_repo: HsRepo, fmt: str) -> None:
    ca = make_client(hs_repo.server)
    with pytest.raises(ca.exceptions.ValidationException) as info:
        ca.get_repository_endpoint(domain=hs_repo.domain, repository="internal", format=fmt)
    assert info.value.response["Error"]["Message"] == unserved_format_message(fmt)
    if fmt != "generic":
        assert unserved_format_message(fmt) == (
            f"Coffer does not serve the {fmt} format yet; only npm, pypi repositories can be used by package clients"
        )


def test_npm_is_served_by_host_style_too(hs_repo: HsRepo) -> None:
    """An npm publish and install by host-style URLs: the packument's tarball URL keeps the client's spelling."""
    from tests.functional.npm_clients import publish_body

    name, body = publish_body("hs-npm-demo", "1.0.0")
    put = hs_repo.request("PUT", f"/npm/internal/{name}", content=body, headers={"Content-Type": "application/json"})
    assert put.status_code == 201, put.text
    doc = hs_repo.get(f"/npm/internal/{name}", headers={"Accept": "application/json"})
    assert doc.status_code == 200, doc.text
    tarball = doc.json()["versions"]["1.0.0"]["dist"]["tarball"]
    assert tarball == f"http://{hs_repo.host()}/npm/internal/{name}/-/{name}-1.0.0.tgz"
    got = hs_repo.get(tarball.split(hs_repo.host(), 1)[1])
    assert got.status_code == 200 and got.content[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
def test_paths_of_unserved_formats_say_so(hs_repo: HsRepo, method: str) -> None:
    message = unserved_format_message("maven")
    for path, host in (
        (f"/maven/d/{hs_repo.domain}-{ACCOUNT}/internal/com/acme/a/1.0/a-1.0.jar", f"127.0.0.1:{hs_repo.port}"),
        ("/maven/internal/com/acme/a/1.0/a-1.0.jar", hs_repo.host()),
        ("/maven/internal/", hs_repo.host()),
    ):
        r = hs_repo.request(method, path, host, content=b"{}" if method in ("PUT", "POST") else None)
        assert r.status_code == 404, (method, path)
        assert r.text.strip() == message
    r = hs_repo.request(
        method, f"/cargo/d/{hs_repo.domain}-{ACCOUNT}/internal/index/config.json", f"127.0.0.1:{hs_repo.port}"
    )
    assert (r.status_code, r.text.strip()) == (404, unserved_format_message("cargo"))


# --- end to end: the host resolves (an /etc/hosts entry) ----------------------------------------------------------

HOSTS = Path("/etc/hosts")


@contextlib.contextmanager
def hosts_entry(host: str) -> Iterator[None]:
    """``127.0.0.1 host`` in /etc/hosts for the duration (written in place: in containers it is often a bind
    mount; under a lock, so that test processes running side by side keep each other's entries); skips where it
    is not writable or not consulted."""
    if not os.access(HOSTS, os.W_OK):
        pytest.skip(f"{HOSTS} is not writable: cannot make {host} resolve to 127.0.0.1")
    marker = f"# coffer-test {uuid.uuid4().hex}"
    line = f"127.0.0.1 {host} {marker}\n"
    with HOSTS.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another test process may be taking its own entry out
        f.write(line)
    try:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None, socket.AF_INET)}
        except OSError:
            addresses = set()
        if addresses != {"127.0.0.1"}:
            pytest.skip(f"{host} does not resolve through {HOSTS} here ({addresses or 'no address'})")
        yield
    finally:
        with HOSTS.open("r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # nobody adds an entry between the read and the write
            kept = [entry for entry in f.readlines() if marker not in entry]
            f.seek(0)
            f.writelines(kept)
            f.truncate()


def _pip_env(home: Path, **extra: str) -> dict[str, str]:
    env = client_env(home, PIP_NO_CACHE_DIR="1", **extra)
    del env["PYTHON_KEYRING_BACKEND"]  # client_env turns keyring off; these tests are about the keyring
    return env


KEYRINGS_CODEARTIFACT = "keyrings.codeartifact~=2.1"


def keyrings_codeartifact_venv() -> Path:
    """A venv with pip and keyrings.codeartifact from PyPI (nothing of Coffer's), made once and kept in the test
    venv (``<venv>/coffer-test-cache``); its python. Skips when PyPI cannot be reached to make it."""
    root = Path(sys.prefix) / "coffer-test-cache"
    root.mkdir(exist_ok=True)
    venv = root / "keyrings-codeartifact-2.1"
    python = venv / "bin" / "python"
    done = venv / ".complete"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return python
        try:
            httpx.get("https://pypi.org/simple/keyrings-codeartifact/", timeout=15).raise_for_status()
        except httpx.HTTPError as exc:
            pytest.skip(f"PyPI is unreachable, cannot install keyrings.codeartifact: {exc}")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        r = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "pip>=23.1", KEYRINGS_CODEARTIFACT],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        done.touch()
    return python


def test_pip_with_keyrings_codeartifact_installs_from_the_host_style_endpoint(
    aws_suffix_server: RunningServer, tmp_path: Path
) -> None:
    """The unmodified third-party backend: it parses the host, asks GetAuthorizationToken of
    AWS_ENDPOINT_URL_CODEARTIFACT (Coffer) and pip sends the token; no password anywhere."""
    ca = make_client(aws_suffix_server)
    domain = _new_domain(ca, "kca")
    ca.create_repository(domain=domain, repository="internal")
    endpoint = ca.get_repository_endpoint(domain=domain, repository="internal", format="pypi")["repositoryEndpoint"]
    host = urlsplit(endpoint).hostname
    assert host == f"{domain}-{ACCOUNT}.d.codeartifact.{REGION}.amazonaws.com"
    python = keyrings_codeartifact_venv()
    with hosts_entry(host):
        # upload by the host-style endpoint too (twine's path, the token as the password)
        token = ca.get_authorization_token(domain=domain, durationSeconds=900)["authorizationToken"]
        wheel = build_wheel(tmp_path, PROJECT, "1.0")
        r = httpx.post(
            endpoint,
            auth=("aws", token),
            data=upload_form(wheel.name, wheel.read_bytes()),
            files={"content": (wheel.name, wheel.read_bytes(), "application/octet-stream")},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        home = tmp_path / "home"
        home.mkdir()
        env = _pip_env(
            home,
            AWS_ENDPOINT_URL_CODEARTIFACT=aws_suffix_server.url,
            AWS_SHARED_CREDENTIALS_FILE=str(aws_suffix_server.credentials_file),
            AWS_CONFIG_FILE=str(home / "no-aws-config"),
        )
        target = tmp_path / "target"
        r = pip_install(python, endpoint + "simple/", target, PROJECT, env, trusted_host=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert (target / "coffer_hs_demo" / "__init__.py").exists()
        # and without the backend's token the index refuses pip: the keyring did the work
        r = pip_install(
            python,
            endpoint + "simple/",
            tmp_path / "t2",
            PROJECT,
            {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"},
            trusted_host=True,
        )
        assert r.returncode != 0 and "No matching distribution" in r.stderr


def test_coffer_keyring_with_a_host_style_url_under_another_suffix(hs_repo: HsRepo, tmp_path: Path) -> None:
    """Coffer's own backend: the API is on the index's host (no endpoint variable), the region is the host's."""
    host = hs_repo.host().rpartition(":")[0]
    index = f"http://{host}:{hs_repo.port}{hs_repo.host_style}simple/"
    target = parse_pypi_url(index)
    assert target is not None
    assert (target.domain, target.owner, target.repository, target.region) == (
        hs_repo.domain,
        ACCOUNT,
        "internal",
        REGION,
    )
    assert target.api_endpoint == f"http://{host}:{hs_repo.port}"
    with hosts_entry(host):
        home = tmp_path / "home"
        home.mkdir()
        env = _pip_env(
            home,
            PYTHON_KEYRING_BACKEND="coffer.login.keyring_backend.CofferKeyring",
            AWS_SHARED_CREDENTIALS_FILE=str(hs_repo.server.credentials_file),
            AWS_CONFIG_FILE=str(home / "no-aws-config"),
        )
        target_dir = tmp_path / "target"
        r = pip_install(sys.executable, index, target_dir, PROJECT, env, trusted_host=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert (target_dir / "coffer_hs_demo" / "__init__.py").exists()
