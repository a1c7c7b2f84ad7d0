"""``coffer serve``: run the server."""

from __future__ import annotations

from pathlib import Path

import click

from coffer.cli.options import data_options
from coffer.settings import DEFAULT_HOST, DEFAULT_PORT, Settings, SettingsError


@click.command()
@click.option("--host", envvar="COFFER_HOST", default=DEFAULT_HOST, show_default=True, help="[COFFER_HOST]")
@click.option(
    "--port",
    envvar="COFFER_PORT",
    default=DEFAULT_PORT,
    show_default=True,
    type=int,
    help="0 picks a free port. [COFFER_PORT]",
)
@click.option(
    "--public-url",
    envvar="COFFER_PUBLIC_URL",
    default=None,
    help="Base URL clients use to reach Coffer (default: the listen address). [COFFER_PUBLIC_URL]",
)
@data_options
def serve(
    host: str,
    port: int,
    public_url: str | None,
    data_dir: Path,
    db_url: str | None,
    region: str,
    account_id: str | None,
) -> None:
    """Run the Coffer server."""
    try:
        settings = Settings(
            host=host,
            port=port,
            data_dir=data_dir,
            region=region,
            account_id=account_id,
            public_url=public_url,
            db_url=db_url,
        )
    except SettingsError as exc:
        raise click.BadParameter(str(exc)) from exc
    from coffer.server import run

    run(settings)
