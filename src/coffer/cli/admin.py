"""``coffer admin ...``: manage identities and keys on the data directory or database directly.

The identity commands are thin clients of the IAM service the server's IAM API uses (same validation, same
errors), called as the account's root user. A running server sees these changes within a second (its identity
cache lives one second; it reloads the key files when they change)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from coffer.bootstrap import rotate_encryption_key, write_credentials_profile
from coffer.cli.context import Opened, make_settings, opened
from coffer.cli.options import data_options
from coffer.core.clock import system_clock
from coffer.core.errors import CofferError
from coffer.core.identity import LONG_TERM_SESSION_SECONDS, Caller, root_caller
from coffer.core.tokens import PREFIX as TOKEN_PREFIX
from coffer.core.tokens import peek_token_id
from coffer.store import keyfiles


class _Target:
    def __init__(self, data_dir: Path, db_url: str | None, region: str, account_id: str | None) -> None:
        self.settings = make_settings(data_dir, db_url, region, None)
        self.account_id = account_id


@click.group()
@data_options
@click.pass_context
def admin(ctx: click.Context, data_dir: Path, db_url: str | None, region: str, account_id: str | None) -> None:
    """Manage users, access keys, policies and signing keys. --account-id picks the account (default: the
    data directory's own)."""
    ctx.obj = _Target(data_dir, db_url, region, account_id)


def _fail(exc: CofferError) -> click.ClickException:
    return click.ClickException(f"{exc.code}: {exc.message}")


def _as_root(target: _Target, o: Opened) -> Caller:
    """The caller admin commands act as: the root user of the chosen account (every permission in it)."""
    return root_caller(target.account_id or o.boot.account_id, "")


@admin.command("create-user")
@click.argument("name")
@click.pass_obj
def create_user(target: _Target, name: str) -> None:
    """Create IAM user NAME (no permissions until you put a policy)."""
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
@click.pass_obj
def create_access_key(target: _Target, name: str | None, root: bool, profile: str | None) -> None:
    """Create an access key for user NAME (or --root) and print it (the secret is shown only now)."""
    if bool(name) == root:
        raise click.UsageError("give a user NAME or --root, not both")
    with opened(target.settings) as o:
        try:
            # the root caller without a user name: a key of the root user itself, as IAM's CreateAccessKey does
            key = o.services.iam.create_access_key(_as_root(target, o), name)
        except CofferError as exc:
            raise _fail(exc) from exc
        if profile:
            write_credentials_profile(o.boot.data.credentials, profile, key)
        click.echo(json.dumps({"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}))


@admin.command("put-user-policy")
@click.argument("name")
@click.argument("policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy-name", default=None, help="Name of the inline policy (default: the file's stem).")
@click.pass_obj
def put_user_policy(target: _Target, name: str, policy_file: Path, policy_name: str | None) -> None:
    """Attach POLICY_FILE (JSON) to user NAME as an inline policy, replacing one of the same name."""
    document = policy_file.read_text("utf-8")
    pname = policy_name or policy_file.stem
    with opened(target.settings) as o:
        try:
            o.services.iam.put_inline_policy(_as_root(target, o), "user", name, pname, document)
        except CofferError as exc:
            raise _fail(exc) from exc
        click.echo(f"policy {pname} set on user {name}")


@admin.command("list-users")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_users(target: _Target, as_json: bool) -> None:
    """List the account's users with their keys and policies (also on a read-only copy of the data)."""
    with opened(target.settings, read_only_ok=True) as o:
        caller = _as_root(target, o)
        account = caller.account_id
        iam = o.services.iam
        try:
            rows: list[dict[str, str]] = [
                {
                    "UserName": u.name,
                    "Arn": u.arn,
                    "AccessKeys": ", ".join(k.access_key_id for k in iam.list_access_keys(caller, u.name)),
                    "Policies": ", ".join(
                        [p.name for p in iam.list_inline_policies(caller, "user", u.name)]
                        + [p.name for p in iam.list_attached_policies(caller, "user", u.name)]
                    ),
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
        table.add_row(r["UserName"], r["Arn"], r["AccessKeys"], r["Policies"])
    Console().print(table)


@admin.command("delete-user")
@click.argument("name")
@click.pass_obj
def delete_user(target: _Target, name: str) -> None:
    """Delete user NAME with its access keys, policies and group memberships."""
    with opened(target.settings) as o:
        try:
            o.services.iam.delete_user(_as_root(target, o), name, cascade=True)
        except CofferError as exc:
            raise _fail(exc) from exc
        click.echo(f"deleted user {name}")


@admin.command("create-account")
@click.option("--account-id", "new_account", required=True, help="The new account's id (12 digits).")
@click.pass_obj
def create_account(target: _Target, new_account: str) -> None:
    """Create another account with its own `admin` user (AdministratorAccess). Its key is printed and added to
    <data-dir>/credentials as profile ACCOUNT_ID."""
    with opened(target.settings) as o:
        try:
            key = o.services.iam.create_account(new_account)
        except CofferError as exc:
            raise _fail(exc) from exc
        write_credentials_profile(o.boot.data.credentials, new_account, key)
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


@admin.command("rotate-keys")
@click.pass_obj
def rotate_keys(target: _Target) -> None:
    """Start a new token signing key and a new key-encryption key. Tokens signed by older keys keep working until
    they expire; every secret in the database is re-sealed with the new key-encryption key."""
    with opened(target.settings) as o:
        key = keyfiles.rotate(o.boot.data.keys, system_clock())
        click.echo(f"new signing key {key.key_id} is active; older keys still verify their tokens")
        kek_id, resealed = rotate_encryption_key(o.boot)
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
@click.pass_obj
def revoke_token(target: _Target, token_or_id: str) -> None:
    """Revoke one authorization token: give the whole token or its id. Running servers refuse it within a second.
    A bare id is kept revoked for 43200 s (the longest a token lives); a whole token until its own expiry."""
    value = token_or_id.strip()
    now = system_clock()
    if value.startswith(TOKEN_PREFIX):
        token_id = peek_token_id(value)
        if token_id is None:
            raise click.BadParameter("not a readable Coffer token", param_hint="TOKEN_OR_ID")
        expires_at = float(_token_expiry(value) or now + LONG_TERM_SESSION_SECONDS)
    elif _TOKEN_ID.fullmatch(value):
        token_id, expires_at = value, now + LONG_TERM_SESSION_SECONDS
    else:
        raise click.BadParameter("give a whole token (cf1....) or a 24-hex-digit token id", param_hint="TOKEN_OR_ID")
    with opened(target.settings) as o:
        o.boot.store.revoke_token(token_id, expires_at, now)
    click.echo(f"revoked token {token_id} (until {int(expires_at)})")
