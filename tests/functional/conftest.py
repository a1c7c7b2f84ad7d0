from __future__ import annotations

import configparser
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.functional.server import RunningServer, running_server

ACCOUNT = "111122223333"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("coffer") / "data", "--account-id", ACCOUNT) as srv:
        yield srv


def read_profile(path: Path, profile: str = "default") -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(path)
    return parser[profile]["aws_access_key_id"], parser[profile]["aws_secret_access_key"]


def make_client(server: RunningServer, key: tuple[str, str] | None = None, service: str = "codeartifact") -> Any:
    access, secret = key or read_profile(server.credentials_file)
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
    )


@pytest.fixture()
def ca(server: RunningServer) -> Any:
    return make_client(server)


@pytest.fixture()
def unique() -> Callable[[str], str]:
    def name(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return name


def coffer(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coffer", *args, "--data-dir", str(server.data_dir)]
        if args and args[0] == "token"
        else [sys.executable, "-m", "coffer", "admin", "--data-dir", str(server.data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture()
def make_user(server: RunningServer, unique: Callable[[str], str]) -> Callable[[dict[str, Any] | None], Any]:
    """Create an IAM user with the given identity policy (None: no policy) and return a boto3 client for it."""

    def make(policy: dict[str, Any] | None) -> Any:
        name = unique("user")
        r = coffer(server, "create-user", name)
        assert r.returncode == 0, r.stderr
        r = coffer(server, "create-access-key", name)
        assert r.returncode == 0, r.stderr
        key = json.loads(r.stdout)
        if policy is not None:
            path = server.data_dir / f"{name}.json"
            path.write_text(json.dumps(policy))
            r = coffer(server, "put-user-policy", name, str(path))
            assert r.returncode == 0, r.stderr
        client = make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))
        client.user_name = name
        return client

    return make
