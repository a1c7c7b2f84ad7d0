"""The ``aws`` CLI, unmodified, against Coffer: get-authorization-token and login --dry-run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import ACCOUNT


def aws_cli() -> list[str]:
    exe = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if exe is None:
        pytest.skip("the aws CLI is not installed (pip install awscli)")
    return [exe]


def run_aws(server: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_SHARED_CREDENTIALS_FILE": str(server.credentials_file),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
        "PIP_CONFIG_FILE": str(tmp_path / "pip.conf"),
    }
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [*aws_cli(), "--endpoint-url", server.url, *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def cli_domain(server: Any) -> str:
    from tests.functional.conftest import make_client

    ca = make_client(server)
    try:
        ca.create_domain(domain="clidom")
        ca.create_repository(domain="clidom", repository="internal")
    except ca.exceptions.ConflictException:
        pass
    return "clidom"


def test_get_authorization_token(server: Any, tmp_path: Path, cli_domain: str) -> None:
    r = run_aws(
        server, tmp_path, "codeartifact", "get-authorization-token", "--domain", cli_domain, "--duration-seconds", "900"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["authorizationToken"].startswith("cf1.")
    assert "expiration" in out


def test_get_authorization_token_error_is_printed(server: Any, tmp_path: Path, cli_domain: str) -> None:
    r = run_aws(
        server,
        tmp_path,
        "codeartifact",
        "get-authorization-token",
        "--domain",
        cli_domain,
        "--duration-seconds",
        "86400",
    )
    assert r.returncode != 0
    assert "ValidationException" in r.stderr
    assert "Member must have value less than or equal to 43200" in r.stderr


def test_login_pip_dry_run(server: Any, tmp_path: Path, cli_domain: str) -> None:
    r = run_aws(
        server, tmp_path, "codeartifact", "login", "--tool", "pip", "--domain", cli_domain, "--repository", "internal",
        "--dry-run",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    host = server.url.split("://", 1)[1]
    assert f"@{host}/pypi/d/{cli_domain}-{ACCOUNT}/internal/simple/" in r.stdout
    assert "pip config set global.index-url http://aws:cf1." in r.stdout


def test_login_twine_dry_run(server: Any, tmp_path: Path, cli_domain: str) -> None:
    r = run_aws(
        server, tmp_path, "codeartifact", "login", "--tool", "twine", "--domain", cli_domain,
        "--repository", "internal", "--dry-run",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "[codeartifact]" in r.stdout
    assert f"repository = {server.url}/pypi/d/{cli_domain}-{ACCOUNT}/internal/" in r.stdout
    assert "username = aws" in r.stdout
    assert "password = cf1." in r.stdout
