"""``coffer token``: print an authorization token for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from coffer.cli.context import make_settings, opened
from coffer.cli.options import data_options
from coffer.core.errors import CofferError
from coffer.core.identity import ADMIN_USER


@click.command()
@click.option("--domain", required=True, help="Domain the token is for.")
@click.option("--domain-owner", default=None, help="12-digit owner of the domain (default: the caller's account).")
@click.option("--duration", "duration", type=int, default=None, help="0, or 900 to 43200 seconds (default 43200).")
@click.option("--user", "user_name", default=ADMIN_USER, show_default=True, help="IAM user the token acts for.")
@click.option("--json", "as_json", is_flag=True, help="Print {authorizationToken, expiration} as JSON.")
@data_options
def token(
    domain: str,
    domain_owner: str | None,
    duration: int | None,
    user_name: str,
    as_json: bool,
    data_dir: Path,
    db_url: str | None,
    region: str,
    account_id: str | None,
) -> None:
    """Print an authorization token, minted exactly as GetAuthorizationToken would for USER. Only reads the data
    directory (also works on a read-only copy)."""
    settings = make_settings(data_dir, db_url, region, None)
    with opened(settings, read_only_ok=True) as o:
        account = account_id or o.boot.account_id
        caller = o.services.identities.load_user_caller(account, user_name)
        if caller is None:
            raise click.ClickException(f"no user {user_name} in account {account}")
        try:
            issued = o.services.tokens.issue(caller, domain, domain_owner, duration)
        except CofferError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    if as_json:
        click.echo(json.dumps({"authorizationToken": issued.token, "expiration": issued.expiration}))
    else:
        click.echo(issued.token)
