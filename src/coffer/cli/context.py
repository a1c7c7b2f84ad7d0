"""Opening the data directory / database for commands that act on it directly (no server needed)."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, TypeVar, cast

import click

from coffer.app.bootstrap import BootstrapError, Bootstrapped, open_data
from coffer.app.services import Services, build_services
from coffer.atomic_files import set_private_umask
from coffer.cli.options import DATA_OPTION_NAMES, data_options_for, typed_options
from coffer.core.shared.errors import CofferError
from coffer.settings import DATA_FIELDS, Settings, SettingsError
from coffer.store.keyfiles import KeyRingFiles

F = TypeVar("F", bound=Callable[..., Any])
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


class CofferCliError(click.ClickException):
    """A failure told in one line, ``coffer: <message>`` on stderr, exit status 1. Every command fails this way
    (usage errors, a wrong option or argument, keep click's usage text and exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(_LINE_BREAKS.sub(" ", message).strip())

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"coffer: {self.format_message()}", err=True, file=file)

    @classmethod
    def of(cls, exc: CofferError) -> CofferCliError:
        """A refusal of a service (the same one the API gives): ``<Code>: <message>``."""
        return cls(f"{exc.code}: {exc.message}")


class CofferSettingsError(CofferCliError):
    """A setting Coffer cannot run with, typed or from a ``COFFER_*`` variable: one line, naming it, and exit status 2
    as for a usage error."""

    exit_code = 2


@dataclass(frozen=True)
class Opened:
    boot: Bootstrapped
    services: Services
    settings: Settings


@dataclass(frozen=True)
class Target:
    """What a command other than ``serve`` acts on: the data (``settings``, whose ``account_id`` is None: these
    commands never choose the first account) and the account it acts in (None: the data's own first account)."""

    settings: Settings
    account_id: str | None = None


def make_settings(typed: dict[str, Any]) -> Settings:
    """The data settings: the environment's, with the options ``typed`` on the command line winning."""
    try:
        return Settings.from_env(only=DATA_FIELDS, **typed)
    except SettingsError as exc:
        raise CofferSettingsError(str(exc)) from exc


def data_target(account_help: str | None) -> Callable[[F], F]:
    """Give a command the data options (--data-dir, --db-url, --region and, with ``account_help``, --account-id)
    and pass it a ``Target`` as its first argument. In a group that has them too (``coffer admin``) they may be
    given before or after the subcommand; after wins."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in DATA_OPTION_NAMES if name in kwargs}
            settings = make_settings(typed_options(click.get_current_context(), given))
            target = Target(dataclasses.replace(settings, account_id=None), settings.account_id)
            return f(target, *args, **kwargs)

        return data_options_for(account_help)(cast(F, command))

    return decorate


@contextmanager
def opened(settings: Settings, *, read_only_ok: bool = False) -> Iterator[Opened]:
    """The data directory opened for a command (``read_only_ok``: one that only reads, which then also works on a
    data directory it cannot write). Whatever the command creates is private (umask 077)."""
    set_private_umask()
    try:
        boot = open_data(settings, read_only_ok=read_only_ok)  # never creates: only `coffer serve` does
    except BootstrapError as exc:
        raise CofferCliError(str(exc)) from exc
    try:
        ring = KeyRingFiles(boot.data.keys)
        services = build_services(boot.store, settings.region, ring, settings.base_url, boot.blobs)
        yield Opened(boot, services, settings)
    except OSError as exc:  # a file the command reads or writes (credentials, keys, blobs): one line, not a traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        raise CofferCliError(f"{where}{(exc.strerror or str(exc)).lower()}") from exc
    finally:
        boot.store.close()


def acting_account(o: Opened, requested: str | None) -> str:
    """The account a command acts in: the requested one, which must exist, else the data's own first account."""
    if requested is None:
        return o.boot.account_id
    if o.boot.store.get_account(requested) is None:
        known = ", ".join(sorted(a.account_id for a in o.boot.store.list_accounts()))
        raise CofferCliError(f"no account {requested} in this data (its accounts: {known})")
    return requested
