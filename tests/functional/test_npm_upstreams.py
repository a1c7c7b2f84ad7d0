"""npm through external connections: a second Coffer's npm repository stands in for the public registry (the
suite needs no internet), and one test reaches the real registry.npmjs.org and skips when it cannot.

The downstream Coffer has CodeArtifact's recommended shape: ``npm-store`` holds ``public:npmjs``, ``app`` has
``npm-store`` as its upstream; npm installs from ``app``."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.conftest import ACCOUNT, make_client
from tests.functional.npm_clients import NpmRepo, new_npm_repo, publish_body, run_npm, tarball
from tests.functional.server import RunningServer, running_server

ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


def _publish(repo: NpmRepo, name: str, version: str, **kw: Any) -> None:
    escaped, body = publish_body(name, version, **kw)
    r = httpx.put(repo.endpoint + escaped, content=body, headers={**repo.headers, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text


@dataclass
class Chain:
    upstream: NpmRepo  # on the session's server: the "public registry"
    coffer: RunningServer  # the downstream Coffer
    ca: Any
    app: NpmRepo
    store: NpmRepo


@pytest.fixture
def chain(tmp_path: Path, server: RunningServer, unique: Callable[[str], str]) -> Iterator[Chain]:
    ca_up = make_client(server)
    domain = unique("npmpub")
    ca_up.create_domain(domain=domain)
    upstream = new_npm_repo(ca_up, server, domain, "mirror")
    _publish(upstream, "left-pad", "1.0.0", description="pads", dependencies={"pad-core": "^2.0.0"})
    _publish(upstream, "left-pad", "1.1.0", description="pads more")
    _publish(upstream, "left-pad", "2.0.0-rc.1", tag="next")
    _publish(upstream, "pad-core", "2.1.0")
    _publish(upstream, "@pub/kit", "3.0.0", readme="# Kit\n")
    url = upstream.endpoint.replace("://", f"://aws:{upstream.token}@", 1)
    flags = ("--account-id", ACCOUNT, "--external-connection-url", f"public:npmjs={url}", "--upstream-timeout", "2")
    with running_server(tmp_path / "downstream", *flags) as coffer:
        ca = make_client(coffer)
        ca.create_domain(domain="acme")
        store = new_npm_repo(ca, coffer, "acme", "npm-store")
        ca.associate_external_connection(domain="acme", repository="npm-store", externalConnection="public:npmjs")
        app = new_npm_repo(ca, coffer, "acme", "app", upstreams=["npm-store"])
        yield Chain(upstream, coffer, ca, app, store)


def _versions(ca: Any, repo: str, name: str, namespace: str | None = None) -> dict[str, str]:
    kwargs: dict[str, Any] = {"domain": "acme", "repository": repo, "format": "npm", "package": name}
    if namespace:
        kwargs["namespace"] = namespace
    found = ca.list_package_versions(**kwargs)["versions"]
    return {v["version"]: v["origin"]["originType"] for v in found}


def _app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "project"
    app.mkdir(exist_ok=True)
    (app / "package.json").write_text(json.dumps({"name": "project", "version": "1.0.0"}))
    return app


def test_npm_installs_public_and_private_packages_through_the_chain(chain: Chain, tmp_path: Path) -> None:
    _publish(chain.app, "@acme/ui", "1.0.0")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".npmrc").write_text(chain.app.npmrc())
    project = _app_dir(tmp_path)
    r = run_npm(home, project, "install", "left-pad@^1", "@acme/ui", "@pub/kit")
    assert r.returncode == 0, r.stderr
    lock = json.loads((project / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/left-pad"]["version"] == "1.1.0"
    assert lock["node_modules/left-pad"]["resolved"] == chain.app.endpoint + "left-pad/-/left-pad-1.1.0.tgz"
    assert lock["node_modules/@pub/kit"]["resolved"].startswith(chain.app.endpoint)
    # retained in the repository asked and in the one holding the connection, as fetched (EXTERNAL)
    for repo in ("app", "npm-store"):
        assert _versions(chain.ca, repo, "left-pad") == {"1.1.0": "EXTERNAL"}
        assert _versions(chain.ca, repo, "kit", "pub") == {"3.0.0": "EXTERNAL"}
    described = chain.ca.describe_package_version(
        domain="acme", repository="app", format="npm", package="left-pad", packageVersion="1.1.0"
    )["packageVersion"]
    assert described["summary"] == "pads more"
    readme = chain.ca.get_package_version_readme(
        domain="acme", repository="app", format="npm", namespace="pub", package="kit", packageVersion="3.0.0"
    )
    assert readme["readme"] == "# Kit\n"
    # the merged packument: every upstream version, the upstream's tags, tarballs under app's path
    doc = httpx.get(chain.app.endpoint + "left-pad", headers={**chain.app.headers, "Accept": ABBREVIATED}).json()
    assert set(doc["versions"]) == {"1.0.0", "1.1.0", "2.0.0-rc.1"}
    assert doc["dist-tags"] == {"latest": "1.1.0", "next": "2.0.0-rc.1"}
    assert all(v["dist"]["tarball"].startswith(chain.app.endpoint) for v in doc["versions"].values())
    assert doc["versions"]["1.0.0"]["dependencies"] == {"pad-core": "^2.0.0"}
    assert chain.upstream.token not in json.dumps(doc)
    # a retained version's package now refuses publishing (fetched first: publish=BLOCK)
    escaped, body = publish_body("left-pad", "9.0.0")
    r = httpx.put(chain.app.endpoint + escaped, content=body, headers={**chain.app.headers})
    assert r.status_code == 400 and "publish=BLOCK" in r.json()["error"]


def test_a_private_package_hides_the_public_one_of_the_same_name(chain: Chain) -> None:
    """Published first: upstream=BLOCK, so the public versions and tags of the name never join it."""
    _publish(chain.app, "pad-core", "0.1.0")
    doc = httpx.get(chain.app.endpoint + "pad-core", headers={**chain.app.headers, "Accept": ABBREVIATED}).json()
    assert set(doc["versions"]) == {"0.1.0"} and doc["dist-tags"] == {"latest": "0.1.0"}


def test_the_upstream_down_keeps_retained_versions_served(chain: Chain, tmp_path: Path) -> None:
    first = httpx.get(chain.app.endpoint + "left-pad/-/left-pad-1.0.0.tgz", headers=chain.app.headers, timeout=30)
    assert first.status_code == 200 and first.content == tarball(
        "left-pad", "1.0.0", description="pads", dependencies={"pad-core": "^2.0.0"}
    )
    chain.ca.update_repository(domain="acme", repository="app", upstreams=[])  # nothing but what app retained
    doc = httpx.get(chain.app.endpoint + "left-pad", headers={**chain.app.headers, "Accept": ABBREVIATED}).json()
    assert set(doc["versions"]) == {"1.0.0"}
    again = httpx.get(chain.app.endpoint + "left-pad/-/left-pad-1.0.0.tgz", headers=chain.app.headers, timeout=30)
    assert again.content == first.content


def test_an_unreachable_registry_fails_fast_naming_the_connection(tmp_path: Path, unique: Callable[[str], str]) -> None:
    flags = (
        "--account-id",
        ACCOUNT,
        "--external-connection-url",
        "public:npmjs=http://127.0.0.1:9/",
        "--upstream-timeout",
        "2",
    )
    with running_server(tmp_path / "c", *flags) as coffer:
        ca = make_client(coffer)
        ca.create_domain(domain="acme")
        store = new_npm_repo(ca, coffer, "acme", "npm-store")
        ca.associate_external_connection(domain="acme", repository="npm-store", externalConnection="public:npmjs")
        r = httpx.get(store.endpoint + "left-pad", headers=store.headers, timeout=30)
        assert r.status_code in (502, 504) and "public:npmjs" in r.json()["error"]


def test_concurrent_first_downloads_fetch_once(chain: Chain, server: RunningServer) -> None:
    url = chain.app.endpoint + "pad-core/-/pad-core-2.1.0.tgz"
    assert httpx.get(chain.app.endpoint + "pad-core", headers=chain.app.headers).status_code == 200
    first_line = len(server.output)
    with httpx.Client(headers=chain.app.headers, timeout=60) as http, concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: http.get(url), range(20)))
    assert {r.status_code for r in results} == {200}
    fetched = [line for line in server.output[first_line:] if "pad-core-2.1.0.tgz " in line and '"GET' in line]
    assert len(fetched) == 1, fetched


def test_package_groups_block_an_external_scope(chain: Chain) -> None:
    chain.ca.create_package_group(domain="acme", packageGroup="/npm/pub/*")
    chain.ca.update_package_group_origin_configuration(
        domain="acme", packageGroup="/npm/pub/*", restrictions={"EXTERNAL_UPSTREAM": "BLOCK"}
    )
    r = httpx.get(chain.app.endpoint + "@pub%2fkit", headers=chain.app.headers)
    assert r.status_code == 404
    assert httpx.get(chain.app.endpoint + "left-pad", headers=chain.app.headers).status_code == 200


def test_the_real_npm_registry_through_the_default_connection(tmp_path: Path) -> None:
    try:
        httpx.get("https://registry.npmjs.org/left-pad", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"registry.npmjs.org is unreachable from here: {exc}")
    with running_server(tmp_path / "coffer", "--account-id", ACCOUNT) as coffer:
        ca = make_client(coffer)
        ca.create_domain(domain="acme")
        new_npm_repo(ca, coffer, "acme", "npm-store")
        ca.associate_external_connection(domain="acme", repository="npm-store", externalConnection="public:npmjs")
        app = new_npm_repo(ca, coffer, "acme", "app", upstreams=["npm-store"])
        home = tmp_path / "home"
        home.mkdir()
        (home / ".npmrc").write_text(app.npmrc())
        project = _app_dir(tmp_path)
        r = run_npm(home, project, "install", "left-pad@1.3.0")
        assert r.returncode == 0, r.stderr
        assert (project / "node_modules/left-pad/package.json").exists()
        assert _versions(ca, "app", "left-pad") == {"1.3.0": "EXTERNAL"}
