"""Options shared by commands, each also a COFFER_* environment variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from coffer.settings import DEFAULT_DATA_DIR, DEFAULT_REGION

F = TypeVar("F", bound=Callable[..., Any])

SERVE_ACCOUNT_HELP = (
    "12-digit id of the first account, used on first start only (default: random, then kept). [COFFER_ACCOUNT_ID]"
)
ADMIN_ACCOUNT_HELP = (
    "12-digit id of the account the command acts in (default: the data directory's own first account). "
    "[COFFER_ACCOUNT_ID]"
)
USER_ACCOUNT_HELP = (
    "12-digit id of the account of --user (default: the data directory's own first account). [COFFER_ACCOUNT_ID]"
)
DATA_OPTION_NAMES = ("data_dir", "db_url", "region", "account_id")


def data_options(f: F) -> F:
    """--data-dir, --db-url, --region, --account-id: what finds and shapes the stored data (``coffer serve``'s
    meaning of --account-id: the first account's id)."""
    return data_options_for(SERVE_ACCOUNT_HELP)(f)


def data_options_for(account_help: str | None) -> Callable[[F], F]:
    """The data options with ``account_help`` for --account-id (``None``: no --account-id)."""

    def decorate(f: F) -> F:
        if account_help is not None:
            f = click.option("--account-id", envvar="COFFER_ACCOUNT_ID", default=None, help=account_help)(f)
        f = click.option(
            "--region", envvar="COFFER_REGION", default=DEFAULT_REGION, show_default=True, help="[COFFER_REGION]"
        )(f)
        f = click.option(
            "--db-url",
            envvar="COFFER_DB_URL",
            default=None,
            help="Database URL (postgresql://...); default SQLite in the data directory. [COFFER_DB_URL]",
        )(f)
        f = click.option(
            "--data-dir",
            envvar="COFFER_DATA_DIR",
            default=DEFAULT_DATA_DIR,
            type=click.Path(file_okay=False, path_type=Path),
            help=f"Where Coffer keeps its database, keys and credentials file (default: {DEFAULT_DATA_DIR}, relative "
            "to the current directory). [COFFER_DATA_DIR]",
        )(f)
        return f

    return decorate


def merged_data_options(ctx: click.Context, given: dict[str, Any]) -> dict[str, Any]:
    """The data options of a subcommand (``given``, as it parsed them) merged with its group's (``coffer admin
    --data-dir D create-user X`` and ``coffer admin create-user X --data-dir D`` both work): an option on the
    command line after the subcommand wins over one before it, which wins over the environment and the default
    (those two are the same for both)."""
    parent = ctx.parent
    merged = dict(given)
    for name, value in given.items():
        if parent is None or name not in parent.params:
            continue
        after = ctx.get_parameter_source(name)
        before = parent.get_parameter_source(name)
        if after is not ParameterSource.COMMANDLINE and before is ParameterSource.COMMANDLINE:
            merged[name] = parent.params[name]
        else:
            merged[name] = value
    return merged
