"""`coffer serve` first start and restart, `coffer admin`, `coffer token`, key rotation, root refusal."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from coffer.core.codeartifact import token_format as tokens
from coffer.store.keyfiles import KeyRingFiles, read_keys
from tests.functional.conftest import ACCOUNT, coffer, make_client, read_profile
from tests.functional.server import running_server


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_coffer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coffer", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_first_start_creates_everything_and_restart_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data) as srv:
        banner = "".join(srv.output)
        account = re.search(r"account (\d{12})", banner)
        assert account, banner
        assert mode(data / "credentials") == 0o600
        keys = list((data / "keys").glob("*.json"))
        assert len(keys) == 1 and mode(keys[0]) == 0o600
        assert (data / "coffer.db").exists()
        key = read_profile(data / "credentials")
        assert key[0].startswith("AKIA")
        ca = make_client(srv)
        ca.create_domain(domain="kept")
        ca.create_repository(domain="kept", repository="repo")
        token_before = ca.get_authorization_token(domain="kept")["authorizationToken"]
    with running_server(data) as srv:
        assert f"account {account.group(1)}" in "".join(srv.output)
        assert read_profile(data / "credentials") == key  # same admin key
        ca = make_client(srv)
        assert ca.describe_repository(domain="kept", repository="repo")["repository"]["name"] == "repo"
        assert [d["name"] for d in ca.list_domains()["domains"]] == ["kept"]
    assert tokens.verify(
        KeyRingFiles(data / "keys")(),
        token_before,
        now=time.time(),
        domain_owner=account.group(1),
        domain="kept",
    )


def test_account_id_only_applies_on_first_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data, "--account-id", "444455556666") as srv:
        assert "account 444455556666" in "".join(srv.output)
    r = run_coffer("serve", "--port", "0", "--data-dir", str(data), "--account-id", "777788889999")
    assert r.returncode != 0
    assert "already belongs to account 444455556666" in r.stderr


def test_bad_settings_are_refused_clearly(tmp_path: Path) -> None:
    r = run_coffer("serve", "--data-dir", str(tmp_path / "d"), "--account-id", "123")
    assert r.returncode == 2
    assert "12 digits" in r.stderr
    r = run_coffer("serve", "--data-dir", str(tmp_path / "d"), env={"COFFER_REGION": "mars"})
    assert r.returncode == 2
    assert "region" in r.stderr


def test_environment_variables_configure_serve(tmp_path: Path) -> None:
    data = tmp_path / "envdata"
    with running_server(
        data, env={"COFFER_ACCOUNT_ID": "555566667777", "COFFER_PUBLIC_URL": "http://pkg.example"}
    ) as srv:
        assert "account 555566667777" in "".join(srv.output)
        ca = make_client(srv)
        ca.create_domain(domain="envd")
        ca.create_repository(domain="envd", repository="rr")
        url = ca.get_repository_endpoint(domain="envd", repository="rr", format="pypi")["repositoryEndpoint"]
        assert url == "http://pkg.example/pypi/d/envd-555566667777/rr/"


def test_token_command_and_key_rotation(server: Any) -> None:
    ca = make_client(server)
    with contextlib.suppress(ca.exceptions.ConflictException):
        ca.create_domain(domain="rotation")
    first = coffer(server, "token", "--domain", "rotation", "--duration", "900", "--json")
    assert first.returncode == 0, first.stderr
    old = json.loads(first.stdout)
    assert abs(old["expiration"] - (time.time() + 900)) < 10
    keys_before = {k.key_id for k in read_keys(server.data_dir / "keys")}
    r = coffer(server, "rotate-keys")
    assert r.returncode == 0, r.stderr
    keys_after = {k.key_id for k in read_keys(server.data_dir / "keys")}
    assert len(keys_after) == len(keys_before) + 1
    time.sleep(1.1)  # the server reloads key files within a second
    new = ca.get_authorization_token(domain="rotation", durationSeconds=900)["authorizationToken"]
    ring = KeyRingFiles(server.data_dir / "keys")()
    new_claims = tokens.verify(ring, new, now=time.time(), domain_owner=ACCOUNT, domain="rotation")
    old_claims = tokens.verify(
        ring, old["authorizationToken"], now=time.time(), domain_owner=ACCOUNT, domain="rotation"
    )
    assert new_claims.key_id in keys_after - keys_before
    assert old_claims.key_id in keys_before
    bad = coffer(server, "token", "--domain", "rotation", "--duration", "100")
    assert bad.returncode != 0
    assert "ValidationException" in bad.stderr


def test_admin_user_management(server: Any) -> None:
    assert coffer(server, "create-user", "carol").returncode == 0
    dup = coffer(server, "create-user", "carol")
    assert dup.returncode != 0 and "already exists" in dup.stderr
    bad_name = coffer(server, "create-user", "no spaces")
    assert bad_name.returncode != 0
    key = json.loads(coffer(server, "create-access-key", "carol").stdout)
    policy = server.data_dir / "bad.json"
    policy.write_text('{"Statement": [{"Effect": "Allow"}]}')
    bad_policy = coffer(server, "put-user-policy", "carol", str(policy))
    assert bad_policy.returncode != 0 and "MalformedPolicyDocument" in bad_policy.stderr
    users = json.loads(coffer(server, "list-users", "--json").stdout)
    carol = next(u for u in users if u["UserName"] == "carol")
    assert carol["AccessKeys"] == [key["AccessKeyId"]] and carol["Policies"] == []  # JSON lists
    assert carol["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/carol"
    client = make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.list_domains()
    assert coffer(server, "delete-user", "carol").returncode == 0
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        client.list_domains()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_root_user_is_refused_a_token(server: Any) -> None:
    r = coffer(server, "create-access-key", "--root")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)
    root = make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))
    try:
        root.create_domain(domain="rootdom")  # the root user may do everything else in its account
    except root.exceptions.ConflictException:
        pass
    with pytest.raises(root.exceptions.AccessDeniedException) as err:
        root.get_authorization_token(domain="rootdom")
    assert f"User: arn:aws:iam::{ACCOUNT}:root is not authorized" in err.value.response["Error"]["Message"]
