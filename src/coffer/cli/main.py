"""The ``coffer`` command: serve, token, admin ..."""

from __future__ import annotations

import click

from coffer import __version__
from coffer.cli.admin import admin
from coffer.cli.gc import gc
from coffer.cli.login import login
from coffer.cli.serve import serve, stop
from coffer.cli.token import token


@click.group()
@click.version_option(__version__, prog_name="coffer")
def cli() -> None:
    """Coffer: a self-hosted, CodeArtifact-compatible package repository."""


admin.add_command(gc)
cli.add_command(serve)
cli.add_command(stop)
cli.add_command(admin)
cli.add_command(token)
cli.add_command(login)


def main() -> None:
    cli()
