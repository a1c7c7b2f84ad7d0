"""``coffer serve``: run the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from coffer.atomic_files import set_private_umask
from coffer.cli.context import CofferCliError, CofferSettingsError
from coffer.cli.options import data_options, setting_option, typed_options
from coffer.settings import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_UPSTREAM_TIMEOUT,
    DEFAULT_UPSTREAM_TTL,
    LOG_FORMATS,
    MAX_DEFAULT_WORKERS,
    MAX_WORKERS,
    Settings,
    SettingsError,
)
from coffer.upstreams import UnknownConnectionError, connection_urls


@click.command()
@setting_option("host", "--host", default=DEFAULT_HOST, show_default=True, help="")
@setting_option("port", "--port", default=DEFAULT_PORT, show_default=True, type=int, help="0 picks a free port.")
@setting_option(
    "public_url",
    "--public-url",
    default=None,
    help="Base URL clients use to reach Coffer (default: the listen address).",
)
@setting_option(
    "endpoint_dns_suffix",
    "--endpoint-dns-suffix",
    default=None,
    metavar="SUFFIX",
    help="Make GetRepositoryEndpoint answer AWS host-style URLs, {domain}-{owner}.d.codeartifact.{region}.SUFFIX "
    "with the scheme and port of the public URL (needs a wildcard DNS record or hosts-file entries); "
    "default: path style. Host-style requests are served either way.",
)
@setting_option(
    "access_log",
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="One line per request on stderr, tokens and credentials taken out.",
)
@setting_option(
    "log_format",
    "--log-format",
    type=click.Choice(LOG_FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    help="Of the access log: a readable line, or one JSON object per line.",
)
@setting_option(
    "external_connection_urls",
    "--external-connection-url",
    multiple=True,
    metavar="NAME=URL",
    help="Where an external connection fetches from, e.g. public:pypi=http://127.0.0.1:3141/root/pypi/+simple/ "
    "(any PEP 503/691 index; credentials in the URL are sent as HTTP Basic). Repeatable; default: the public "
    "registries. The variable holds the pairs separated by spaces.",
)
@setting_option(
    "upstream_ttl",
    "--upstream-ttl",
    type=float,
    default=DEFAULT_UPSTREAM_TTL,
    show_default=True,
    metavar="SECONDS",
    help="How long an upstream project page is fresh; after that it is served stale while it is fetched again.",
)
@setting_option(
    "upstream_timeout",
    "--upstream-timeout",
    type=float,
    default=DEFAULT_UPSTREAM_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Connect and read timeout of external connections: an uncached request to a down registry fails "
    "(502/504) within about this long.",
)
@setting_option(
    "workers",
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=None,
    metavar="N",
    help="Worker processes serving the one listening socket, each with its own database connections and "
    f"caches (default: the CPUs this process may use, at most {MAX_DEFAULT_WORKERS}). 1 serves in this process "
    "itself, with no supervisor.",
)
@click.option(
    "--background",
    is_flag=True,
    help="Return once the server answers and leave it running, logging to <data-dir>/coffer.log; "
    "`coffer stop` ends it.",
)
@data_options
@click.pass_context
def serve(ctx: click.Context, /, background: bool, **options: Any) -> None:
    """Run the Coffer server.

    Unreferenced blobs are collected every COFFER_GC_INTERVAL seconds (default 3600; 0: never) once they are
    COFFER_GC_GRACE seconds old (default 3600); see `coffer admin gc`."""
    set_private_umask()  # whatever the server creates (database, its log, blobs, keys) is private to its user
    typed = typed_options(ctx, options)
    settings = serve_settings(typed)
    if background:
        _start_in_background(settings, frozenset(typed))
        return
    from coffer.app.server import run

    run(settings)


def serve_settings(typed: dict[str, Any]) -> Settings:
    """The server's settings: every ``COFFER_*`` variable (``Settings.from_env``, as the ASGI factory reads them),
    with the options ``typed`` on the command line winning; a bad value is refused in one line naming it."""
    if typed.get("endpoint_dns_suffix") == "":
        typed = {**typed, "endpoint_dns_suffix": None}
    try:
        settings = Settings.from_env(**typed)
        connection_urls(settings.external_connection_urls)
    except (SettingsError, UnknownConnectionError) as exc:
        raise CofferSettingsError(str(exc)) from exc
    return settings


def _start_in_background(settings: Settings, typed: frozenset[str]) -> None:
    from coffer.app import background

    try:
        # the child inherits this environment; what was typed here reaches it as the variables it reads
        banner = background.start(settings.data_dir, settings.as_env(typed))
    except background.BackgroundError as exc:
        if exc.excerpt:
            click.echo(f"coffer: {exc}", err=True)
            click.echo(exc.excerpt, err=True)
            raise SystemExit(1) from exc
        raise CofferCliError(str(exc)) from exc
    except OSError as exc:
        raise CofferCliError(str(exc)) from exc
    click.echo(banner.rstrip("\n"))


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
