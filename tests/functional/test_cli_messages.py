"""The first hour (issue 8, parts 3 and 8): only ``coffer serve`` makes a data directory; the data options work after
an admin subcommand too; every failure is ``coffer: <message>``, one line, exit 1; what ``token --json``,
``revoke-token``, ``list-users --json`` and ``delete-user`` say; and the reason of a refused token reaches twine and
pip (the 401's reason phrase)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coffer.app.bootstrap import open_data
from coffer.core.codeartifact import token_format as tokens
from coffer.settings import Settings
from tests.functional.conftest import ACCOUNT, make_client
from tests.functional.pypi_clients import client_env, mint_token
from tests.functional.server import RunningServer

BIN = Path(sys.executable).parent
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
OTHER = "999988887777"
Unique = Callable[[str], str]


def run_coffer(
    *args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``coffer ARGS`` with no COFFER_* variable but those in ``env`` (where None unsets a variable)."""
    merged: dict[str, str | None] = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    merged.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "coffer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={k: v for k, v in merged.items() if v is not None},
    )


def failure_line(r: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command prints: ``coffer: ...`` on stderr, nothing else, exit status 1."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coffer: "), r.stderr
    return lines[0]


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def new_data(data: Path, account: str = ACCOUNT) -> Path:
    """A data directory as `coffer serve` makes it on its first start."""
    open_data(Settings(data_dir=data, account_id=account), create=True).store.close()
    return data


# --- part 3: only serve creates a data directory --------------------------------------------------------------

COMMANDS = [
    ("token", "--domain", "acme"),
    ("admin", "list-users"),
    ("admin", "create-user", "ci"),
    ("admin", "create-access-key", "--root"),
    ("admin", "delete-user", "ci"),
    ("admin", "rotate-keys"),
    ("admin", "revoke-token", "0" * 24),
    ("admin", "create-account", "--account-id", OTHER),
    ("admin", "gc", "--dry-run"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_commands_other_than_serve_create_no_data_directory(tmp_path: Path, command: tuple[str, ...]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    line = failure_line(run_coffer(*command, cwd=work))
    assert line.startswith(f"coffer: no Coffer data directory at {work / 'coffer-data'} ("), line
    assert "--data-dir" in line and "COFFER_DATA_DIR" in line
    assert list(work.iterdir()) == []  # nothing created: no ./coffer-data, no database, keys or credentials

    elsewhere = tmp_path / "elsewhere" / "data"
    for extra, env in ((("--data-dir", str(elsewhere)), None), ((), {"COFFER_DATA_DIR": str(elsewhere)})):
        r = run_coffer(*command, *extra, cwd=work, env=env)
        assert failure_line(r).startswith(f"coffer: no Coffer data directory at {elsewhere} ("), (extra, env)
        assert not (tmp_path / "elsewhere").exists()
        assert list(work.iterdir()) == []


def test_an_empty_directory_is_no_data_but_serve_may_use_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (("admin", "list-users"), ("token", "--domain", "acme")):
        line = failure_line(run_coffer(*command, "--data-dir", str(empty)))
        assert line.startswith(f"coffer: no Coffer data in {empty} ("), line
    assert list(empty.iterdir()) == []
    from tests.functional.server import running_server

    with running_server(empty, "--account-id", ACCOUNT) as srv:
        assert f"account {ACCOUNT}" in "".join(srv.output)
    r = run_coffer("admin", "list-users", "--json", "--data-dir", str(empty))
    assert r.returncode == 0, r.stderr
    assert [u["UserName"] for u in json.loads(r.stdout)] == ["admin"]


def test_data_options_work_after_the_subcommand_and_win(tmp_path: Path) -> None:
    data = new_data(tmp_path / "data")
    wrong = tmp_path / "not-here"
    r = run_coffer("admin", "create-user", "after", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    r = run_coffer("admin", "--data-dir", str(wrong), "create-user", "wins", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    r = run_coffer("admin", "create-user", "env", env={"COFFER_DATA_DIR": str(data)})
    assert r.returncode == 0, r.stderr
    r = run_coffer("admin", "--data-dir", str(data), "create-user", "before", env={"COFFER_DATA_DIR": str(wrong)})
    assert r.returncode == 0, r.stderr  # the command line beats the environment, before the subcommand too
    r = run_coffer("admin", "--data-dir", str(data), "create-user", "lost", "--data-dir", str(wrong))
    assert failure_line(r).startswith(f"coffer: no Coffer data directory at {wrong} (")
    assert not wrong.exists()

    # --account-id after the subcommand: the account the command acts in
    r = run_coffer("admin", "create-account", "--account-id", OTHER, "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["AccountId"] == OTHER
    r = run_coffer("admin", "create-user", "there", "--data-dir", str(data), "--account-id", OTHER)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"arn:aws:iam::{OTHER}:user/there"
    r = run_coffer(
        "admin", "--account-id", ACCOUNT, "list-users", "--json", "--account-id", OTHER, "--data-dir", str(data)
    )
    assert r.returncode == 0, r.stderr
    assert sorted(u["UserName"] for u in json.loads(r.stdout)) == ["admin", "there"]
    r = run_coffer("admin", "list-users", "--json", env={"COFFER_DATA_DIR": str(data), "COFFER_ACCOUNT_ID": OTHER})
    assert sorted(u["UserName"] for u in json.loads(r.stdout)) == ["admin", "there"]
    r = run_coffer("admin", "list-users", "--json", "--data-dir", str(data))  # default: the data's own account
    assert sorted(u["UserName"] for u in json.loads(r.stdout)) == ["admin", "after", "before", "env", "wins"]
    line = failure_line(run_coffer("admin", "list-users", "--data-dir", str(data), "--account-id", "123412341234"))
    assert "123412341234" in line and ACCOUNT in line and OTHER in line
    # create-account's own --account-id is the new account, given after or before the subcommand
    r = run_coffer("admin", "--data-dir", str(data), "--account-id", "777766665555", "create-account")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["AccountId"] == "777766665555"


def test_help_says_what_the_options_do(tmp_path: Path) -> None:
    def help_of(*command: str) -> str:
        r = run_coffer(*command, "--help")
        assert r.returncode == 0, r.stderr
        return " ".join(r.stdout.split())

    data_dir = "default: ./coffer-data, relative to the current directory"
    serve = help_of("serve")
    assert data_dir in serve and "id of the first account, used on first start only" in serve
    for command in (("admin", "create-user"), ("admin", "list-users"), ("admin",)):
        text = help_of(*command)
        assert data_dir in text and "the account the command acts in" in text, command
    token = help_of("token")
    assert data_dir in token and "the account of --user" in token
    create_account = help_of("admin", "create-account")
    assert "id of the NEW account" in create_account and data_dir in create_account


# --- part 8: one error style ----------------------------------------------------------------------------------


def test_every_failure_is_one_coffer_line(server: RunningServer, tmp_path: Path, unique: Unique) -> None:
    data = str(server.data_dir)
    user = unique("dup")
    assert run_coffer("admin", "create-user", user, "--data-dir", data).returncode == 0
    bad_policy = tmp_path / "bad.json"
    bad_policy.write_text('{"Statement": [{"Effect": "Allow"}]}')
    failures = {
        ("token", "--domain", "no-such-domain", "--data-dir", data): "ResourceNotFoundException",
        ("token", "--domain", "d", "--user", "nobody", "--data-dir", data): f"no user nobody in account {ACCOUNT}",
        ("token", "--domain", "d", "--duration", "100", "--data-dir", data): "ValidationException",
        ("admin", "create-user", user, "--data-dir", data): "EntityAlreadyExists",
        ("admin", "put-user-policy", user, str(bad_policy), "--data-dir", data): "MalformedPolicyDocument",
        ("admin", "delete-user", "nobody-at-all", "--data-dir", data): "NoSuchEntity",
        ("admin", "create-access-key", "nobody-at-all", "--data-dir", data): "NoSuchEntity",
        ("admin", "create-account", "--account-id", ACCOUNT, "--data-dir", data): ACCOUNT,
    }
    for command, expected in failures.items():
        line = failure_line(run_coffer(*command))
        assert expected in line, (command, line)
        assert "Error:" not in line and "Traceback" not in line


def test_login_failures_are_one_coffer_line_with_the_aws_error(
    server: RunningServer, tmp_path: Path, unique: Unique
) -> None:
    env: dict[str, str | None] = {
        "HOME": str(tmp_path),
        "AWS_SHARED_CREDENTIALS_FILE": str(server.credentials_file),
        "AWS_CONFIG_FILE": os.devnull,
    }
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env[var] = None
    args = ("login", "--tool", "pip", "--repository", "r", "--region", "us-east-1", "--domain", unique("nodomain"))
    line = failure_line(run_coffer(*args, "--endpoint-url", server.url, env=env))
    assert line.startswith("coffer: An error occurred (ResourceNotFoundException) when calling the ")
    assert "GetAuthorizationToken" in line
    unreachable = failure_line(run_coffer(*args, "--endpoint-url", "http://127.0.0.1:9", env=env))
    assert "http://127.0.0.1:9/" in unreachable


def test_a_key_is_shown_even_when_its_profile_cannot_be_written(tmp_path: Path) -> None:
    data = new_data(tmp_path / "data")
    (data / "credentials").unlink()
    (data / "credentials").mkdir()  # not a file: cannot be written
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b"\xff\xfe")
    assert run_coffer("admin", "create-user", "ci", "--data-dir", str(data)).returncode == 0
    r = run_coffer("admin", "create-access-key", "ci", "--profile", "ci", "--data-dir", str(data))
    assert r.returncode == 1
    assert json.loads(r.stdout)["AccessKeyId"].startswith("AKIA")  # the secret is shown only now: never lost
    assert r.stderr.splitlines() == [
        f"coffer: the key above was created, but profile ci could not be written to {data / 'credentials'} "
        "(is a directory)"
    ]
    r = run_coffer("admin", "put-user-policy", "ci", str(bad), "--data-dir", str(data))
    assert failure_line(r).startswith(f"coffer: {bad} is not UTF-8 text")


# --- part 8: what the commands print ------------------------------------------------------------------------


def _domain(server: RunningServer, unique: Unique) -> str:
    domain = unique("msg")
    make_client(server).create_domain(domain=domain)
    return domain


def test_token_json_carries_the_id_and_an_iso_expiry(server: RunningServer, unique: Unique) -> None:
    domain = _domain(server, unique)
    r = run_coffer("token", "--domain", domain, "--duration", "900", "--json", "--data-dir", str(server.data_dir))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"authorizationToken", "expiration", "tokenId", "expiresAt"}
    assert isinstance(out["expiration"], int) and abs(out["expiration"] - (time.time() + 900)) < 10  # as before
    assert out["tokenId"] == tokens.peek_token_id(out["authorizationToken"])
    assert ISO_UTC.fullmatch(out["expiresAt"]) and out["expiresAt"] == iso(out["expiration"])


def test_revoke_token_says_what_until_when(server: RunningServer, unique: Unique) -> None:
    domain = _domain(server, unique)
    data = str(server.data_dir)
    issued = json.loads(
        run_coffer("token", "--domain", domain, "--duration", "900", "--json", "--data-dir", data).stdout
    )
    r = run_coffer("admin", "revoke-token", issued["authorizationToken"], "--data-dir", data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"revoked token {issued['tokenId']} until {issued['expiresAt']} (its expiry)")
    assert issued["authorizationToken"] not in r.stdout
    token_id = "ab" * 12
    before = time.time()
    r = run_coffer("admin", "revoke-token", token_id, "--data-dir", data)
    assert r.returncode == 0, r.stderr
    m = re.match(rf"revoked token {token_id} until ({ISO_UTC.pattern}) \(the longest a token lives\)", r.stdout)
    assert m, r.stdout
    assert m.group(1) in {iso(before + 43200 + d) for d in range(-1, 10)}


def test_revoke_token_reads_the_token_from_stdin(server: RunningServer, unique: Unique) -> None:
    domain = _domain(server, unique)
    data = str(server.data_dir)
    issued = json.loads(
        run_coffer("token", "--domain", domain, "--duration", "900", "--json", "--data-dir", data).stdout
    )
    r = subprocess.run(
        [sys.executable, "-m", "coffer", "admin", "revoke-token", "-", "--data-dir", data],
        input=issued["authorizationToken"] + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"revoked token {issued['tokenId']} until {issued['expiresAt']} (its expiry)")


def test_list_users_json_gives_lists(server: RunningServer, unique: Unique, tmp_path: Path) -> None:
    data = str(server.data_dir)
    user = unique("lister")
    assert run_coffer("admin", "create-user", user, "--data-dir", data).returncode == 0
    keys = [json.loads(run_coffer("admin", "create-access-key", user, "--data-dir", data).stdout) for _ in range(2)]
    policy = tmp_path / "p.json"
    policy.write_text(
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    )
    for name in ("one", "two"):
        r = run_coffer("admin", "put-user-policy", user, str(policy), "--policy-name", name, "--data-dir", data)
        assert r.returncode == 0, r.stderr
    rows = json.loads(run_coffer("admin", "list-users", "--json", "--data-dir", data).stdout)
    row = next(u for u in rows if u["UserName"] == user)
    assert sorted(row["AccessKeys"]) == sorted(k["AccessKeyId"] for k in keys)
    assert sorted(row["Policies"]) == ["one", "two"]
    bare = next(u for u in rows if u["UserName"] == "admin")
    assert isinstance(bare["AccessKeys"], list) and isinstance(bare["Policies"], list)


def test_delete_user_removes_its_profiles_and_only_those(tmp_path: Path) -> None:
    data = new_data(tmp_path / "data")
    credentials = data / "credentials"
    assert run_coffer("admin", "create-user", "ci", "--data-dir", str(data)).returncode == 0
    for profile in ("ci", "ci-backup"):
        r = run_coffer("admin", "create-access-key", "ci", "--profile", profile, "--data-dir", str(data))
        assert r.returncode == 0, r.stderr
    with credentials.open("a") as fh:
        fh.write("\n# a profile of my own\n[mine]\naws_access_key_id = AKIAMINE\naws_secret_access_key = x\n")
    before = credentials.read_text()
    r = run_coffer("admin", "delete-user", "ci", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"deleted user ci and its profiles ci, ci-backup from {credentials}"
    after = credentials.read_text()
    assert "[ci]" not in after and "[ci-backup]" not in after
    assert after.startswith(before[: before.index("[ci]")])  # [default] as it was
    assert after.endswith("# a profile of my own\n[mine]\naws_access_key_id = AKIAMINE\naws_secret_access_key = x\n")
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert run_coffer("admin", "create-user", "plain", "--data-dir", str(data)).returncode == 0
    r = run_coffer("admin", "delete-user", "plain", "--data-dir", str(data))
    assert r.stdout.strip() == "deleted user plain" and credentials.read_text() == after


# --- part 8: the reason of a refused token, in twine's and pip's output -------------------------------------


@pytest.fixture()
def refused(server: RunningServer, unique: Unique) -> tuple[str, dict[str, tuple[str, str]]]:
    """A repository endpoint, and tokens it refuses: label -> (token, the reason it must give)."""
    ca = make_client(server)
    domain = _domain(server, unique)
    ca.create_repository(domain=domain, repository="repo")
    endpoint = ca.get_repository_endpoint(domain=domain, repository="repo", format="pypi")["repositoryEndpoint"]
    revoked = ca.get_authorization_token(domain=domain, durationSeconds=900)["authorizationToken"]
    r = run_coffer("admin", "--data-dir", str(server.data_dir), "revoke-token", revoked)
    assert r.returncode == 0, r.stderr
    return endpoint, {
        "expired": (mint_token(server, domain, expires_in=-10), "authorization token has expired"),
        "garbage": ("not-a-token-at-all", "malformed authorization token"),
        "revoked": (revoked, "authorization token has been revoked"),
    }


def test_twine_shows_why_a_token_is_refused(refused: tuple[str, Any], tmp_path: Path) -> None:
    from tests.functional.dists import build_wheel

    endpoint, cases = refused
    wheel = build_wheel(tmp_path, "coffer-reason-demo", "1.0")
    for label, (token, reason) in cases.items():
        env = client_env(tmp_path, TWINE_USERNAME="aws", TWINE_PASSWORD=token, TWINE_REPOSITORY_URL=endpoint)
        r = subprocess.run(
            [str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar", str(wheel)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = " ".join((r.stdout + r.stderr).split())
        assert r.returncode != 0, label
        # twine 7: "HTTPError: 401 Unauthorized from <url>" and the reason phrase on the next line (it was
        # "Unauthorized" again); older twines: "HTTPError: 401 <reason phrase> from <url>"
        assert "401" in out and reason in out, (label, out)
        assert token not in out, label


def test_pip_shows_why_a_token_is_refused(refused: tuple[str, Any], tmp_path: Path) -> None:
    """pip's own line for any 401 is fixed ("401 Error, Credentials not correct for <url>"); with -vv it also prints
    the error it skipped the index for, reason phrase included (it was "401 Client Error: Unauthorized")."""
    endpoint, cases = refused
    for label, (token, reason) in cases.items():
        index = (endpoint + "simple/").replace("://", f"://aws:{token}@", 1)
        command = [sys.executable, "-m", "pip", "download", "-vv", "--no-deps", "--no-cache-dir"]
        r = subprocess.run(
            [*command, "-d", str(tmp_path / "dl"), "--index-url", index, "coffer-reason-demo"],
            env=client_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=180,
        )
        out = " ".join((r.stdout + r.stderr).split())
        assert r.returncode != 0, label
        assert "401 Error, Credentials not correct for" in out, (label, out)
        assert f"401 Client Error: {reason} for url: {endpoint}simple/coffer-reason-demo/" in out, (label, out)
        assert token not in out, label
