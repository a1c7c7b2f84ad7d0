"""``coffer serve``: run the server."""

from __future__ import annotations

import os
from pathlib import Path

import click

from coffer.cli.context import CofferCliError
from coffer.cli.options import data_options
from coffer.formats.pypi.upload import max_upload_bytes
from coffer.settings import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    LOG_FORMATS,
    Settings,
    SettingsError,
    cache_ttl_from_env,
)
from coffer.store.files import set_private_umask
from coffer.store.gc import GcSettings


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
@click.option(
    "--endpoint-dns-suffix",
    envvar="COFFER_ENDPOINT_DNS_SUFFIX",
    default=None,
    metavar="SUFFIX",
    help="Make GetRepositoryEndpoint answer AWS host-style URLs, {domain}-{owner}.d.codeartifact.{region}.SUFFIX "
    "with the scheme and port of the public URL (needs a wildcard DNS record or hosts-file entries); "
    "default: path style. Host-style requests are served either way. [COFFER_ENDPOINT_DNS_SUFFIX]",
)
@click.option(
    "--access-log/--no-access-log",
    envvar="COFFER_ACCESS_LOG",
    default=True,
    show_default=True,
    help="One line per request on stderr, tokens and credentials taken out. [COFFER_ACCESS_LOG]",
)
@click.option(
    "--log-format",
    envvar="COFFER_LOG_FORMAT",
    type=click.Choice(LOG_FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    help="Of the access log: a readable line, or one JSON object per line. [COFFER_LOG_FORMAT]",
)
@click.option(
    "--background",
    is_flag=True,
    help="Return once the server answers and leave it running, logging to <data-dir>/coffer.log; "
    "`coffer stop` ends it.",
)
@data_options
def serve(
    background: bool,
    host: str,
    port: int,
    public_url: str | None,
    endpoint_dns_suffix: str | None,
    access_log: bool,
    log_format: str,
    data_dir: Path,
    db_url: str | None,
    region: str,
    account_id: str | None,
) -> None:
    """Run the Coffer server.

    Unreferenced blobs are collected every COFFER_GC_INTERVAL seconds (default 3600; 0: never) once they are
    COFFER_GC_GRACE seconds old (default 3600); see `coffer admin gc`."""
    set_private_umask()  # whatever the server creates (database, its log, blobs, keys) is private to its user
    try:
        GcSettings.from_env()
        max_upload_bytes()  # COFFER_MAX_UPLOAD_BYTES
        cache_ttl_from_env(os.environ)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        settings = Settings(
            host=host,
            port=port,
            data_dir=data_dir,
            region=region,
            account_id=account_id,
            public_url=public_url,
            db_url=db_url,
            endpoint_dns_suffix=endpoint_dns_suffix or None,
            access_log=access_log,
            log_format=log_format,
        )
    except SettingsError as exc:
        raise click.BadParameter(str(exc)) from exc
    if background:
        _start_in_background(settings)
        return
    from coffer.app.server import run

    run(settings)


def _start_in_background(settings: Settings) -> None:
    from coffer.app import background

    try:
        banner = background.start(settings.data_dir, _given_settings(click.get_current_context()))
    except background.BackgroundError as exc:
        if exc.excerpt:
            click.echo(f"coffer: {exc}", err=True)
            click.echo(exc.excerpt, err=True)
            raise SystemExit(1) from exc
        raise CofferCliError(str(exc)) from exc
    except OSError as exc:
        raise CofferCliError(str(exc)) from exc
    click.echo(banner.rstrip("\n"))


def _given_settings(ctx: click.Context) -> dict[str, str]:
    """The options given on this command line as the ``COFFER_*`` variables the background child reads (the
    environment's own it inherits)."""
    given: dict[str, str] = {}
    for param in ctx.command.params:
        name = param.name
        if not isinstance(param.envvar, str) or name is None:
            continue
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[name]
        given[param.envvar] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return given


@click.command()
@click.option(
    "--data-dir",
    envvar="COFFER_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The data directory of the server to stop. [COFFER_DATA_DIR]",
)
def stop(data_dir: Path) -> None:
    """Stop the server `coffer serve --background` started on the data directory (SIGTERM, then wait)."""
    from coffer.app import background

    try:
        recorded = background.stop(data_dir)
    except background.BackgroundError as exc:
        raise CofferCliError(str(exc)) from exc
    click.echo(f"stopped the Coffer server at {recorded.url} (pid {recorded.pid})")
