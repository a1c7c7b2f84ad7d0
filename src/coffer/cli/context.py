"""Opening the data directory / database for commands that act on it directly (no server needed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from coffer.bootstrap import BootstrapError, Bootstrapped, open_data
from coffer.services import Services, build_services
from coffer.settings import Settings, SettingsError
from coffer.store.files import set_private_umask
from coffer.store.keyfiles import KeyRingFiles


class CofferCliError(click.ClickException):
    """A failure told in one line, ``coffer: <message>`` on stderr, exit status 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"coffer: {self.format_message()}", err=True, file=file)


@dataclass(frozen=True)
class Opened:
    boot: Bootstrapped
    services: Services
    settings: Settings


def make_settings(data_dir: Path, db_url: str | None, region: str, account_id: str | None) -> Settings:
    try:
        return Settings(data_dir=data_dir, db_url=db_url, region=region, account_id=account_id)
    except SettingsError as exc:
        raise click.BadParameter(str(exc)) from exc


@contextmanager
def opened(settings: Settings, *, read_only_ok: bool = False) -> Iterator[Opened]:
    """The data directory opened for a command (``read_only_ok``: one that only reads, which then also works on a
    data directory it cannot write). Whatever the command creates is private (umask 077)."""
    set_private_umask()
    try:
        boot = open_data(settings, read_only_ok=read_only_ok)
    except BootstrapError as exc:
        raise CofferCliError(str(exc)) from exc
    try:
        ring = KeyRingFiles(boot.data.keys)
        services = build_services(boot.store, settings.region, ring, settings.base_url, boot.blobs)
        yield Opened(boot, services, settings)
    finally:
        boot.store.close()
