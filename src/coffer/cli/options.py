"""Options shared by commands, each also a COFFER_* environment variable.

click parses only the command line here (no ``envvar``): the variables are read by ``Settings.from_env``, the one
reader the ASGI factory uses too, and what was typed wins over them (:func:`typed_options`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from coffer.settings import DEFAULT_DATA_DIR, DEFAULT_REGION, ENV_VARS

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


def setting_option(field: str, *flags: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    """A command-line option for the Settings field ``field``; its help names the field's variable."""
    return click.option(*flags, field, help=f"{help} [{ENV_VARS[field]}]".lstrip(), **kwargs)


def data_options_for(account_help: str | None) -> Callable[[F], F]:
    """The data options with ``account_help`` for --account-id (``None``: no --account-id)."""

    def decorate(f: F) -> F:
        if account_help is not None:
            f = setting_option("account_id", "--account-id", default=None, help=account_help)(f)
        f = setting_option("region", "--region", default=DEFAULT_REGION, show_default=True, help="")(f)
        f = setting_option(
            "db_url",
            "--db-url",
            default=None,
            help="Database URL (postgresql://...); default SQLite in the data directory.",
        )(f)
        f = setting_option(
            "data_dir",
            "--data-dir",
            default=DEFAULT_DATA_DIR,
            type=click.Path(file_okay=False, path_type=Path),
            help=f"Where Coffer keeps its database, keys and credentials file (default: {DEFAULT_DATA_DIR}, relative "
            "to the current directory).",
        )(f)
        return f

    return decorate


def typed_options(ctx: click.Context, parsed: dict[str, Any]) -> dict[str, Any]:
    """Of the options a command parsed (``parsed``), those typed on its command line, or (for a subcommand of a
    group that has them too: ``coffer admin --data-dir D create-user X`` and ``coffer admin create-user X
    --data-dir D`` both work) on its group's; after the subcommand wins. What is not typed is left to
    ``Settings.from_env`` (the environment, then the default)."""
    parent = ctx.parent
    typed: dict[str, Any] = {}
    for name, value in parsed.items():
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            typed[name] = value
        elif parent is not None and parent.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            typed[name] = parent.params[name]
    return typed
