"""``coffer login`` and the keyring backend against a real server, with HOME and the config dirs in temp dirs."""

from __future__ import annotations

import configparser
import os
import re
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import keyring
import keyring.errors
import pytest

from coffer.login import parse_pypi_url
from coffer.login.keyring_backend import CofferKeyring
from tests.functional.conftest import ACCOUNT, REGION, require_pip
from tests.functional.dists import build_wheel
from tests.functional.npm_clients import NPM
from tests.functional.pypi_clients import pip_install
from tests.functional.server import RunningServer

BIN = str(Path(sys.executable).parent)  # the venv's pip, keyring, twine, uv
# environment that could point the clients elsewhere than the temp dirs and the test server
_SCRUB = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CODEARTIFACT",
    "COFFER_ENDPOINT_URL",
    "COFFER_KEYRING_HOST_SUFFIXES",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "UV_CONFIG_FILE",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "POETRY_CONFIG_DIR",
    "PIP_INDEX_URL",
    "PIP_KEYRING_PROVIDER",
    "PYTHON_KEYRING_BACKEND",
    "COFFER_KEYRING_DURATION_SECONDS",
    "npm_config_userconfig",
    "NPM_CONFIG_USERCONFIG",
    "YARN_RC_FILENAME",
)


@dataclass
class Repo:
    domain: str
    repository: str
    endpoint: str


@dataclass
class Home:
    root: Path
    env: dict[str, str]

    @property
    def config(self) -> Path:
        return self.root / "cfg"


@pytest.fixture()
def repo(ca: Any, unique: Callable[[str], str]) -> Repo:
    domain = unique("login")
    ca.create_domain(domain=domain)
    ca.create_repository(domain=domain, repository="internal")
    endpoint = ca.get_repository_endpoint(domain=domain, repository="internal", format="pypi")["repositoryEndpoint"]
    return Repo(domain, "internal", endpoint)


@pytest.fixture()
def home(tmp_path: Path, server: RunningServer) -> Home:
    root = tmp_path / "home"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(
        HOME=str(root),
        XDG_CONFIG_HOME=str(root / "cfg"),
        PIP_CONFIG_FILE=str(root / "no-such-pip.conf"),  # pip then reads/writes the user file under XDG_CONFIG_HOME
        AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
        AWS_CONFIG_FILE=str(root / "no-such-aws-config"),
        AWS_DEFAULT_REGION=REGION,
        PATH=BIN + os.pathsep + env.get("PATH", ""),
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return Home(root, env)


def login(server: RunningServer, home: Home, repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "coffer", "login", "--domain", repo.domain, "--repository", repo.repository]
    return subprocess.run(
        [*cmd, "--endpoint-url", server.url, *args], capture_output=True, text=True, env=home.env, timeout=120
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def simple_url(repo: Repo) -> str:
    return repo.endpoint + "simple/"


# ---------------------------------------------------------------------------------------------------------------------
# dry runs: print, write nothing


def test_dry_run_pip_prints_the_aws_command(server: RunningServer, home: Home, repo: Repo) -> None:
    r = login(server, home, repo, "--tool", "pip", "--dry-run")
    assert r.returncode == 0, r.stderr
    host = server.url.split("://", 1)[1]
    m = re.search(
        rf"^pip config set global\.index-url http://aws:(\S+)@{re.escape(host)}"
        rf"/pypi/d/{repo.domain}-{ACCOUNT}/internal/simple/$",
        r.stdout,
        re.M,
    )
    assert m, r.stdout
    assert "would expire in 12 hours" in r.stdout
    assert files_under(home.root) == []


def test_dry_run_twine_uv_poetry_print_the_files(server: RunningServer, home: Home, repo: Repo) -> None:
    r = login(server, home, repo, "--tool", "twine", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"{home.root / '.pypirc'} would have been set to the following:" in r.stdout
    assert "[codeartifact]" in r.stdout and f"repository = {repo.endpoint}" in r.stdout and "username = aws" in r.stdout

    r = login(server, home, repo, "--tool", "uv", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert str(home.config / "uv" / "uv.toml") in r.stdout
    assert "[[index]]" in r.stdout and 'name = "codeartifact"' in r.stdout and "default = true" in r.stdout
    assert "UV_INDEX_CODEARTIFACT_PASSWORD" in r.stdout  # how uv gets the credentials is explained

    r = login(server, home, repo, "--tool", "poetry", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert str(home.config / "pypoetry" / "config.toml") in r.stdout
    assert str(home.config / "pypoetry" / "auth.toml") in r.stdout
    assert f'[repositories.codeartifact]\nurl = "{repo.endpoint}"' in r.stdout
    assert '[http-basic.codeartifact]\nusername = "aws"\npassword = "' in r.stdout
    assert files_under(home.root) == []


# ---------------------------------------------------------------------------------------------------------------------
# real runs


def test_pip_login_sets_global_index_url(server: RunningServer, home: Home, repo: Repo) -> None:
    r = login(server, home, repo, "--tool", "pip")
    assert r.returncode == 0, r.stderr
    conf = home.config / "pip" / "pip.conf"
    assert f"Writing to {conf}" in r.stdout
    assert f"Successfully configured pip to use repository {repo.endpoint}" in r.stdout
    assert re.search(r"Login expires in 12 hours at .+ \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", r.stdout), r.stdout
    parser = configparser.RawConfigParser()
    parser.read(conf)
    url = parser.get("global", "index-url")
    host = server.url.split("://", 1)[1]
    m = re.fullmatch(rf"http://aws:(\S+)@{re.escape(host)}/pypi/d/{repo.domain}-{ACCOUNT}/internal/simple/", url)
    assert m, url
    assert m.group(1) not in r.stdout  # the token is not printed on a real run
    # pip itself reads it back
    shown = subprocess.run(["pip", "config", "list"], capture_output=True, text=True, env=home.env, check=True)
    assert f"global.index-url='{url}'" in shown.stdout


def test_twine_login_writes_pypirc_0600_keeping_other_sections(server: RunningServer, home: Home, repo: Repo) -> None:
    pypirc = home.root / ".pypirc"
    pypirc.write_text(
        "[distutils]\nindex-servers =\n    pypi\n    testpypi\n\n"
        "[testpypi]\nrepository = https://test.pypi.org/legacy/\nusername = __token__\n"
    )
    pypirc.chmod(0o644)
    r = login(server, home, repo, "--tool", "twine", "--duration-seconds", "900")
    assert r.returncode == 0, r.stderr
    assert f"Wrote {pypirc} (mode 0600)" in r.stdout
    assert "Login expires in 15 minutes at " in r.stdout
    assert stat.S_IMODE(pypirc.stat().st_mode) == 0o600
    parser = configparser.RawConfigParser()
    parser.read(pypirc)
    assert parser.get("distutils", "index-servers").split() == ["pypi", "testpypi", "codeartifact"]
    assert parser.get("testpypi", "repository") == "https://test.pypi.org/legacy/"
    assert parser.get("codeartifact", "repository") == repo.endpoint
    assert parser.get("codeartifact", "username") == "aws"
    assert parser.get("codeartifact", "password").startswith("cf")


def test_twine_login_creates_pypirc_like_aws(server: RunningServer, home: Home, repo: Repo) -> None:
    r = login(server, home, repo, "--tool", "twine")
    assert r.returncode == 0, r.stderr
    pypirc = home.root / ".pypirc"
    assert stat.S_IMODE(pypirc.stat().st_mode) == 0o600
    text = pypirc.read_text()
    assert text.startswith("[distutils]\nindex-servers = \n\tpypi\n\tcodeartifact\n\n[codeartifact]\n")
    assert f"repository = {repo.endpoint}\nusername = aws\npassword = " in text


def test_uv_login_writes_uv_toml_keeping_the_rest(server: RunningServer, home: Home, repo: Repo) -> None:
    uv_toml = home.config / "uv" / "uv.toml"
    uv_toml.parent.mkdir(parents=True)
    uv_toml.write_text(
        "# my settings\nnative-tls = true\n\n"
        '[[index]]\nname = "pytorch"  # keep me\nurl = "https://download.pytorch.org/whl/cpu"\ndefault = true\n\n'
        "[pip]\ncompile-bytecode = true\n"
    )
    r = login(server, home, repo, "--tool", "uv", "--duration-seconds", "900")
    assert r.returncode == 0, r.stderr
    assert f"Wrote {uv_toml} (mode 0600)" in r.stdout
    assert "UV_INDEX_CODEARTIFACT_USERNAME" in r.stdout
    assert "pytorch in" in r.stdout and "no longer the default" in r.stdout
    assert stat.S_IMODE(uv_toml.stat().st_mode) == 0o600
    text = uv_toml.read_text()
    assert text.startswith("# my settings\n") and 'name = "pytorch"  # keep me' in text
    data = tomllib.loads(text)
    assert data["native-tls"] is True and data["pip"] == {"compile-bytecode": True}
    pytorch, ours = data["index"]
    assert pytorch == {"name": "pytorch", "url": "https://download.pytorch.org/whl/cpu", "default": False}
    assert ours["name"] == "codeartifact" and ours["default"] is True
    assert re.fullmatch(r"http://aws:[^@]+@" + re.escape(simple_url(repo).split("://", 1)[1]), ours["url"])

    # a second login replaces the entry rather than adding one
    r = login(server, home, repo, "--tool", "uv")
    assert r.returncode == 0, r.stderr
    again = tomllib.loads(uv_toml.read_text())
    assert [i["name"] for i in again["index"]] == ["pytorch", "codeartifact"]
    assert again["index"][1]["url"] != ours["url"]  # a new token


def test_poetry_login_writes_config_and_auth(server: RunningServer, home: Home, repo: Repo) -> None:
    poetry_dir = home.config / "pypoetry"
    poetry_dir.mkdir(parents=True)
    (poetry_dir / "config.toml").write_text('[virtualenvs]\nin-project = true\n\n[repositories.other]\nurl = "x"\n')
    r = login(server, home, repo, "--tool", "poetry")
    assert r.returncode == 0, r.stderr
    assert f"Wrote {poetry_dir / 'config.toml'}" in r.stdout
    assert f"Wrote {poetry_dir / 'auth.toml'} (mode 0600)" in r.stdout
    config = tomllib.loads((poetry_dir / "config.toml").read_text())
    assert config == {
        "virtualenvs": {"in-project": True},
        "repositories": {"other": {"url": "x"}, "codeartifact": {"url": repo.endpoint}},
    }
    auth_path = poetry_dir / "auth.toml"
    assert stat.S_IMODE(auth_path.stat().st_mode) == 0o600
    auth = tomllib.loads(auth_path.read_text())
    assert auth["http-basic"]["codeartifact"]["username"] == "aws"
    assert auth["http-basic"]["codeartifact"]["password"].startswith("cf")


def test_poetry_config_dir_env(server: RunningServer, home: Home, repo: Repo, tmp_path: Path) -> None:
    home.env["POETRY_CONFIG_DIR"] = str(tmp_path / "poetry-here")
    r = login(server, home, repo, "--tool", "poetry")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "poetry-here" / "auth.toml").exists()
    assert not (home.config / "pypoetry").exists()


def test_errors_are_aws_errors_and_exit_1(server: RunningServer, home: Home, repo: Repo) -> None:
    r = login(server, home, Repo("no-such-domain", "internal", ""), "--tool", "pip")
    assert r.returncode == 1
    assert "ResourceNotFoundException" in r.stderr and "GetAuthorizationToken" in r.stderr
    assert "no-such-domain" in r.stderr

    r = login(server, home, Repo(repo.domain, "no-such-repo", ""), "--tool", "twine")
    assert r.returncode == 1
    assert "ResourceNotFoundException" in r.stderr and "GetRepositoryEndpoint" in r.stderr

    r = login(server, home, repo, "--tool", "uv", "--duration-seconds", "60")
    assert r.returncode == 1
    assert "ValidationException" in r.stderr and "durationSeconds" in r.stderr

    env = {**home.env, "AWS_SHARED_CREDENTIALS_FILE": str(home.root / "none")}
    r = subprocess.run(
        [sys.executable, "-m", "coffer", "login", "--tool", "pip", "--domain", repo.domain, "--repository", "internal"],
        capture_output=True,
        text=True,
        env={**env, "AWS_ENDPOINT_URL_CODEARTIFACT": server.url},
        timeout=120,
    )
    assert r.returncode == 1
    assert "Unable to locate credentials" in r.stderr
    assert files_under(home.root) == []


def test_duration_zero_sends_none(server: RunningServer, home: Home, repo: Repo) -> None:
    r = login(server, home, repo, "--tool", "pip", "--dry-run", "--duration-seconds", "0")
    assert r.returncode == 0, r.stderr
    assert "would expire in 12 hours" in r.stdout


# ---------------------------------------------------------------------------------------------------------------------
# npm, pnpm and yarn: ~/.npmrc and ~/.yarnrc.yml


def npm_endpoint(ca: Any, repo: Repo) -> str:
    return str(
        ca.get_repository_endpoint(domain=repo.domain, repository=repo.repository, format="npm")["repositoryEndpoint"]
    )


def nerf(endpoint: str) -> str:
    """``//host:port/path/``, the key prefix npm finds a registry's settings by."""
    return "//" + endpoint.split("://", 1)[1]


def test_dry_run_npm_pnpm_yarn_print_the_files(server: RunningServer, home: Home, repo: Repo, ca: Any) -> None:
    endpoint = npm_endpoint(ca, repo)
    for tool in ("npm", "pnpm"):
        r = login(server, home, repo, "--tool", tool, "--dry-run")
        assert r.returncode == 0, r.stderr
        assert f"{home.root / '.npmrc'} would have been set to the following:" in r.stdout
        assert re.search(
            rf"^registry={re.escape(endpoint)}\n{re.escape(nerf(endpoint))}:_authToken=cf\S+$", r.stdout, re.M
        )
        assert "would expire in 12 hours" in r.stdout
    r = login(server, home, repo, "--tool", "yarn", "--dry-run", "--namespace", "@acme")
    assert r.returncode == 0, r.stderr
    assert f"{home.root / '.yarnrc.yml'} would have been set to the following:" in r.stdout
    assert f'npmScopes:\n  acme:\n    npmRegistryServer: "{endpoint}"\n    npmAuthToken: "cf' in r.stdout
    assert 'npmAlwaysAuth: true\nunsafeHttpWhitelist:\n  - "127.0.0.1"\n' in r.stdout
    assert f"@acme:registry={endpoint}\n" in r.stdout
    assert files_under(home.root) == []


def test_npm_login_writes_npmrc_0600_keeping_other_lines(
    server: RunningServer, home: Home, repo: Repo, ca: Any
) -> None:
    endpoint = npm_endpoint(ca, repo)
    npmrc = home.root / ".npmrc"
    kept = [
        "; my settings",
        "fund=false",
        "@other:registry=https://npm.other.example/",
        "//npm.other.example/:_authToken=${OTHER_TOKEN}",
        "",
        "# the public registry, for now",
    ]
    npmrc.write_text("\n".join([*kept[:3], "registry=https://registry.npmjs.org/", *kept[3:]]) + "\n")
    npmrc.chmod(0o644)
    r = login(server, home, repo, "--tool", "npm", "--duration-seconds", "900")
    assert r.returncode == 0, r.stderr
    assert f"Wrote {npmrc} (mode 0600)" in r.stdout
    assert f"Successfully configured npm to use repository {endpoint}" in r.stdout
    assert stat.S_IMODE(npmrc.stat().st_mode) == 0o600
    lines = npmrc.read_text().splitlines()
    assert lines[:3] == kept[:3] and lines[3] == f"registry={endpoint}" and lines[4:-1] == kept[3:]
    token_line = lines[-1]
    assert token_line.startswith(f"{nerf(endpoint)}:_authToken=cf")
    assert token_line.split("=", 1)[1] not in r.stdout  # the token is not printed on a real run

    # again: the token is replaced, not added twice; the real npm reads what was written
    r = login(server, home, repo, "--tool", "npm")
    assert r.returncode == 0, r.stderr
    again = npmrc.read_text().splitlines()
    assert len(again) == len(lines) and again[-1] != token_line
    if NPM is not None:
        got = subprocess.run(
            [NPM, "config", "get", "registry"], capture_output=True, text=True, env=home.env, timeout=60, cwd=home.root
        )
        assert got.stdout.strip() == endpoint, got.stderr


def test_npm_and_pnpm_login_with_namespace_and_userconfig(
    server: RunningServer, home: Home, repo: Repo, ca: Any, tmp_path: Path
) -> None:
    endpoint = npm_endpoint(ca, repo)
    userconfig = tmp_path / "elsewhere" / "npmrc"
    home.env["npm_config_userconfig"] = str(userconfig)
    r = login(server, home, repo, "--tool", "pnpm", "--namespace", "acme")
    assert r.returncode == 0, r.stderr
    assert "pnpm reads the registry and the token from the user .npmrc" in r.stdout
    text = userconfig.read_text()
    assert text.startswith(f"@acme:registry={endpoint}\n{nerf(endpoint)}:_authToken=cf")
    assert "\nregistry=" not in text and stat.S_IMODE(userconfig.stat().st_mode) == 0o600
    assert not (home.root / ".npmrc").exists()
    if NPM is not None:
        got = subprocess.run(
            [NPM, "config", "get", "@acme:registry"], capture_output=True, text=True, env=home.env, timeout=60
        )
        assert got.stdout.strip() == endpoint, got.stderr

    r = login(server, home, repo, "--tool", "npm", "--namespace", "_bad")
    assert r.returncode == 1 and "Invalid scope name" in r.stderr
    r = login(server, home, repo, "--tool", "pip", "--namespace", "acme")
    assert r.returncode == 2 and "Argument --namespace is not supported for pip" in r.stderr


def test_yarn_login_writes_yarnrc_and_npmrc_keeping_the_rest(
    server: RunningServer, home: Home, repo: Repo, ca: Any
) -> None:
    yaml = pytest.importorskip("yaml")  # PyYAML reads the result as yarn's YAML parser would
    endpoint = npm_endpoint(ca, repo)
    yarnrc = home.root / ".yarnrc.yml"
    yarnrc.write_text(
        "# my yarn settings\n"
        "nodeLinker: node-modules  # no PnP here\n"
        "npmRegistries:\n"
        '  "https://npm.other.example":\n'
        '    npmAuthToken: "${OTHER_TOKEN}"\n'
        "packageExtensions:\n"
        '  "debug@*":\n'
        "    peerDependenciesMeta:\n"
        "      supports-color:\n"
        "        optional: true\n"
        "unsafeHttpWhitelist:\n"
        "  - localhost\n"
    )
    r = login(server, home, repo, "--tool", "yarn")
    assert r.returncode == 0, r.stderr
    assert f"Wrote {yarnrc} (mode 0600)" in r.stdout and f"Wrote {home.root / '.npmrc'} (mode 0600)" in r.stdout
    assert "127.0.0.1 was added to unsafeHttpWhitelist" in r.stdout and "always-auth" in r.stdout
    assert f"Successfully configured yarn to use repository {endpoint}" in r.stdout
    text = yarnrc.read_text()
    assert text.startswith("# my yarn settings\nnodeLinker: node-modules  # no PnP here\n")
    data = yaml.safe_load(text)
    ours = data["npmRegistries"].pop(nerf(endpoint))
    assert ours["npmAuthToken"].startswith("cf") and ours["npmAlwaysAuth"] is True
    assert data == {
        "nodeLinker": "node-modules",
        "npmRegistries": {"https://npm.other.example": {"npmAuthToken": "${OTHER_TOKEN}"}},
        "packageExtensions": {"debug@*": {"peerDependenciesMeta": {"supports-color": {"optional": True}}}},
        "unsafeHttpWhitelist": ["localhost", "127.0.0.1"],
        "npmRegistryServer": endpoint,
    }
    for path in (yarnrc, home.root / ".npmrc"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    npmrc = (home.root / ".npmrc").read_text()
    assert npmrc == (
        f"registry={endpoint}\n{nerf(endpoint)}:_authToken={ours['npmAuthToken']}\n{nerf(endpoint)}:always-auth=true\n"
    )

    # again: one entry, a new token, the whitelist not repeated
    r = login(server, home, repo, "--tool", "yarn")
    assert r.returncode == 0, r.stderr
    again = yaml.safe_load(yarnrc.read_text())
    assert list(again["npmRegistries"]) == ["https://npm.other.example", nerf(endpoint)]
    assert again["npmRegistries"][nerf(endpoint)]["npmAuthToken"] != ours["npmAuthToken"]
    assert again["unsafeHttpWhitelist"] == ["localhost", "127.0.0.1"]


def test_yarn_login_leaves_a_yarnrc_it_cannot_edit_alone(server: RunningServer, home: Home, repo: Repo) -> None:
    yarnrc = home.root / ".yarnrc.yml"
    original = 'npmRegistries: {"//npm.other.example/": {npmAuthToken: x}}\n'
    yarnrc.write_text(original)
    r = login(server, home, repo, "--tool", "yarn")
    assert r.returncode == 1
    assert f"{yarnrc} was left unchanged" in r.stderr and "is not a block mapping" in r.stderr
    assert "CODEARTIFACT_AUTH_TOKEN" in r.stderr and "cf1." not in r.stderr
    assert yarnrc.read_text() == original and not (home.root / ".npmrc").exists()


# ---------------------------------------------------------------------------------------------------------------------
# the keyring backend


def test_parse_pypi_url() -> None:
    p = parse_pypi_url("http://127.0.0.1:5080/pypi/d/acme-111122223333/internal/simple/requests/")
    assert p is not None and (p.domain, p.owner, p.repository) == ("acme", "111122223333", "internal")
    assert p.api_endpoint == "http://127.0.0.1:5080" and p.region is None
    p = parse_pypi_url("https://aws:tok@coffer.example/base/pypi/d/my-dom-111122223333/r.1/")
    assert p is not None and (p.domain, p.repository, p.api_endpoint) == (
        "my-dom",
        "r.1",
        "https://coffer.example/base",
    )
    p = parse_pypi_url("https://acme-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/")
    assert p is not None and (p.domain, p.repository, p.api_endpoint, p.region) == (
        "acme",
        "internal",
        None,
        "eu-west-1",
    )
    for other in ("https://pypi.org/simple/", "http://h/npm/d/acme-111122223333/r/", "h/pypi/d/a-1/r/", "not a url"):
        assert parse_pypi_url(other) is None


@pytest.fixture()
def backend_env(server: RunningServer, home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[CofferKeyring]:
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(server.credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", home.env["AWS_CONFIG_FILE"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    CofferKeyring.clear_cache()
    previous = keyring.get_keyring()
    backend = CofferKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
        CofferKeyring.clear_cache()


def test_keyring_backend_issues_tokens(backend_env: CofferKeyring, server: RunningServer, repo: Repo) -> None:
    # the API endpoint is derived from the index URL (no endpoint variable is set)
    credential = keyring.get_credential(simple_url(repo), None)
    assert credential is not None
    assert credential.username == "aws"
    token = credential.password
    assert token.startswith("cf")
    assert keyring.get_password(repo.endpoint, "aws") == token  # twine's form; cached in memory
    assert keyring.get_credential(simple_url(repo) + "some-package/", "aws") is not None
    # other URLs and other users: None, so that other backends answer
    assert keyring.get_credential("https://pypi.org/simple/", None) is None
    assert backend_env.get_password(simple_url(repo), "someone-else") is None
    # failures are logged, not raised
    assert keyring.get_credential(f"{server.url}/pypi/d/no-such-domain-{ACCOUNT}/internal/simple/", None) is None
    with pytest.raises(keyring.errors.PasswordSetError):
        backend_env.set_password(simple_url(repo), "aws", "x")
    with pytest.raises(keyring.errors.PasswordDeleteError):
        backend_env.delete_password(simple_url(repo), "aws")
    assert CofferKeyring.priority == 9.9

    r = httpx.get(simple_url(repo), auth=("aws", token), timeout=30)
    assert r.status_code == 200, r.text
    assert httpx.get(simple_url(repo), auth=("aws", "not-a-token"), timeout=30).status_code == 401


def test_keyring_backend_honours_endpoint_variable(
    backend_env: CofferKeyring, server: RunningServer, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an index URL on a host that is not the API: COFFER_ENDPOINT_URL says where the API is, and the token goes to
    # that other host only when COFFER_KEYRING_HOST_SUFFIXES vouches for it
    monkeypatch.setenv("COFFER_ENDPOINT_URL", server.url)
    index = f"https://packages.invalid/pypi/d/{repo.domain}-{ACCOUNT}/internal/"
    assert keyring.get_credential(index, None) is None
    monkeypatch.setenv("COFFER_KEYRING_HOST_SUFFIXES", "packages.invalid")
    credential = keyring.get_credential(index, None)
    assert credential is not None and credential.username == "aws"
    # the endpoint's own host and port needs no suffix
    monkeypatch.delenv("COFFER_KEYRING_HOST_SUFFIXES")
    assert keyring.get_credential(simple_url(repo), None) is not None


def test_keyring_cli_answers_what_uv_asks(server: RunningServer, home: Home, repo: Repo) -> None:
    """uv --keyring-provider subprocess runs `keyring get <index url> <user>`: the entry point finds the backend."""
    r = subprocess.run(
        ["keyring", "get", simple_url(repo), "aws"], capture_output=True, text=True, env=home.env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("cf")


# ---------------------------------------------------------------------------------------------------------------------
# end to end: pip and uv with no token configured, the keyring supplies it (needs the PyPI endpoint)


@pytest.fixture()
def published(ca: Any, repo: Repo, home: Home, tmp_path: Path) -> str:
    """Publish a tiny wheel with twine (token from GetAuthorizationToken)."""
    token = ca.get_authorization_token(domain=repo.domain)["authorizationToken"]
    name = "coffer-login-probe"
    wheel = build_wheel(tmp_path, name, "1.0.0")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            repo.endpoint,
            "-u",
            "aws",
            "-p",
            token,
            str(wheel),
        ],
        capture_output=True,
        text=True,
        env=home.env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return name


def test_pip_install_with_keyring_import_and_no_token(
    published: str, server: RunningServer, home: Home, repo: Repo, tmp_path: Path
) -> None:
    require_pip(sys.executable, "23.1", "--keyring-provider")
    env = {
        **home.env,
        "PYTHON_KEYRING_BACKEND": "coffer.login.keyring_backend.CofferKeyring",
        "AWS_ENDPOINT_URL_CODEARTIFACT": server.url,
    }
    target = tmp_path / "site"
    r = pip_install(sys.executable, simple_url(repo), target, published, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "coffer_login_probe" / "__init__.py").exists()
    # without the keyring the same command is refused (the index wants a token)
    r = pip_install(sys.executable, simple_url(repo), tmp_path / "site2", published, env, keyring_provider="disabled")
    assert r.returncode != 0


def test_uv_install_with_keyring_subprocess_and_no_token(
    published: str, home: Home, repo: Repo, tmp_path: Path
) -> None:
    scheme, rest = simple_url(repo).split("://", 1)
    target = tmp_path / "site"
    r = subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "--keyring-provider",
            "subprocess",
            "--python",
            sys.executable,
            "--index-url",
            f"{scheme}://aws@{rest}",
            "--target",
            str(target),
            published,
        ],
        capture_output=True,
        text=True,
        env=home.env,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "coffer_login_probe" / "__init__.py").exists()


def test_uv_login_config_is_used_by_uv(
    published: str, server: RunningServer, home: Home, repo: Repo, tmp_path: Path
) -> None:
    r = login(server, home, repo, "--tool", "uv")
    assert r.returncode == 0, r.stderr
    target = tmp_path / "site"
    r = subprocess.run(
        ["uv", "pip", "install", "--python", sys.executable, "--target", str(target), published],
        capture_output=True,
        text=True,
        env=home.env,
        timeout=300,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "coffer_login_probe" / "__init__.py").exists()
