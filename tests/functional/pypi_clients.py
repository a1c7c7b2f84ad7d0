"""What the package-endpoint tests share: a repository with a token, the real clients run in an environment of
their own (twine, pip, uv), and tokens minted by hand with the server's key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from coffer.core.codeartifact import token_format as tokens
from coffer.core.codeartifact.token_format import TokenClaims
from coffer.store.keyfiles import KeyRingFiles
from tests.functional.conftest import ACCOUNT
from tests.functional.server import RunningServer

BIN = Path(sys.executable).parent
TWINE = str(BIN / "twine")
UV = str(BIN / "uv")


@dataclass
class Repo:
    domain: str
    name: str
    endpoint: str  # ends in '/'
    token: str
    server: RunningServer

    @property
    def index(self) -> str:
        return self.endpoint + "simple/"

    @property
    def auth(self) -> tuple[str, str]:
        return ("aws", self.token)

    def authed_index(self, token: str | None = None) -> str:
        return self.index.replace("://", f"://aws:{token or self.token}@", 1)


def new_repo(ca: Any, server: RunningServer, domain: str, name: str, upstreams: list[str] | None = None) -> Repo:
    kwargs: dict[str, Any] = {"domain": domain, "repository": name}
    if upstreams:
        kwargs["upstreams"] = [{"repositoryName": u} for u in upstreams]
    ca.create_repository(**kwargs)
    endpoint = ca.get_repository_endpoint(domain=domain, repository=name, format="pypi")["repositoryEndpoint"]
    token = ca.get_authorization_token(domain=domain, durationSeconds=3600)["authorizationToken"]
    return Repo(domain, name, endpoint, token, server)


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """No global configuration, no keyring, no network beyond Coffer."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_CACHE_DIR": str(home / "uv-cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def twine_upload(repo: Repo, home: Path, *files: Path, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = client_env(home, TWINE_USERNAME="aws", TWINE_PASSWORD=repo.token, TWINE_REPOSITORY_URL=repo.endpoint)
    return subprocess.run(
        [TWINE, "upload", "--non-interactive", "--disable-progress-bar", *args, *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run(cmd: list[str], env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def mint_token(server: RunningServer, domain: str, *, expires_in: int) -> str:
    """A token of the server's admin for ``domain``, minted with its active key, expiring ``expires_in`` s from now
    (negative: expired)."""
    ring = KeyRingFiles(server.data_dir / "keys")()
    now = int(time.time())
    claims = TokenClaims(
        token_id=tokens.new_token_id(),
        key_id=ring.active.key_id,
        account_id=ACCOUNT,
        domain_owner=ACCOUNT,
        domain=domain,
        principal_arn=f"arn:aws:iam::{ACCOUNT}:user/admin",
        issued_at=now - 7200,
        expires_at=now + expires_in,
    )
    return tokens.mint(ring, claims)


def pip_install(
    python: str | Path,
    index: str,
    target: Path,
    project: str,
    env: dict[str, str],
    *,
    keyring_provider: str = "import",
    trusted_host: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``pip install --target`` of ``project`` from ``index`` with the given ``--keyring-provider`` (pip >= 23.1);
    ``trusted_host``: the index's host is trusted for plain HTTP."""
    trusted = ["--trusted-host", urlsplit(index).netloc] if trusted_host else []
    return subprocess.run(
        [
            str(python),
            *("-m", "pip", "install", "--no-input", "--keyring-provider", keyring_provider),
            *("--index-url", index, *trusted, "--target", str(target), project),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
