"""The PyPI endpoint against a real server with the real clients: twine uploads, pip and uv install, httpx reads
the simple index (PEP 503/691/700/658), downloads, and every way a token can be refused."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from twine.commands.upload import skip_upload
from twine.package import PackageFile

from coffer.core.codeartifact import token_format as tokens
from tests.functional.conftest import ACCOUNT, coffer, make_client, require_pip, token_policy
from tests.functional.dists import build_sdist, build_wheel, upload_form
from tests.functional.pypi_clients import UV, Repo, client_env, mint_token, new_repo, run, twine_upload
from tests.functional.server import RunningServer

JSON_V1 = "application/vnd.pypi.simple.v1+json"
Unique = Callable[[str], str]


# --- tiny real distributions, written by hand --------------------------------------------------------------


@dataclass
class Dists:
    a_wheel: Path  # coffer-demo-a 1.0, Requires-Python >=3.8
    a_sdist: Path
    b_wheel: Path  # published as "Coffer.Demo_B" 2.0
    c_wheel: Path  # coffer-demo-c 0.1, for the upstream test


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    out = tmp_path_factory.mktemp("dists")
    return Dists(
        a_wheel=build_wheel(out, "coffer-demo-a", "1.0"),
        a_sdist=build_sdist(out, "coffer-demo-a", "1.0"),
        b_wheel=build_wheel(out, "Coffer.Demo_B", "2.0", requires_python=None),
        c_wheel=build_wheel(out, "coffer-demo-c", "0.1"),
    )


# --- repositories and clients -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_ca(server: RunningServer) -> Any:
    return make_client(server)


@pytest.fixture(scope="module")
def published(
    server: RunningServer, admin_ca: Any, dists: Dists, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Repo]:
    """A repository with coffer-demo-a 1.0 (wheel + sdist) and Coffer.Demo_B 2.0 uploaded by twine."""
    domain = f"pypi-{int(time.time() * 1000) % 10**9}"
    admin_ca.create_domain(domain=domain)
    repo = new_repo(admin_ca, server, domain, "main")
    home = tmp_path_factory.mktemp("home")
    r = twine_upload(repo, home, dists.a_wheel, dists.a_sdist, dists.b_wheel)
    assert r.returncode == 0, r.stdout + r.stderr
    yield repo


# --- upload, install ----------------------------------------------------------------------------------------


def test_endpoint_is_path_style(published: Repo, server: RunningServer) -> None:
    assert published.endpoint == f"{server.url}/pypi/d/{published.domain}-{ACCOUNT}/main/"


def test_duplicate_upload_fails_and_skip_existing_passes(published: Repo, dists: Dists, tmp_path: Path) -> None:
    plain = twine_upload(published, tmp_path, dists.a_wheel)  # without --verbose twine prints the reason phrase
    assert plain.returncode != 0
    assert "File already exists" in plain.stdout + plain.stderr, plain.stdout
    r = twine_upload(published, tmp_path, dists.a_wheel, args=("--verbose",))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "File already exists" in out
    assert "400" in out
    assert published.token not in out
    # twine >= 6 refuses --skip-existing for any repository but PyPI's own; its decision function is what older
    # twines (and those that lift the restriction) apply to the response: it must say "skip".
    r = twine_upload(published, tmp_path, dists.a_wheel, args=("--skip-existing",))
    if "does not have support for the following features: --skip-existing" not in " ".join(
        (r.stdout + r.stderr).split()
    ):
        assert r.returncode == 0, r.stdout + r.stderr
    fields = upload_form(dists.a_wheel.name, dists.a_wheel.read_bytes())
    response = requests.post(
        published.endpoint,
        auth=published.auth,
        data=fields,
        files={"content": (dists.a_wheel.name, dists.a_wheel.read_bytes())},
        timeout=60,
    )
    assert response.status_code == 400
    assert skip_upload(response, True, PackageFile.from_filename(str(dists.a_wheel), None))
    assert not skip_upload(response, False, PackageFile.from_filename(str(dists.a_wheel), None))


def test_pip_install_resolves_from_the_metadata_file(published: Repo, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    require_pip(py, "23.2", "the PEP 658/714 metadata file and its 'Obtaining dependency information' line")
    env = client_env(tmp_path, PIP_INDEX_URL=published.authed_index())
    r = run([py, "-m", "pip", "install", "-v", "--no-cache-dir", "coffer-demo-a"], env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # PEP 658: pip resolved from <wheel>.metadata (announced in the index) before fetching the wheel
    assert re.search(r"Obtaining dependency information for coffer-demo-a.* from \S+\.whl\.metadata", out), out
    assert "coffer_demo_a-1.0-py3-none-any.whl" in out
    assert published.token not in out  # pip redacts the password in every URL it logs
    check = run([py, "-c", "import coffer_demo_a; print(coffer_demo_a.VALUE)"], env)
    assert check.stdout.strip() == "coffer-demo-a 1.0"

    # the display name resolves too, and --index-url on the command line works the same
    r = run(
        [py, "-m", "pip", "install", "--no-cache-dir", "--index-url", published.authed_index(), "coffer.demo-b"], env
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_uv_install_with_index_url_and_env(published: Repo, tmp_path: Path) -> None:
    venv = tmp_path / "uvenv"
    env = client_env(tmp_path)
    r = run([UV, "venv", "--no-config", "--python", sys.executable, str(venv)], env)
    assert r.returncode == 0, r.stdout + r.stderr
    py = str(venv / "bin" / "python")
    r = run(
        [UV, "pip", "install", "--no-cache", "--python", py, "--index-url", published.authed_index(), "coffer-demo-a"],
        env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(
        [UV, "pip", "install", "--no-cache", "--python", py, "Coffer_Demo.B"],
        {**env, "UV_INDEX_URL": published.authed_index()},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    check = run([py, "-c", "import coffer_demo_a, coffer_demo_b; print(coffer_demo_a.VALUE, coffer_demo_b.VALUE)"], env)
    assert check.stdout.strip() == "coffer-demo-a 1.0 Coffer.Demo_B 2.0"


# --- the simple index ---------------------------------------------------------------------------------------


def test_simple_index_json_and_html(published: Repo, dists: Dists) -> None:
    with httpx.Client(auth=published.auth, timeout=30) as http:
        r = http.get(published.index, headers={"Accept": JSON_V1})
        assert r.status_code == 200
        assert r.headers["content-type"] == JSON_V1
        assert "Accept" in r.headers["vary"]
        listing = r.json()
        assert listing["meta"]["api-version"] == "1.1"
        assert {p["name"] for p in listing["projects"]} == {"coffer-demo-a", "Coffer.Demo_B"}

        r = http.get(published.index)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert '<meta name="pypi:repository-version" content="1.1">' in r.text
        assert '<a href="coffer-demo-b/">Coffer.Demo_B</a>' in r.text

        page = http.get(published.index + "coffer-demo-a/", headers={"Accept": JSON_V1}).json()
        assert page["name"] == "coffer-demo-a"
        assert page["versions"] == ["1.0"]
        files = {f["filename"]: f for f in page["files"]}
        assert set(files) == {dists.a_wheel.name, dists.a_sdist.name}
        wheel = files[dists.a_wheel.name]
        wheel_bytes = dists.a_wheel.read_bytes()
        assert wheel["hashes"] == {"sha256": hashlib.sha256(wheel_bytes).hexdigest()}
        assert wheel["size"] == len(wheel_bytes)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", wheel["upload-time"])
        assert wheel["requires-python"] == ">=3.8"
        assert wheel["url"] == f"1.0/{dists.a_wheel.name}"
        with zipfile.ZipFile(dists.a_wheel) as zf:
            metadata = zf.read("coffer_demo_a-1.0.dist-info/METADATA")
        assert wheel["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
        assert wheel["dist-info-metadata"] == wheel["core-metadata"]
        assert files[dists.a_sdist.name]["core-metadata"] is False
        assert "yanked" not in wheel or wheel["yanked"] is False

        html = http.get(published.index + "coffer-demo-a/", headers={"Accept": "text/html"}).text
        link = next(line for line in html.splitlines() if dists.a_wheel.name + "</a>" in line)
        assert f'href="1.0/{dists.a_wheel.name}#sha256={wheel["hashes"]["sha256"]}"' in link
        assert 'data-requires-python="&gt;=3.8"' in link
        assert f'data-core-metadata="sha256={wheel["core-metadata"]["sha256"]}"' in link
        assert f'data-dist-info-metadata="sha256={wheel["core-metadata"]["sha256"]}"' in link

        # the PEP 691 HTML media type, and the "latest" alias
        r = http.get(published.index, headers={"Accept": "application/vnd.pypi.simple.v1+html"})
        assert r.headers["content-type"] == "application/vnd.pypi.simple.v1+html"
        r = http.get(published.index, headers={"Accept": "application/vnd.pypi.simple.latest+json"})
        assert r.headers["content-type"] == JSON_V1
        b = http.get(published.index + "coffer-demo-b/", headers={"Accept": JSON_V1}).json()
        assert "requires-python" not in b["files"][0]

        missing = http.get(published.index + "no-such-project/")
        assert missing.status_code == 404


def test_content_negotiation(published: Repo) -> None:
    cases = {
        "": "text/html; charset=utf-8",
        "*/*": "text/html; charset=utf-8",
        "text/*": "text/html; charset=utf-8",
        f"{JSON_V1}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01": JSON_V1,  # what pip and uv send
        f"text/html;q=0.5, {JSON_V1};q=0.9": JSON_V1,
        f"text/html;q=0.9, {JSON_V1};q=0.5": "text/html; charset=utf-8",
        f"{JSON_V1};q=0, */*;q=0.1": "text/html; charset=utf-8",
        "application/*": "application/vnd.pypi.simple.v1+html",
    }
    with httpx.Client(auth=published.auth, timeout=30) as http:
        for accept, expected in cases.items():
            r = http.get(published.index, headers={"Accept": accept} if accept else {})
            assert r.status_code == 200, accept
            assert r.headers["content-type"] == expected, accept
            assert r.headers["vary"] == "Accept"
        for accept in ("application/xml", f"{JSON_V1};q=0", "image/png, text/plain"):
            r = http.get(published.index + "coffer-demo-a/", headers={"Accept": accept})
            assert r.status_code == 406, accept
            assert r.headers["vary"] == "Accept"


def test_unnormalized_names_redirect(published: Repo) -> None:
    with httpx.Client(auth=published.auth, timeout=30, follow_redirects=False) as http:
        for name in ("Coffer.Demo_B/", "COFFER_DEMO_B/", "coffer--demo.b", "coffer-demo-b"):
            r = http.get(published.index + name)
            assert r.status_code == 301, name
            assert r.headers["location"].endswith(f"/pypi/d/{published.domain}-{ACCOUNT}/main/simple/coffer-demo-b/")
        r = http.get(published.index.rstrip("/"))
        assert r.status_code == 301
        assert r.headers["location"].endswith("/main/simple/")
        assert http.get(published.index + "coffer-demo-b/").status_code == 200


def test_downloads_stream_with_etag_and_length(published: Repo, dists: Dists) -> None:
    wheel_bytes = dists.a_wheel.read_bytes()
    sha = hashlib.sha256(wheel_bytes).hexdigest()
    url = published.index + f"coffer-demo-a/1.0/{dists.a_wheel.name}"
    with httpx.Client(auth=published.auth, timeout=30) as http:
        r = http.get(url)
        assert r.status_code == 200
        assert r.content == wheel_bytes
        assert r.headers["content-length"] == str(len(wheel_bytes))
        assert r.headers["etag"] == f'"{sha}"'
        head = http.head(url)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(wheel_bytes))
        assert http.get(url, headers={"If-None-Match": f'"{sha}"'}).status_code == 304

        meta = http.get(url + ".metadata")
        assert meta.status_code == 200
        with zipfile.ZipFile(dists.a_wheel) as zf:
            assert meta.content == zf.read("coffer_demo_a-1.0.dist-info/METADATA")
        assert meta.headers["etag"] == f'"{hashlib.sha256(meta.content).hexdigest()}"'

        sdist = http.get(published.index + f"coffer-demo-a/1.0/{dists.a_sdist.name}")
        assert sdist.content == dists.a_sdist.read_bytes()
        assert http.get(published.index + f"coffer-demo-a/1.0/{dists.a_sdist.name}.metadata").status_code == 404
        assert http.get(published.index + "coffer-demo-a/9.9/coffer_demo_a-9.9-py3-none-any.whl").status_code == 404


# --- authentication and authorization -----------------------------------------------------------------------


def _challenge(repo: Repo) -> str:
    realm = f"{repo.domain}/{repo.name}"
    return f'Bearer realm="{realm}", Basic realm="{realm}"'


def _mint(server: RunningServer, repo: Repo, *, expires_in: int, domain: str | None = None) -> str:
    return mint_token(server, domain or repo.domain, expires_in=expires_in)


def test_refused_tokens_get_401_with_the_challenge(
    published: Repo, server: RunningServer, admin_ca: Any, tmp_path: Path
) -> None:
    other = f"{published.domain}-other"
    admin_ca.create_domain(domain=other)
    foreign = admin_ca.get_authorization_token(domain=other)["authorizationToken"]
    expired = _mint(server, published, expires_in=-10)
    good = published.token
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    basic = base64.b64encode

    cases: dict[str, tuple[dict[str, str], str]] = {
        "missing": ({}, "authorization required"),
        "malformed": ({"Authorization": "Bearer not-a-token"}, "malformed"),
        "bad basic": ({"Authorization": "Basic %%%"}, "malformed Authorization header"),
        "wrong user": ({"Authorization": "Basic " + basic(f"bob:{good}".encode()).decode()}, "user name must be aws"),
        "tampered": ({"Authorization": f"Bearer {tampered}"}, "signature is invalid"),
        "expired": ({"Authorization": "Basic " + basic(f"aws:{expired}".encode()).decode()}, "expired"),
        "foreign domain": ({"Authorization": f"Bearer {foreign}"}, "another domain"),
    }
    urls = [
        published.index,
        published.index + "coffer-demo-a/",
        published.index + "Coffer.Demo_B/",  # no redirect before authentication
        published.index + "nothing-here/1.0/nothing_here-1.0-py3-none-any.whl",  # 401, not 404
        published.endpoint + "no/such/path",
    ]
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        for label, (headers, message) in cases.items():
            for url in urls:
                r = http.get(url, headers=headers)
                assert r.status_code == 401, (label, url)
                assert r.headers["www-authenticate"] == _challenge(published), label
                assert r.headers["content-type"].startswith("text/plain")
                assert message in r.text, (label, r.text)
                for secret in (good, tampered, expired, foreign):
                    assert secret not in r.text
            # uploads are refused before the body is looked at
            r = http.post(published.endpoint, headers=headers, files={"content": ("x.whl", b"x")})
            assert r.status_code == 401, label
            # the unread body means the connection cannot carry another request: the server says so
            assert r.headers["connection"] == "close", label

        # Bearer works as well as Basic
        assert http.get(published.index, headers={"Authorization": f"Bearer {good}"}).status_code == 200

    # pip sees the 401 for an expired token (and does not treat it as "no such package")
    env = client_env(tmp_path, PIP_INDEX_URL=published.authed_index(expired))
    r = run(
        [sys.executable, "-m", "pip", "download", "-d", str(tmp_path / "dl"), "--no-cache-dir", "coffer-demo-a"], env
    )
    assert r.returncode != 0
    assert "401" in r.stdout + r.stderr
    assert expired not in r.stdout + r.stderr


def test_revoked_token_is_refused_within_a_second(published: Repo, server: RunningServer, admin_ca: Any) -> None:
    by_token = admin_ca.get_authorization_token(domain=published.domain)["authorizationToken"]
    by_id = admin_ca.get_authorization_token(domain=published.domain)["authorizationToken"]
    with httpx.Client(timeout=30) as http:
        for token in (by_token, by_id):
            assert http.get(published.index, auth=("aws", token)).status_code == 200
        r = coffer(server, "revoke-token", by_token)
        assert r.returncode == 0, r.stderr
        token_id = tokens.peek_token_id(by_id)
        assert token_id is not None
        r = coffer(server, "revoke-token", token_id)
        assert r.returncode == 0, r.stderr
        assert coffer(server, "revoke-token", "not-a-token").returncode != 0
        for token in (by_token, by_id):
            r = http.get(published.index, auth=("aws", token))
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == _challenge(published)
            assert "revoked" in r.text
        assert http.get(published.index, auth=published.auth).status_code == 200  # other tokens unaffected


def test_read_only_user_cannot_upload_and_policy_changes_cut_tokens_off(
    published: Repo,
    server: RunningServer,
    dists: Dists,
    make_user: Callable[[dict[str, Any] | None], Any],
    tmp_path: Path,
) -> None:
    reader = make_user(token_policy("codeartifact:ReadFromRepository"))
    token = reader.get_authorization_token(domain=published.domain, domainOwner=ACCOUNT)["authorizationToken"]
    as_reader = Repo(published.domain, published.name, published.endpoint, token, server)
    with httpx.Client(timeout=30, auth=as_reader.auth) as http:
        assert http.get(published.index + "coffer-demo-a/").status_code == 200
        extra = build_wheel(tmp_path, "coffer-demo-a", "3.0")
        r = twine_upload(as_reader, tmp_path, extra, args=("--verbose",))
        assert r.returncode != 0
        assert "403" in r.stdout + r.stderr
        assert "PublishPackageVersion" in r.stdout + r.stderr
        assert http.get(published.index + "coffer-demo-a/3.0/" + extra.name).status_code == 404

        # a user who may only publish cannot read
        publisher = make_user(token_policy("codeartifact:PublishPackageVersion"))
        ptoken = publisher.get_authorization_token(domain=published.domain)["authorizationToken"]
        as_publisher = Repo(published.domain, published.name, published.endpoint, ptoken, server)
        r = twine_upload(as_publisher, tmp_path, extra)
        assert r.returncode == 0, r.stdout + r.stderr
        assert http.get(published.index + "coffer-demo-a/3.0/" + extra.name).status_code == 200
        r = http.get(published.index, auth=as_publisher.auth)
        assert r.status_code == 403
        assert "www-authenticate" not in r.headers

        # taking the permission away cuts off the token already issued
        # (make_user named the policy after the user: this replaces it)
        make_client(server, service="iam").put_user_policy(
            UserName=reader.user_name, PolicyName=reader.user_name, PolicyDocument=json.dumps(token_policy())
        )
        assert http.get(published.index).status_code == 403


def test_upstream_packages_are_visible_and_downloadable(
    server: RunningServer, admin_ca: Any, dists: Dists, published: Repo, tmp_path: Path
) -> None:
    base = new_repo(admin_ca, server, published.domain, "base")
    r = twine_upload(base, tmp_path, dists.c_wheel)
    assert r.returncode == 0, r.stdout + r.stderr
    top = new_repo(admin_ca, server, published.domain, "top", upstreams=["base", "main"])
    with httpx.Client(auth=top.auth, timeout=30) as http:
        listing = http.get(top.index, headers={"Accept": JSON_V1}).json()
        assert {p["name"] for p in listing["projects"]} >= {"coffer-demo-a", "Coffer.Demo_B", "coffer-demo-c"}
        page = http.get(top.index + "coffer-demo-c/", headers={"Accept": JSON_V1}).json()
        assert [f["filename"] for f in page["files"]] == [dists.c_wheel.name]
        r = http.get(top.index + f"coffer-demo-c/0.1/{dists.c_wheel.name}")
        assert r.status_code == 200
        assert r.content == dists.c_wheel.read_bytes()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    r = run(
        [py, "-m", "pip", "install", "--no-cache-dir", "coffer-demo-c"],
        client_env(tmp_path, PIP_INDEX_URL=top.authed_index()),
    )
    assert r.returncode == 0, r.stdout + r.stderr


# --- upload checks ------------------------------------------------------------------------------------------


def _post(repo: Repo, path: Path, **overrides: str) -> httpx.Response:
    return httpx.post(
        repo.endpoint,
        auth=repo.auth,
        data=upload_form(path.name, path.read_bytes(), **overrides),
        files={"content": (path.name, path.read_bytes(), "application/octet-stream")},
        timeout=60,
    )


def test_upload_must_agree_with_itself(published: Repo, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "coffer-demo-d", "1.0")
    cases = {
        "name": ({"name": "something-else"}, "another project"),
        "version": ({"version": "2.0"}, "another version"),
        "sha256": ({"sha256_digest": "0" * 64}, "digest supplied does not match"),
        "md5": ({"md5_digest": "0" * 32}, "digest supplied does not match"),
        "blake2": ({"blake2_256_digest": "0" * 64}, "digest supplied does not match"),
        "action": ({":action": "remove_pkg"}, "unsupported :action"),
    }
    for label, (overrides, message) in cases.items():
        r = _post(published, wheel, **overrides)
        assert r.status_code == 400, label
        assert message in r.text, (label, r.text)
    # the file's own metadata must agree with its name
    liar_dir = tmp_path / "liar"
    liar_dir.mkdir()
    liar = build_wheel(liar_dir, "coffer-demo-d", "1.1", metadata_version="9.9")
    r = _post(published, liar)
    assert r.status_code == 400
    assert "metadata has version '9.9'" in r.text
    junk = tmp_path / "coffer_demo_d-1.2-py3-none-any.whl"
    junk.write_bytes(b"not a zip")
    r = _post(published, junk)
    assert r.status_code == 400
    assert "not a readable zip archive" in r.text
    with httpx.Client(auth=published.auth, timeout=30) as http:
        assert http.get(published.index + "coffer-demo-d/").status_code == 404  # nothing half-published
    assert _post(published, wheel).status_code == 200


def test_concurrent_uploads_of_one_file_exactly_one_wins(published: Repo, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "coffer-demo-race", "1.0")
    barrier = threading.Barrier(4)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def upload() -> None:
        barrier.wait()
        r = _post(published, wheel)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400, 400, 400], [(r.status_code, r.text) for r in results]
    assert all("File already exists" in r.text for r in results if r.status_code == 400)
    assert all(r.reason_phrase.startswith("File already exists") for r in results if r.status_code == 400)
    with httpx.Client(auth=published.auth, timeout=30) as http:
        page = http.get(published.index + "coffer-demo-race/", headers={"Accept": JSON_V1}).json()
        assert [f["filename"] for f in page["files"]] == [wheel.name]
