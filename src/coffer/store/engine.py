"""Engines for the two supported backends: SQLite (embedded default) and PostgreSQL (psycopg 3).

SQLite transactions follow SQLAlchemy's documented recipe for pysqlite: the driver's own (legacy) BEGIN
handling is switched off (``isolation_level = None``) and a ``begin`` event emits ``BEGIN`` itself, so
every statement of a transaction, SELECTs and DDL included, runs inside it. Connections opened through
``writer(engine)`` emit ``BEGIN IMMEDIATE`` instead: the write lock is taken up front (waiting up to
``busy_timeout``), so a read-then-write transaction never fails half-way with SQLITE_BUSY when another
connection commits in between. On PostgreSQL the option is ignored.

Files: a SQLite database Coffer creates is 0600 (SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the
database file's mode), and existing ones of this user lose any group or other permission when opened.
``read_only=True`` opens a SQLite database without writing anything, also on a read-only filesystem: ``mode=ro``
(which reads the write-ahead log when its ``-shm`` exists), else, when there is no write-ahead log to read,
``immutable=1``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from coffer.atomic_files import PRIVATE_FILE_MODE, tighten_mode

BEGIN_OPTION: Final = "coffer_sqlite_begin"
"""Execution option naming how a SQLite transaction begins: ``DEFERRED`` (default) or ``IMMEDIATE``."""

SQLITE_BUSY_TIMEOUT_MS: Final = 5000

_BEGIN_STATEMENTS: Final = {"DEFERRED": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE"}

SQLITE_SIDE_FILES: Final = ("-wal", "-shm", "-journal")
"""The files SQLite keeps next to a database (write-ahead log, its shared-memory index, rollback journal)."""


class ReadOnlyOpenError(RuntimeError):
    """A SQLite database cannot be opened without writing (read-only filesystem and an unreadable log)."""


def sqlite_url_for(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a SQLite database file at ``path`` (made absolute)."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def normalize_url(url: str) -> URL:
    """Parse ``url`` and pin the driver: ``postgres://`` and ``postgresql://`` become
    ``postgresql+psycopg://``; ``sqlite:///path`` stays pysqlite. ValueError for anything else."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise ValueError(f"Unsupported PostgreSQL driver {driver!r}: Coffer uses psycopg (3)")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ValueError(f"Unsupported SQLite driver {driver!r}")
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            raise ValueError(
                "In-memory SQLite is not supported (each pooled connection would see its own "
                "empty database); use a file, e.g. sqlite:////tmp/coffer.db"
            )
        return parsed.set(drivername="sqlite+pysqlite")
    raise ValueError(f"Unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://")


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, None for other backends."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def secure_sqlite_files(path: Path) -> None:
    """Create the database file 0600 when absent (before SQLite creates it with 0644 and gives the same mode to
    its side files) and take group/other permissions off the database and side files that exist."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    except OSError:  # there already, or its directory is missing or unwritable: SQLite will say so on connect
        pass
    else:
        # (an fd of our own is only ever opened on a file that did not exist: closing an fd drops every POSIX
        # lock this process holds on the file, SQLite's included)
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        finally:
            os.close(fd)
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        with contextlib.suppress(OSError):  # e.g. a read-only filesystem: nothing can be changed there
            tighten_mode(candidate, PRIVATE_FILE_MODE)


def create_engine_for(url: str, *, read_only: bool = False) -> Engine:
    """An engine configured for Coffer's use from a thread pool (see the module doc). ``read_only`` (SQLite):
    open without writing anything, see the module doc; ``ReadOnlyOpenError`` if that is impossible."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, read_only)
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=30,
        pool_recycle=1800,
        connect_args={"connect_timeout": 10},
    )


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose SQLite transactions begin IMMEDIATE."""
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL (persistent, so usually already on). Switching needs a moment of exclusive access, and
    SQLite answers "database is locked" at once instead of waiting when another process is starting too:
    retry for up to the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _read_only_connect(path: Path) -> Callable[[], sqlite3.Connection]:
    """A connection factory that opens ``path`` without writing: ``mode=ro`` if that can read the database,
    else ``immutable=1`` when there is no write-ahead log that immutable mode would ignore."""
    uri = "file:" + urllib.parse.quote(str(path), safe="/")
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000

    def connect(query: str) -> sqlite3.Connection:
        return sqlite3.connect(f"{uri}?{query}", uri=True, check_same_thread=False, timeout=timeout)

    if not path.is_file():
        raise ReadOnlyOpenError(f"no database file at {path}")
    try:
        probe = connect("mode=ro")
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
        query = "mode=ro"
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ReadOnlyOpenError(
                f"cannot read {path} without writing: its write-ahead log needs {path}-shm ({exc})"
            ) from exc
        query = "immutable=1"
    return lambda: connect(query)


def _sqlite_engine(url: URL, read_only: bool = False) -> Engine:
    path = Path(url.database or "")
    options: dict[str, Any] = {}
    if read_only:
        options["creator"] = _read_only_connect(path)
    else:
        secure_sqlite_files(path)
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=10,
        max_overflow=20,
        pool_timeout=30,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **options,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # hand transaction control to the "begin" hook below
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
                return
            _enable_wal(cursor)
            # in WAL mode NORMAL loses no committed transaction when the process is killed (only, perhaps,
            # the last ones on power loss) and never corrupts the database
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode: Any = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(_BEGIN_STATEMENTS[mode])

    return engine
