"""What the npm tests share: an npm repository with a token, tarballs and publish bodies made the way npm makes
them, and the real clients (npm, pnpm, yarn) run in a home of their own that points only at Coffer."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.functional.server import RunningServer


@dataclass
class NpmRepo:
    domain: str
    name: str
    endpoint: str  # the registry URL, ending in '/'
    token: str
    server: RunningServer

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def npmrc(self, scope: str | None = None) -> str:
        """What ``aws codeartifact login --tool npm`` configures: the registry and its token."""
        parts = urlsplit(self.endpoint)
        registry = f"@{scope}:registry={self.endpoint}" if scope else f"registry={self.endpoint}"
        return f"{registry}\n//{parts.netloc}{parts.path}:_authToken={self.token}\n"


def new_npm_repo(ca: Any, server: RunningServer, domain: str, name: str, upstreams: list[str] | None = None) -> NpmRepo:
    kwargs: dict[str, Any] = {"domain": domain, "repository": name}
    if upstreams:
        kwargs["upstreams"] = [{"repositoryName": u} for u in upstreams]
    ca.create_repository(**kwargs)
    endpoint = ca.get_repository_endpoint(domain=domain, repository=name, format="npm")["repositoryEndpoint"]
    token = ca.get_authorization_token(domain=domain, durationSeconds=3600)["authorizationToken"]
    return NpmRepo(domain, name, endpoint, token, server)


def tarball(name: str, version: str, *, readme: str = "", top: str = "package", **fields: Any) -> bytes:
    """A gzipped tar as ``npm pack`` makes it: ``package/package.json`` (and a README)."""
    manifest = {"name": name, "version": version, **fields}
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        files = {"package.json": json.dumps(manifest).encode(), "index.js": b"module.exports = 1\n"}
        if readme:
            files["README.md"] = readme.encode()
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def publish_body(
    name: str, version: str, *, tag: str = "latest", data: bytes | None = None, readme: str = "", **fields: Any
) -> tuple[str, bytes]:
    """(the URL-escaped name, the JSON body) of ``npm publish`` for one version, as libnpmpublish sends it."""
    data = data if data is not None else tarball(name, version, readme=readme, **fields)
    unscoped = name.rpartition("/")[2]
    manifest = {
        "name": name,
        "version": version,
        **fields,
        "_id": f"{name}@{version}",
        "dist": {"integrity": integrity(data), "shasum": hashlib.sha1(data).hexdigest()},
    }
    body = {
        "_id": name,
        "name": name,
        "dist-tags": {tag: version},
        "versions": {version: manifest},
        "access": None,
        "_attachments": {
            f"{unscoped}-{version}.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
                "length": len(data),
            }
        },
    }
    return name.replace("/", "%2f"), json.dumps(body).encode()


NPM = shutil.which("npm")


def npm_env(home: Path, **extra: str) -> dict[str, str]:
    """npm with a home and cache of its own, no update checks, no audit, no network beyond what .npmrc names."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "npm_config_userconfig": str(home / ".npmrc"),
        "npm_config_cache": str(home / ".npm-cache"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_loglevel": "warn",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def run_npm(
    home: Path, cwd: Path, *args: str, npm: str | None = None, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    exe = npm or NPM
    if exe is None:
        pytest.skip("npm is not installed")
    return subprocess.run(
        [exe, *args], cwd=cwd, env=npm_env(home, **env), capture_output=True, text=True, timeout=timeout
    )


def write_package(path: Path, name: str, version: str, *, readme: str = "", **fields: Any) -> Path:
    """A package directory ``npm publish`` can publish."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "package.json").write_text(json.dumps({"name": name, "version": version, **fields}))
    (path / "index.js").write_text("module.exports = 42\n")
    if readme:
        (path / "README.md").write_text(readme)
    return path
