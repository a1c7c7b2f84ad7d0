"""First start and every start: the data directory, signing keys, the account, its admin and credentials.

Everything created here is private (directories 0700, files 0600, whatever the umask); a data directory the user
made and left open to others is not changed, only warned about. A data directory that cannot be written is
refused with one line naming it and the reason, except by commands that only read (``read_only_ok``): they open
it read-only and write nothing (no migration, key, credentials, managed policy or sweep).

Only ``coffer serve`` (``create=True``) makes a new instance; every other command refuses a data directory that
does not exist or holds no Coffer data, in one line naming it, and creates nothing.
"""

from __future__ import annotations

import configparser
import errno
import io
import os
import re
import shlex
import stat
import sys
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from coffer.atomic_files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, atomic_write, make_private_dir, tighten_mode
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import root_caller
from coffer.core.identity.iam_models import AccessKey
from coffer.core.identity.iam_service import ADMIN_USER, IamService
from coffer.core.identity.identity_ids import new_account_id
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.packages.package_store import BlobStore
from coffer.core.shared.aws_limits import MAX_SESSION_SECONDS
from coffer.core.shared.clock import system_clock
from coffer.settings import Settings
from coffer.store import keyfiles, secrets
from coffer.store.blobs import FileBlobStore
from coffer.store.engine import ReadOnlyOpenError, sqlite_path
from coffer.store.migrations.runner import SchemaTooNewError, database_version
from coffer.store.sql_store import SchemaNotCurrentError, SqlStore, open_store

if TYPE_CHECKING:  # importing the ports first would enter their cycle with core.codeartifact from the wrong end
    from coffer.core.ports import Store


class BootstrapError(RuntimeError):
    """The data directory or database is not in a state Coffer can start from."""


class NoDataError(BootstrapError):
    """A command other than ``serve`` was pointed at a place with no Coffer data (it creates none)."""


POINT_ELSEWHERE = "only `coffer serve` creates one; point at another with --data-dir DIR or COFFER_DATA_DIR=DIR"


def _no_data(what: str) -> NoDataError:
    return NoDataError(f"{what} ({POINT_ELSEWHERE})")


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def encryption_keys(self) -> Path:
        """The key-encryption keys that seal secrets in the database (``coffer.store.secrets``)."""
        return self.root / "keys" / "kek"

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
    read_only: bool = False
    """Opened read-only (the data directory cannot be written): nothing may be written through it."""


def default_account(store: Store, requested: str | None, *, create: bool = True) -> str:
    """The account the data belongs to: the oldest one; on first start the requested or a random id. Without
    ``create`` (not a first start) a store with no account raises ``NoDataError``."""
    accounts = sorted(store.list_accounts(), key=lambda a: (a.created_at, a.account_id))
    if not accounts:
        if not create:
            raise NoDataError("the database holds no Coffer account")
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


_SECTION = re.compile(r"\s*\[([^\]]*)\]\s*$")
_ACCESS_KEY_LINE = re.compile(r"\s*aws_access_key_id\s*[=:]\s*(\S+)\s*$", re.IGNORECASE)  # as botocore reads it


def remove_credentials_profiles(path: Path, access_key_ids: Collection[str]) -> list[str]:
    """Remove from an AWS shared-credentials file the profiles whose ``aws_access_key_id`` is one of
    ``access_key_ids``; the names of those removed. Every other line stays as it was (comments too); the file is
    rewritten atomically, mode 0600, and only when a profile goes."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return []
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]  # the lines before the first section, then each one
    for line in text.splitlines(keepends=True):
        header = _SECTION.match(line)
        if header:
            # comments right above a header belong to that section (the blank lines before them do not)
            previous = blocks[-1][1]
            start = len(previous)
            for i in range(len(previous) - 1, -1, -1):
                stripped = previous[i].strip()
                if stripped.startswith(("#", ";")):
                    start = i
                elif stripped:
                    break
            blocks.append((header.group(1).strip(), [*previous[start:], line]))
            del previous[start:]
        else:
            blocks[-1][1].append(line)
    removed: list[str] = []
    kept: list[str] = []
    for name, lines in blocks:
        keys = {m.group(1) for m in map(_ACCESS_KEY_LINE.match, lines) if m}
        if name is not None and keys & set(access_key_ids):
            removed.append(name)
        else:
            kept.extend(lines)
    if removed:
        atomic_write(path, "".join(kept).encode("utf-8"), mode=0o600)
    return removed


def _print_warning(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def open_data(
    settings: Settings,
    *,
    create: bool = False,
    read_only_ok: bool = False,
    warn: Callable[[str], None] = _print_warning,
) -> Bootstrapped:
    """Open everything a server or an admin command works on. ``create`` (``coffer serve`` only): make what is
    missing, the data directory, keys, database, first account and its admin, on first start; without it a data
    directory that does not exist or holds no Coffer data is refused (``NoDataError``) and nothing is created.
    ``BootstrapError`` (one line naming the path and the problem) when opening is impossible, e.g. the data
    directory cannot be written; with ``read_only_ok`` (commands that only read) such a directory is opened
    read-only instead."""
    data = DataDir(settings.data_dir)
    try:
        try:
            is_dir = stat.S_ISDIR(data.root.stat().st_mode)
        except FileNotFoundError:
            if not create:
                raise _no_data(f"no Coffer data directory at {data.root.resolve()}") from None
            make_private_dir(data.root)
            is_dir = True
        if not is_dir:
            raise BootstrapError(f"the data directory {data.root} is not a directory")
        if not create:
            _require_data(data, settings)
        _warn_if_open(data.root, warn)
        unwritable = _unwritable(data, settings)
        if unwritable is not None:
            path, reason = unwritable
            if not read_only_ok:
                raise BootstrapError(f"cannot write to {path} ({reason})")
            return _open_read_only(settings, data)
        for directory in (data.keys, data.blobs):  # made by an older Coffer under a lax umask
            tighten_mode(directory, PRIVATE_DIR_MODE)
        tighten_mode(data.credentials, PRIVATE_FILE_MODE)
        return _open_writable(settings, data, create)
    except OSError as exc:
        raise BootstrapError(_os_problem(exc, data.root)) from exc
    except OperationalError as exc:
        raise BootstrapError(f"cannot open the database {_shown_url(settings)}: {exc.orig}") from exc
    except (ReadOnlyOpenError, SchemaNotCurrentError, SchemaTooNewError) as exc:
        raise BootstrapError(f"{_shown_url(settings)}: {exc}") from exc
    except secrets.SecretSealError as exc:
        raise BootstrapError(
            f"the secrets in {_shown_url(settings)} are sealed with a key-encryption key that "
            f"{data.encryption_keys} does not hold ({exc}); copy keys/kek/*.json from the data directory "
            "that created the database"
        ) from exc


def _require_data(data: DataDir, settings: Settings) -> None:
    """``NoDataError`` unless the data directory holds an instance: its signing keys (every instance has them,
    whatever its database) and, with SQLite, the database file."""
    if not data.keys.is_dir():
        raise _no_data(f"no Coffer data in {data.root.resolve()}")
    db = sqlite_path(settings.database_url)
    if db is not None and not db.exists():
        raise _no_data(f"no Coffer database at {db.resolve()}")
    if db is None and database_version(settings.database_url) == 0:  # an empty PostgreSQL database: not migrated
        raise _no_data(f"no Coffer data in {_shown_url(settings)}")


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _os_problem(exc: OSError, root: Path) -> str:
    where = exc.filename if exc.filename is not None else root
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT):
        return f"cannot write to {where} ({_reason(exc)})"
    return f"cannot use {where} ({_reason(exc)})"


def _shown_url(settings: Settings) -> str:
    """The database as an error message may show it: a SQLite file's path, else the URL without password."""
    path = sqlite_path(settings.database_url)
    if path is not None:
        return str(path)
    return make_url(settings.database_url).render_as_string(hide_password=True)


def _warn_if_open(root: Path, warn: Callable[[str], None]) -> None:
    """One line when the data directory lets other users in (it is the user's: Coffer does not chmod it)."""
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode & 0o077:
        shown = root.resolve()
        warn(
            f"coffer: warning: the data directory {shown} is open to other users (mode {mode:04o}); "
            f"make it private: chmod 700 {shlex.quote(str(shown))}"
        )


def _unwritable(data: DataDir, settings: Settings) -> tuple[Path, str] | None:
    """The first place Coffer needs to write but cannot, with the reason; None if all is writable."""
    try:
        fd, probe = tempfile.mkstemp(dir=data.root, prefix=".coffer-write-check-")
    except OSError as exc:
        return data.root, _reason(exc)
    os.close(fd)
    os.unlink(probe)
    places: list[Path] = [data.keys, data.credentials, data.blobs, data.blobs / "sha256", data.blobs / "tmp"]
    if data.keys.is_dir():
        places.extend(p for p in sorted(data.keys.iterdir()) if p.is_dir())
    db = sqlite_path(settings.database_url)
    if db is not None:
        places.extend([db.parent, db, Path(f"{db}-wal"), Path(f"{db}-shm")])
    for place in places:
        if place.exists() and not os.access(place, os.W_OK):
            read_only_fs = bool(os.statvfs(place).f_flag & os.ST_RDONLY)
            return place, "read-only file system" if read_only_fs else "permission denied"
    return None


def _open_read_only(settings: Settings, data: DataDir) -> Bootstrapped:
    """The data as it is, for commands that only read: nothing is created, migrated, swept or written."""
    try:
        cipher: secrets.SecretCipher | None = secrets.SecretCipher.from_directory(data.encryption_keys)
    except ValueError:  # no key-encryption key (data of a Coffer from before secrets were sealed)
        cipher = None
    store = open_store(settings.database_url, cipher, read_only=True)
    try:
        account_id = default_account(store, settings.account_id, create=False)
    except NoDataError:
        store.close()
        raise _no_data(f"no Coffer data in {_shown_url(settings)}") from None
    except BaseException:
        store.close()
        raise
    blobs = FileBlobStore(data.blobs, read_only=True)
    return Bootstrapped(store=store, account_id=account_id, data=data, blobs=blobs, read_only=True)


def _open_writable(settings: Settings, data: DataDir, create: bool) -> Bootstrapped:
    keyfiles.ensure_key(data.keys, system_clock())
    secrets.ensure_encryption_key(data.encryption_keys, system_clock())
    store = open_store(settings.database_url, secrets.SecretCipher.from_directory(data.encryption_keys))
    try:
        store.reseal_secrets()  # rows from before secrets were sealed, or sealed by a retired key
        try:
            account_id = default_account(store, settings.account_id, create=create)
        except NoDataError:  # an empty database (PostgreSQL) given to a command other than serve
            raise _no_data(f"no Coffer data in {_shown_url(settings)}") from None
        iam = IamService(
            store, IdentityService(store, system_clock), Authorizer(system_clock, settings.region), system_clock
        )
        iam.ensure_aws_managed_policies()  # AWS's managed policies, created or updated
        new_key = iam.bootstrap_admin(account_id)
        if new_key is None and not data.credentials.exists():
            # A new data directory on an existing database: write the admin's key we already have.
            root = root_caller(account_id, "")
            new_key = next((k for k in iam.list_access_keys(root, ADMIN_USER) if k.status == "Active"), None)
        if new_key is not None:
            write_credentials_profile(data.credentials, "default", new_key)
        # STS sessions that ended more than the longest token lifetime ago: no token minted from them can still
        # be valid (tokens act for their session and need its row until they expire).
        store.delete_expired_sessions(system_clock() - MAX_SESSION_SECONDS)
    except BaseException:
        store.close()
        raise
    blobs = FileBlobStore(data.blobs)
    blobs.sweep()  # leftovers of uploads interrupted by a crash (never a file a live writer holds)
    return Bootstrapped(store=store, account_id=account_id, data=data, blobs=blobs)


def rotate_encryption_key(boot: Bootstrapped) -> tuple[str, int]:
    """A new key-encryption key, and every secret in the database re-sealed with it: (key id, rows re-sealed).
    Older keys stay on disk (a server that has not re-read the directory yet may still be opening with them)."""
    key = secrets.rotate_encryption_key(boot.data.encryption_keys, system_clock())
    store = boot.store
    if not isinstance(store, SqlStore):
        raise BootstrapError("this store does not seal secrets")
    store.cipher_refresh()
    return key.key_id, store.reseal_secrets()
