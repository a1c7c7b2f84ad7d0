"""The JavaScript package managers against a real server: npm 11 (the registry's latest 11.x, beside the machine's
npm of test_npm.py), pnpm, yarn 1 (classic) and yarn 4 (berry), each configured by ``coffer login --tool
npm|pnpm|yarn`` (or by ``aws codeartifact login --tool npm``), each publishing a package, installing plain and
scoped packages (one depending on another), writing a lockfile that resolves to Coffer, and installing again from
that lockfile with an empty cache, every tarball then coming from Coffer (seen in the server's access log).

The clients are installed from the public registry once and kept (tests/functional/npm_client_installs.py): without
the registry and without a kept install, these tests are skipped, saying why; a client that is there and misbehaves
against Coffer fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest

from tests.functional.conftest import REGION, make_client
from tests.functional.npm_client_installs import Client, install
from tests.functional.npm_clients import NPM, NpmRepo, new_npm_repo, npm_env, publish_body, write_package
from tests.functional.server import RunningServer
from tests.functional.test_aws_cli import run_aws

# published over HTTP once for the module: a plain package in two versions and a scoped one that needs it, and a
# scoped one with no dependencies (for logins of one scope only, where unscoped names still go to the public registry)
PLAIN = "plain-dep"
SCOPED = "@acme/scoped-dep"
SOLO = "@acme/solo"

# what keeps the clients quiet and fast (no telemetry, progress bars or update checks); the age gates of pnpm 10+
# and yarn 4.10+ would hold back the versions these tests publish a moment before installing them
QUIET = {
    "YARN_ENABLE_TELEMETRY": "0",
    "YARN_ENABLE_PROGRESS_BARS": "0",
    "YARN_NPM_MINIMAL_AGE_GATE": "0",
    "YARN_NODE_LINKER": "node-modules",
    "pnpm_config_minimum_release_age": "0",
    "pnpm_config_update_notifier": "false",
}


# --- the clients ---------------------------------------------------------------------------------------------------

# the newest release of each major line (checked weekly): a new major is taken on purpose, by changing these
PNPM_MAJOR = "12"
YARN_BERRY_MAJOR = "4"


@pytest.fixture(scope="module")
def npm11() -> Client:
    client = install("npm", "npm", "11", "bin/npm-cli.js")
    assert client.version.startswith("11."), client
    return client


@pytest.fixture(scope="module")
def pnpm() -> Client:
    client = install("pnpm", "pnpm", PNPM_MAJOR, "bin/pnpm.mjs")
    assert client.version.startswith(f"{PNPM_MAJOR}."), client
    return client


@pytest.fixture(scope="module")
def yarn1() -> Client:
    client = install("yarn1", "yarn", "1", "bin/yarn.js")
    assert client.version.startswith("1."), client
    return client


@pytest.fixture(scope="module")
def yarn4() -> Client:
    client = install("yarn4", "@yarnpkg/cli-dist", YARN_BERRY_MAJOR, "bin/yarn.js")
    assert client.version.startswith(f"{YARN_BERRY_MAJOR}."), client
    return client


# --- a repository with packages in it ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repo(server: RunningServer) -> NpmRepo:
    ca = make_client(server)
    domain = f"clients-{uuid.uuid4().hex[:8]}"
    ca.create_domain(domain=domain)
    repo = new_npm_repo(ca, server, domain, "app")
    for name, version, fields in (
        (PLAIN, "1.0.0", {}),
        (PLAIN, "1.1.0", {}),
        (SCOPED, "1.0.0", {"dependencies": {PLAIN: "^1.0.0"}}),
        (SOLO, "1.0.0", {}),
    ):
        escaped, body = publish_body(name, version, description="fixture", license="MIT", **fields)
        r = httpx.put(
            repo.endpoint + escaped,
            content=body,
            headers={**repo.headers, "Content-Type": "application/json"},
            timeout=60,
        )
        assert r.status_code == 201, r.text
    return repo


def coffer_login(server: RunningServer, repo: NpmRepo, home: Path, tool: str, *args: str) -> str:
    """``coffer login --tool TOOL`` into ``home``; returns its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "npm_config_", "NPM_CONFIG_", "YARN_"))}
    env.update(
        HOME=str(home),
        AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_DEFAULT_REGION=REGION,
    )
    cmd = [sys.executable, "-m", "coffer", "login", "--tool", tool, "--domain", repo.domain, "--repository", repo.name]
    r = subprocess.run(
        [*cmd, "--endpoint-url", server.url, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Successfully configured {tool} to use repository {repo.endpoint}" in r.stdout
    return r.stdout


def new_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def run(client: Client, home: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The client in ``cwd``, with ``home`` as its home: its .npmrc/.yarnrc.yml there, caches there (unless ``env``
    says otherwise)."""
    full = npm_env(home, **QUIET)
    full.update(env)
    r = subprocess.run(
        [*client.argv, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=180, check=False
    )
    return r


def ok(r: subprocess.CompletedProcess[str], client: Client) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, f"{client} {' '.join(r.args[1:])} failed:\n{r.stdout}\n{r.stderr}"
    return r


def project(path: Path, name: str = "app") -> Path:
    path.mkdir(parents=True)
    (path / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0", "private": True}))
    return path


def tarballs_served(server: RunningServer, start: int, repo: NpmRepo, wanted: Iterable[str]) -> set[str]:
    """The tarball files of ``repo`` served with 200 since output line ``start`` (waiting for ``wanted``)."""
    base = "/" + repo.endpoint.split("://", 1)[1].split("/", 1)[1]
    wanted = set(wanted)
    pattern = re.compile(r'"GET (\S+) HTTP/1\.1" 200 ')

    def served(lines: list[str]) -> set[str]:
        found = set()
        for line in lines:
            m = pattern.search(line)
            if m and m.group(1).startswith(base) and m.group(1).endswith(".tgz"):
                found.add(m.group(1).rsplit("/", 1)[1])
        return found

    return served(server.lines_after(start, lambda lines: wanted <= served(lines)))


def requires(node_dir: Path, *names: str) -> None:
    """Each package is in node_modules and node can require it."""
    script = "".join(f"require({json.dumps(n)});" for n in names)
    r = subprocess.run(["node", "-e", script], cwd=node_dir, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def installed_version(app: Path, name: str) -> str:
    return str(json.loads((app / "node_modules" / name / "package.json").read_text())["version"])


def tarball_names(*packages: tuple[str, str]) -> set[str]:
    return {f"{name.rpartition('/')[2]}-{version}.tgz" for name, version in packages}


# --- npm 11 --------------------------------------------------------------------------------------------------------


def test_npm11_publish_install_and_ci_from_the_lockfile(
    server: RunningServer, repo: NpmRepo, npm11: Client, tmp_path: Path
) -> None:
    home = new_home(tmp_path)
    coffer_login(server, repo, home, "npm")
    machine = subprocess.run([str(NPM), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    print(f"{npm11} from the registry; the machine's npm (test_npm.py) is {machine}")

    made = ("npm11-made", "@acme/npm11-made")
    for name in made:
        package = write_package(tmp_path / name.replace("/", "_"), name, "1.0.0", description="by npm 11")
        r = ok(run(npm11, home, package, "publish"), npm11)
        assert f"+ {name}@1.0.0" in r.stdout

    app = project(tmp_path / "app")
    ok(run(npm11, home, app, "install", PLAIN, SCOPED, *made), npm11)
    lock = json.loads((app / "package-lock.json").read_text())["packages"]
    everything = ((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), *((name, "1.0.0") for name in made))
    for name, version in everything:
        entry = lock[f"node_modules/{name}"]
        assert entry["version"] == version
        assert entry["resolved"] == f"{repo.endpoint}{name}/-/{name.rpartition('/')[2]}-{version}.tgz"
        assert entry["integrity"].startswith("sha512-")
    requires(app, PLAIN, SCOPED, *made)

    shutil.rmtree(app / "node_modules")
    start = len(server.output)
    ok(run(npm11, home, app, "ci", npm_config_cache=str(tmp_path / "fresh-cache")), npm11)
    wanted = tarball_names(*everything)
    assert wanted <= tarballs_served(server, start, repo, wanted)
    requires(app, PLAIN, SCOPED, *made)


# --- pnpm ----------------------------------------------------------------------------------------------------------


def test_pnpm_publish_install_and_frozen_lockfile(
    server: RunningServer, repo: NpmRepo, pnpm: Client, tmp_path: Path
) -> None:
    home = new_home(tmp_path)
    coffer_login(server, repo, home, "pnpm")

    made = write_package(tmp_path / "made", "@acme/pnpm-made", "1.0.0", description="by pnpm")
    r = ok(run(pnpm, home, made, "publish", "--no-git-checks"), pnpm)
    assert "@acme/pnpm-made@1.0.0" in r.stdout + r.stderr

    app = project(tmp_path / "app")
    ok(run(pnpm, home, app, "add", PLAIN, SCOPED, "@acme/pnpm-made"), pnpm)
    lock = (app / "pnpm-lock.yaml").read_text()
    # pnpm keeps the registry out of its lockfile for tarballs where the registry puts them (the URL is derived from
    # the configured registry on install); a tarball URL of another form would be written as `tarball:`
    for name, version in ((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), ("@acme/pnpm-made", "1.0.0")):
        key = f"'{name}@{version}'" if name.startswith("@") else f"{name}@{version}"
        assert re.search(rf"^  {re.escape(key)}:\n    resolution: {{integrity: sha512-", lock, re.M), lock
    for url in re.findall(r"https?://[^\s,}'\"]+", lock):
        assert url.startswith(repo.endpoint), url
    assert installed_version(app, PLAIN) == "1.1.0"
    requires(app, PLAIN, SCOPED, "@acme/pnpm-made")

    shutil.rmtree(app / "node_modules")
    start = len(server.output)
    fresh = {"pnpm_config_store_dir": str(tmp_path / "fresh-store"), "XDG_CACHE_HOME": str(tmp_path / "fresh-cache")}
    ok(run(pnpm, home, app, "install", "--frozen-lockfile", **fresh), pnpm)
    wanted = tarball_names((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), ("@acme/pnpm-made", "1.0.0"))
    assert wanted <= tarballs_served(server, start, repo, wanted)
    requires(app, PLAIN, SCOPED, "@acme/pnpm-made")


def test_pnpm_with_the_npmrc_of_an_aws_scoped_login(
    server: RunningServer, repo: NpmRepo, pnpm: Client, tmp_path: Path
) -> None:
    """``aws codeartifact login --tool npm --namespace acme`` (the machine's npm sets the scope's registry): pnpm
    takes @acme from Coffer."""
    if NPM is None:
        pytest.skip("aws codeartifact login --tool npm runs npm, and the machine has none")
    home = new_home(tmp_path)
    r = run_aws(
        server, home, "codeartifact", "login", "--tool", "npm", "--domain", repo.domain, "--repository", repo.name,
        "--namespace", "acme",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    app = project(tmp_path / "app")
    ok(run(pnpm, home, app, "add", SOLO), pnpm)
    requires(app, SOLO)
    assert installed_version(app, SOLO) == "1.0.0"


# --- yarn 1 --------------------------------------------------------------------------------------------------------


def test_yarn1_publish_install_and_frozen_lockfile(
    server: RunningServer, repo: NpmRepo, yarn1: Client, tmp_path: Path
) -> None:
    home = new_home(tmp_path)
    coffer_login(server, repo, home, "yarn")  # yarn 1 reads the .npmrc it writes
    cache = ("--cache-folder", str(tmp_path / "yarn-cache"))

    made = write_package(tmp_path / "made", "yarn1-made", "1.0.0", description="by yarn 1", license="MIT")
    r = ok(run(yarn1, home, made, "publish", "--non-interactive", *cache), yarn1)
    assert "success Published." in r.stdout

    app = project(tmp_path / "app")
    ok(run(yarn1, home, app, "add", PLAIN, SCOPED, "yarn1-made", "--non-interactive", *cache), yarn1)
    lock = (app / "yarn.lock").read_text()
    urls = re.findall(r'^  resolved "([^"#]+)', lock, re.M)
    assert sorted(urls) == sorted(
        f"{repo.endpoint}{name}/-/{name.rpartition('/')[2]}-{version}.tgz"
        for name, version in ((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), ("yarn1-made", "1.0.0"))
    ), lock
    requires(app, PLAIN, SCOPED, "yarn1-made")

    shutil.rmtree(app / "node_modules")
    start = len(server.output)
    ok(
        run(
            yarn1, home, app, "install", "--frozen-lockfile", "--non-interactive",
            "--cache-folder", str(tmp_path / "fresh-cache"),
        ),
        yarn1,
    )  # fmt: skip
    wanted = tarball_names((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), ("yarn1-made", "1.0.0"))
    assert wanted <= tarballs_served(server, start, repo, wanted)
    requires(app, PLAIN, SCOPED, "yarn1-made")


# --- yarn 4 --------------------------------------------------------------------------------------------------------


def test_yarn4_publish_install_and_immutable_lockfile(
    server: RunningServer, repo: NpmRepo, yarn4: Client, tmp_path: Path
) -> None:
    home = new_home(tmp_path)
    coffer_login(server, repo, home, "yarn")  # yarn 4 reads ~/.yarnrc.yml

    made = write_package(tmp_path / "made", "@acme/yarn4-made", "1.0.0", description="by yarn 4")
    (made / "yarn.lock").write_text("")
    ok(run(yarn4, home, made, "install"), yarn4)  # yarn publishes a project's workspace
    r = ok(run(yarn4, home, made, "npm", "publish"), yarn4)
    assert "Package archive published" in r.stdout

    app = project(tmp_path / "app")
    (app / "yarn.lock").write_text("")
    ok(run(yarn4, home, app, "add", PLAIN, SCOPED, "@acme/yarn4-made"), yarn4)
    lock = (app / "yarn.lock").read_text()
    # yarn 4 writes registry-neutral resolutions (`name@npm:version`) and a checksum; a tarball URL other than the
    # registry's own form would be written into the resolution as __archiveUrl
    for name, version in ((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), ("@acme/yarn4-made", "1.0.0")):
        assert f'resolution: "{name}@npm:{version}"' in lock, lock
    assert "__archiveUrl" not in lock and "://" not in lock.split("__metadata:", 1)[1], lock
    assert installed_version(app, PLAIN) == "1.1.0"
    requires(app, PLAIN, SCOPED, "@acme/yarn4-made")

    shutil.rmtree(app / "node_modules")
    (app / ".yarn" / "install-state.gz").unlink(missing_ok=True)
    start = len(server.output)
    ok(run(yarn4, home, app, "install", "--immutable", YARN_GLOBAL_FOLDER=str(tmp_path / "fresh-global")), yarn4)
    wanted = tarball_names((PLAIN, "1.1.0"), (SCOPED, "1.0.0"), ("@acme/yarn4-made", "1.0.0"))
    assert wanted <= tarballs_served(server, start, repo, wanted)
    requires(app, PLAIN, SCOPED, "@acme/yarn4-made")


def test_yarn4_with_a_scoped_coffer_login(server: RunningServer, repo: NpmRepo, yarn4: Client, tmp_path: Path) -> None:
    """``coffer login --tool yarn --namespace acme``: npmScopes.acme names Coffer, the default registry is kept."""
    home = new_home(tmp_path)
    coffer_login(server, repo, home, "yarn", "--namespace", "acme")
    config = (home / ".yarnrc.yml").read_text()
    assert "npmScopes:\n  acme:\n" in config and "npmRegistryServer:" not in config.split("npmScopes:")[0]
    app = project(tmp_path / "app")
    (app / "yarn.lock").write_text("")
    # a scope of npmScopes has an age gate of its own (1 day by default, which YARN_NPM_MINIMAL_AGE_GATE does not
    # change): the project trusts its own scope's versions at once
    (app / ".yarnrc.yml").write_text('npmPreapprovedPackages:\n  - "@acme/*"\n')
    ok(run(yarn4, home, app, "add", SOLO), yarn4)
    requires(app, SOLO)
    r = ok(run(yarn4, home, app, "config", "get", "npmRegistryServer"), yarn4)
    assert r.stdout.strip().startswith("https://") and "127.0.0.1" not in r.stdout  # yarn's own default
