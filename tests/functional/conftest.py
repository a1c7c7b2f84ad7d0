from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from packaging.version import Version

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


Creds = tuple[str, str, str | None]  # access key id, secret, session token


def admin_creds(server: RunningServer) -> Creds:
    """The admin key the server wrote to its credentials file on first start."""
    access, secret = read_profile(server.credentials_file)
    return access, secret, None


def client(server: RunningServer, service: str, creds: Creds) -> Any:
    """A boto3 client of ``service`` on the server, signing with ``creds``."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        aws_session_token=creds[2],
    )


def make_client(server: RunningServer, key: tuple[str, str] | None = None, service: str = "codeartifact") -> Any:
    return client(server, service, (*key, None) if key else admin_creds(server))


def token_policy(*actions: str) -> dict[str, Any]:
    """An identity policy allowing GetAuthorizationToken (with the bearer token it needs) and ``actions``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["codeartifact:GetAuthorizationToken", *actions], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "sts:GetServiceBearerToken",
                "Resource": "*",
                "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
            },
        ],
    }


def new_user(server: RunningServer, policy: dict[str, Any] | None, name: str | None = None) -> Any:
    """An IAM user made through the server's IAM API by its admin, with ``policy`` as an inline policy named after
    the user (None: no policy); returns a codeartifact client signing with the user's new key (``user_name`` set)."""
    name = name or f"user-{uuid.uuid4().hex[:10]}"
    iam = make_client(server, service="iam")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    user = make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))
    user.user_name = name
    return user


def require_pip(python: str, minimum: str, needed_for: str) -> None:
    """Fail, saying why, when ``python``'s pip is older than ``minimum`` (the version whose behaviour a test
    relies on): a test must not pass or fail by the accident of which pip a venv was made with."""
    out = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60).stdout
    found = re.match(r"pip (\S+)", out)
    if found is None or Version(found.group(1)) < Version(minimum):
        pytest.fail(f"this test needs pip >= {minimum} in {python} ({needed_for}); it has {out.strip() or 'no pip'}")


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
        return new_user(server, policy, unique("user"))

    return make
