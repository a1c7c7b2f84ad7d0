"""``coffer token``: print an authorization token for scripts."""

from __future__ import annotations

import json

import click

from coffer.cli.context import CofferCliError, Target, acting_account, data_target, opened
from coffer.cli.options import USER_ACCOUNT_HELP
from coffer.core.codeartifact.token_format import peek_token_id
from coffer.core.identity.iam_service import ADMIN_USER
from coffer.core.shared.clock import iso_utc
from coffer.core.shared.errors import CofferError


@click.command()
@click.option("--domain", required=True, help="Domain the token is for.")
@click.option("--domain-owner", default=None, help="12-digit owner of the domain (default: the caller's account).")
@click.option("--duration", "duration", type=int, default=None, help="0, or 900 to 43200 seconds (default 43200).")
@click.option("--user", "user_name", default=ADMIN_USER, show_default=True, help="IAM user the token acts for.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {authorizationToken, expiration (epoch seconds), tokenId, expiresAt (ISO 8601 UTC)} as JSON.",
)
@data_target(USER_ACCOUNT_HELP)
def token(
    target: Target,
    domain: str,
    domain_owner: str | None,
    duration: int | None,
    user_name: str,
    as_json: bool,
) -> None:
    """Print an authorization token, minted exactly as GetAuthorizationToken would for USER. Only reads the data
    directory (also works on a read-only copy); `coffer serve` creates it."""
    with opened(target.settings, read_only_ok=True) as o:
        account = acting_account(o, target.account_id)
        caller = o.services.identities.load_user_caller(account, user_name)
        if caller is None:
            raise CofferCliError(f"no user {user_name} in account {account}")
        try:
            issued = o.services.tokens.issue(caller, domain, domain_owner, duration)
        except CofferError as exc:
            raise CofferCliError.of(exc) from exc
    if as_json:
        out = {
            "authorizationToken": issued.token,
            "expiration": issued.expiration,
            "tokenId": peek_token_id(issued.token),
            "expiresAt": iso_utc(issued.expiration),
        }
        click.echo(json.dumps(out))
    else:
        click.echo(issued.token)
