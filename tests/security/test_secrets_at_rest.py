"""A copy of the database (SQLite file with its WAL, or a PostgreSQL dump) holds no usable secret: IAM secret
access keys and STS session secrets and tokens are sealed with AES-GCM under the data directory's
key-encryption key. Rotation re-seals everything while a server keeps authenticating."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from coffer.store.engine import normalize_url
from tests.functional.conftest import REGION, read_profile
from tests.functional.server import RunningServer, running_server
from tests.postgres import postgres_base_url

ACCOUNT = "313131313131"


def _clients(server: RunningServer) -> tuple[object, tuple[str, str, str]]:
    """Make the server hold a user key and a role session; return a CodeArtifact client and the session."""
    access, secret = read_profile(server.credentials_file)
    kw = {"endpoint_url": server.url, "region_name": REGION}
    iam = boto3.client("iam", aws_access_key_id=access, aws_secret_access_key=secret, **kw)
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'
        + ACCOUNT
        + ':root"},"Action":"sts:AssumeRole"}]}'
    )
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust)
    sts = boto3.client("sts", aws_access_key_id=access, aws_secret_access_key=secret, **kw)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader", RoleSessionName="s1")["Credentials"]
    ca = boto3.client("codeartifact", aws_access_key_id=access, aws_secret_access_key=secret, **kw)
    ca.list_domains()
    return ca, (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def _assert_absent(blob: bytes, *secrets_: str) -> None:
    for value in secrets_:
        assert value.encode() not in blob, "a secret is stored in plain text"


def test_the_sqlite_files_hold_no_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data, "--account-id", ACCOUNT) as srv:
        _, session = _clients(srv)
        _, admin_secret = read_profile(srv.credentials_file)
        raw = b"".join(p.read_bytes() for p in data.glob("coffer.db*"))
        assert len(raw) > 0
        _assert_absent(raw, admin_secret, session[1], session[2])


def test_rotation_reseals_while_the_server_keeps_authenticating(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data, "--account-id", ACCOUNT) as srv:
        ca, _ = _clients(srv)
        before = {p.name for p in (data / "keys" / "kek").iterdir()}
        r = subprocess.run(
            [sys.executable, "-m", "coffer", "admin", "--data-dir", str(data), "rotate-keys"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert "re-sealed" in r.stdout
        after = {p.name for p in (data / "keys" / "kek").iterdir()}
        assert len(after - before) == 1
        ca.list_domains()  # type: ignore[attr-defined]  # the admin key, now sealed by the new key, still works


@pytest.fixture()
def pg_url() -> Iterator[str]:
    base = postgres_base_url()
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"coffer_sec_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_a_postgresql_dump_holds_no_secret(tmp_path: Path, pg_url: str) -> None:
    with running_server(tmp_path / "data", "--db-url", pg_url, "--account-id", ACCOUNT) as srv:
        _, session = _clients(srv)
        _, admin_secret = read_profile(srv.credentials_file)
    plain_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    dump = subprocess.run(["pg_dump", "--data-only", plain_url], capture_output=True, timeout=60, check=True).stdout
    assert b"COPY public.access_keys" in dump  # the dump has the rows
    _assert_absent(dump, admin_secret, session[1], session[2])
