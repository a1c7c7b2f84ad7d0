"""Engines for the two supported backends: SQLite (embedded default) and PostgreSQL (psycopg 3).

SQLite transactions follow SQLAlchemy's documented recipe for pysqlite: the driver's own (legacy) BEGIN
handling is switched off (``isolation_level = None``) and a ``begin`` event emits ``BEGIN`` itself, so
every statement of a transaction, SELECTs and DDL included, runs inside it. Connections opened through
``writer(engine)`` emit ``BEGIN IMMEDIATE`` instead: the write lock is taken up front (waiting up to
``busy_timeout``), so a read-then-write transaction never fails half-way with SQLITE_BUSY when another
connection commits in between. On PostgreSQL the option is ignored.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

BEGIN_OPTION: Final = "coffer_sqlite_begin"
"""Execution option naming how a SQLite transaction begins: ``DEFERRED`` (default) or ``IMMEDIATE``."""

SQLITE_BUSY_TIMEOUT_MS: Final = 5000

_BEGIN_STATEMENTS: Final = {"DEFERRED": "BEGIN", "IMMEDIATE": "BEGIN IMMEDIATE"}


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


def create_engine_for(url: str) -> Engine:
    """An engine configured for Coffer's use from a thread pool (see the module doc)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
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


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=10,
        max_overflow=20,
        pool_timeout=30,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # hand transaction control to the "begin" hook below
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
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
