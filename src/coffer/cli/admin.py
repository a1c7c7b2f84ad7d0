"""``coffer admin ...``: manage identities and keys on the data directory or database directly.

The identity commands are thin clients of the IAM service the server's IAM API uses (same validation, same
errors), called as the account's root user. A running server sees these changes within a second (its identity
cache lives one second; it reloads the key files when they change)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from coffer.app.bootstrap import (
    BootstrapError,
    remove_credentials_profiles,
    rotate_encryption_key,
    write_credentials_profile,
)
from coffer.aws.query_form import validate_params
from coffer.aws.query_model import load_query_service
from coffer.cli.context import CofferCliError, Opened, Target, acting_account, data_target, opened
from coffer.cli.options import ADMIN_ACCOUNT_HELP, data_options_for
from coffer.core.codeartifact.token_format import PREFIX as TOKEN_PREFIX
from coffer.core.codeartifact.token_format import peek_token_id
from coffer.core.identity.callers import Caller, root_caller
from coffer.core.identity.iam_models import AccessKey
from coffer.core.shared.aws_limits import MAX_SESSION_SECONDS
from coffer.core.shared.clock import iso_utc, system_clock
from coffer.core.shared.errors import CofferError
from coffer.store import keyfiles

#: --account-id for the commands that act in an account (the others, rotate-keys, revoke-token, gc and
#: create-account, act on the whole data)
in_account = data_target(ADMIN_ACCOUNT_HELP)
on_the_data = data_target(None)


@click.group()
@data_options_for(
    ADMIN_ACCOUNT_HELP.replace(
        " [COFFER_ACCOUNT_ID]",
        " Not used by rotate-keys, revoke-token and gc; create-account's own --account-id names the new account."
        " [COFFER_ACCOUNT_ID]",
    )
)
def admin(data_dir: Path, db_url: str | None, region: str, account_id: str | None) -> None:
    """Manage users, access keys, policies and signing keys on an existing data directory (or --db-url) directly;
    `coffer serve` creates it. The data options may come before or after the subcommand (after wins)."""


_fail = CofferCliError.of


def _check(operation: str, **params: str) -> None:
    """Validate arguments against IAM's model, as the IAM API does before the operation runs (one rule, one
    source): a name IAM refuses is refused here with IAM's message."""
    try:
        validate_params(load_query_service("iam").operations[operation], params)
    except CofferError as exc:
        raise _fail(exc) from exc


def _as_root(target: Target, o: Opened) -> Caller:
    """The caller admin commands act as: the root user of the chosen account (every permission in it)."""
    return root_caller(acting_account(o, target.account_id), "")


@admin.command("create-user")
@click.argument("name")
@in_account
def create_user(target: Target, name: str) -> None:
    """Create IAM user NAME (no permissions until you put a policy)."""
    _check("CreateUser", UserName=name)
    with opened(target.settings) as o:
        try:
            user = o.services.iam.create_user(_as_root(target, o), name)
        except CofferError as exc:
            raise _fail(exc) from exc
        click.echo(user.arn)


@admin.command("create-access-key")
@click.argument("name", required=False)
@click.option("--root", is_flag=True, help="A key of the account's root user instead of an IAM user.")
@click.option("--profile", default=None, help="Also write the key into <data-dir>/credentials under this profile.")
@in_account
def create_access_key(target: Target, name: str | None, root: bool, profile: str | None) -> None:
    """Create an access key for user NAME (or --root) and print it (the secret is shown only now)."""
    if bool(name) == root:
        raise click.UsageError("give a user NAME or --root, not both")
    with opened(target.settings) as o:
        try:
            # the root caller without a user name: a key of the root user itself, as IAM's CreateAccessKey does
            key = o.services.iam.create_access_key(_as_root(target, o), name)
        except CofferError as exc:
            raise _fail(exc) from exc
        # printed first: the secret is shown only now, even if the credentials file cannot be written
        click.echo(json.dumps({"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}))
        if profile:
            _write_profile(o, profile, key)


def _write_profile(o: Opened, profile: str, key: AccessKey) -> None:
    path = o.boot.data.credentials
    try:
        write_credentials_profile(path, profile, key)
    except OSError as exc:
        raise CofferCliError(
            f"the key above was created, but profile {profile} could not be written to {path} "
            f"({(exc.strerror or str(exc)).lower()})"
        ) from exc


@admin.command("put-user-policy")
@click.argument("name")
@click.argument("policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy-name", default=None, help="Name of the inline policy (default: the file's stem).")
@in_account
def put_user_policy(target: Target, name: str, policy_file: Path, policy_name: str | None) -> None:
    """Attach POLICY_FILE (JSON) to user NAME as an inline policy, replacing one of the same name."""
    try:
        document = policy_file.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise CofferCliError(f"{policy_file} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    pname = policy_name or policy_file.stem
    _check("PutUserPolicy", UserName=name, PolicyName=pname, PolicyDocument=document)
    with opened(target.settings) as o:
        try:
            o.services.iam.put_inline_policy(_as_root(target, o), "user", name, pname, document)
        except CofferError as exc:
            raise _fail(exc) from exc
        click.echo(f"policy {pname} set on user {name}")


@admin.command("list-users")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@in_account
def list_users(target: Target, as_json: bool) -> None:
    """List the account's users with their keys and policies (also on a read-only copy of the data)."""
    with opened(target.settings, read_only_ok=True) as o:
        caller = _as_root(target, o)
        account = caller.account_id
        iam = o.services.iam
        try:
            rows: list[dict[str, str | list[str]]] = [
                {
                    "UserName": u.name,
                    "Arn": u.arn,
                    "AccessKeys": [k.access_key_id for k in iam.list_access_keys(caller, u.name)],
                    "Policies": [p.name for p in iam.list_inline_policies(caller, "user", u.name)]
                    + [p.name for p in iam.list_attached_policies(caller, "user", u.name)],
                }
                for u in iam.list_users(caller)
            ]
        except CofferError as exc:
            raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("user", "arn", "access keys", "policies", title=f"account {account}")
    for r in rows:
        table.add_row(*(", ".join(v) if isinstance(v, list) else v for v in r.values()))
    Console().print(table)


@admin.command("delete-user")
@click.argument("name")
@in_account
def delete_user(target: Target, name: str) -> None:
    """Delete user NAME with its access keys, policies and group memberships, and the profiles of
    <data-dir>/credentials that hold its keys."""
    with opened(target.settings) as o:
        caller = _as_root(target, o)
        try:
            keys = {k.access_key_id for k in o.services.iam.list_access_keys(caller, name)}
            o.services.iam.delete_user(caller, name, cascade=True)
        except CofferError as exc:
            raise _fail(exc) from exc
        credentials = o.boot.data.credentials
        try:
            removed = remove_credentials_profiles(credentials, keys)
        except (OSError, ValueError) as exc:
            raise CofferCliError(f"deleted user {name}, but could not update {credentials}: {exc}") from exc
    line = f"deleted user {name}"
    if removed:
        noun = "profile" if len(removed) == 1 else "profiles"
        line += f" and its {noun} {', '.join(removed)} from {credentials.resolve()}"
    click.echo(line)


@admin.command("create-account")
@click.option(
    "--account-id",
    "new_account",
    default=None,
    help="12-digit id of the NEW account (required; here --account-id does not pick an account to act in).",
)
@on_the_data
def create_account(target: Target, new_account: str | None) -> None:
    """Create another account with its own `admin` user (AdministratorAccess). Its key is printed and added to
    <data-dir>/credentials as profile ACCOUNT_ID."""
    new_account = new_account or _group_account_id()
    if new_account is None:
        raise click.UsageError("give the new account's id: --account-id 444455556666")
    with opened(target.settings) as o:
        try:
            key = o.services.iam.create_account(new_account)
        except CofferError as exc:
            raise _fail(exc) from exc
        click.echo(
            json.dumps(
                {
                    "AccountId": new_account,
                    "UserName": key.user_name,
                    "AccessKeyId": key.access_key_id,
                    "SecretAccessKey": key.secret_access_key,
                    "Profile": new_account,
                }
            )
        )
        _write_profile(o, new_account, key)  # after: the key is shown whatever happens to the file


def _group_account_id() -> str | None:
    """``coffer admin --account-id X create-account``: the id given before the subcommand (not from the
    environment: COFFER_ACCOUNT_ID names the account commands act in, never a new one)."""
    group = click.get_current_context().parent
    if group is None or group.get_parameter_source("account_id") is not ParameterSource.COMMANDLINE:
        return None
    value = group.params.get("account_id")
    return value if isinstance(value, str) else None


@admin.command("rotate-keys")
@on_the_data
def rotate_keys(target: Target) -> None:
    """Start a new token signing key and a new key-encryption key. Tokens signed by older keys keep working until
    they expire; every secret in the database is re-sealed with the new key-encryption key."""
    with opened(target.settings) as o:
        key = keyfiles.rotate(o.boot.data.keys, system_clock())
        click.echo(f"new signing key {key.key_id} is active; older keys still verify their tokens")
        try:
            kek_id, resealed = rotate_encryption_key(o.boot)
        except BootstrapError as exc:
            raise CofferCliError(str(exc)) from exc
        click.echo(f"new key-encryption key {kek_id} is active; {resealed} stored secrets re-sealed with it")


_TOKEN_ID = re.compile(r"[0-9a-f]{24}")


def _token_expiry(token: str) -> int | None:
    """The expiry written in a token's claims (unverified: only used to bound how long the revocation is kept)."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        expires = claims[7]
    except (IndexError, ValueError, TypeError, binascii.Error):
        return None
    return expires if isinstance(expires, int) and not isinstance(expires, bool) else None


@admin.command("revoke-token")
@click.argument("token_or_id")
@on_the_data
def revoke_token(target: Target, token_or_id: str) -> None:
    """Revoke one authorization token: give the whole token or its id, or `-` to read either from stdin (a token
    on the command line is visible to other users in `ps`). Running servers refuse it within a second. A bare id
    is kept revoked for 43200 s (the longest a token lives); a whole token until its own expiry."""
    from_stdin = token_or_id == "-"  # noqa: S105 - the argument meaning "read stdin", not a password
    value = (sys.stdin.readline() if from_stdin else token_or_id).strip()
    now = system_clock()
    if value.startswith(TOKEN_PREFIX):
        token_id = peek_token_id(value)
        if token_id is None:
            raise click.BadParameter("not a readable Coffer token", param_hint="TOKEN_OR_ID")
        expiry = _token_expiry(value)
        if expiry is None:
            expires_at, until = now + MAX_SESSION_SECONDS, "the longest a token lives"
        else:
            expires_at, until = float(expiry), "its expiry"
    elif _TOKEN_ID.fullmatch(value):
        token_id, expires_at = value, now + MAX_SESSION_SECONDS
        until = "the longest a token lives"
    else:
        raise click.BadParameter("give a whole token (cf1....) or a 24-hex-digit token id", param_hint="TOKEN_OR_ID")
    with opened(target.settings) as o:
        o.boot.store.revoke_token(token_id, expires_at, now)
    if expires_at <= now:
        until = "its expiry, already past"
    click.echo(
        f"revoked token {token_id} until {iso_utc(expires_at)} ({until}); running servers refuse it within a second"
    )
