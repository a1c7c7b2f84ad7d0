"""Options shared by commands, each also a COFFER_* environment variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from coffer.settings import DEFAULT_DATA_DIR, DEFAULT_REGION

F = TypeVar("F", bound=Callable[..., Any])


def data_options(f: F) -> F:
    """--data-dir, --db-url, --region, --account-id: what finds and shapes the stored data."""
    f = click.option(
        "--account-id",
        envvar="COFFER_ACCOUNT_ID",
        default=None,
        help="12-digit id of the first account (first start only; default: random, then kept). [COFFER_ACCOUNT_ID]",
    )(f)
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
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Where Coffer keeps its database, keys and credentials file. [COFFER_DATA_DIR]",
    )(f)
    return f
