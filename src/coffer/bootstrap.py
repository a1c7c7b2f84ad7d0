"""First start and every start: the data directory, signing keys, the account, its admin and credentials."""

from __future__ import annotations

import configparser
import io
from dataclasses import dataclass
from pathlib import Path

from coffer.core.clock import system_clock
from coffer.core.codeartifact.tokens import MAX_DURATION as MAX_TOKEN_LIFETIME
from coffer.core.identity import ADMIN_USER, IdentityService, new_account_id
from coffer.core.managed_policies import ensure_aws_managed_policies
from coffer.core.models import AccessKey
from coffer.core.ports import BlobStore, Store
from coffer.settings import Settings
from coffer.store import keyfiles
from coffer.store.blobs import FileBlobStore
from coffer.store.files import atomic_write
from coffer.store.sql_store import open_store


class BootstrapError(RuntimeError):
    """The data directory or database is not in a state Coffer can start from."""


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"


@dataclass(frozen=True)
class Bootstrapped:
    store: Store
    account_id: str
    data: DataDir
    blobs: BlobStore


def default_account(store: Store, requested: str | None) -> str:
    """The account the data belongs to: the oldest one; on first start the requested or a random id."""
    accounts = sorted(store.list_accounts(), key=lambda a: (a.created_at, a.account_id))
    if not accounts:
        return requested or new_account_id()
    if requested is not None and requested not in {a.account_id for a in accounts}:
        raise BootstrapError(
            f"this data already belongs to account {accounts[0].account_id}; "
            f"--account-id {requested} only applies on first start"
        )
    return requested or accounts[0].account_id


def write_credentials_profile(path: Path, profile: str, key: AccessKey) -> None:
    """Add or replace one profile in an AWS shared-credentials file (mode 0600, written atomically)."""
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        parser.read(path, encoding="utf-8")
    parser[profile] = {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": key.secret_access_key}
    out = io.StringIO()
    parser.write(out)
    atomic_write(path, out.getvalue().encode("utf-8"), mode=0o600)


def open_data(settings: Settings) -> Bootstrapped:
    """Open (creating on first start) everything a server or an admin command works on."""
    data = DataDir(settings.data_dir)
    data.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    keyfiles.ensure_key(data.keys, system_clock())
    store = open_store(settings.database_url)
    try:
        account_id = default_account(store, settings.account_id)
        ensure_aws_managed_policies(store, system_clock)  # AWS's managed policies, created or updated
        identities = IdentityService(store, system_clock)
        new_key = identities.bootstrap_admin(account_id)
        if new_key is None and not data.credentials.exists():
            # A new data directory on an existing database: write the admin's key we already have.
            new_key = next(
                (k for k in identities.list_access_keys(account_id, ADMIN_USER) if k.status == "Active"), None
            )
        if new_key is not None:
            write_credentials_profile(data.credentials, "default", new_key)
        # STS sessions that ended more than the longest token lifetime ago: no token minted from them can still
        # be valid (tokens act for their session and need its row until they expire).
        store.delete_expired_sessions(system_clock() - MAX_TOKEN_LIFETIME)
    except BaseException:
        store.close()
        raise
    blobs = FileBlobStore(data.blobs)
    blobs.sweep()  # leftovers of uploads interrupted by a crash
    return Bootstrapped(store=store, account_id=account_id, data=data, blobs=blobs)
