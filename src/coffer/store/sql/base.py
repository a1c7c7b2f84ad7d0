"""``SqlBase``: what every part of ``SqlStore`` builds on: the engine, one transaction per public method
(``_read``, ``_write``), the translation of constraint violations, opaque page keys and one row mapper.

Every public method is one transaction, or joins the read transaction of ``snapshot()`` under way. Writes go
through ``writer(engine)`` (``BEGIN IMMEDIATE`` on SQLite). Invariants that concurrent writers could break between
a check and a write are also enforced by the schema (unique keys, foreign keys); the resulting ``IntegrityError``
is translated into the same ``ConflictError``/``ResourceNotFoundError`` the explicit check would have raised
(``violation`` tells which constraint failed).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, Literal, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Insert, Table, and_, func
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError

from coffer.core.shared.blocking import may_block
from coffer.core.shared.errors import ValidationError
from coffer.store.engine import writer
from coffer.store.secrets import SecretCipher

_REVISION_BYTES: Final = 18

Violation = Literal["unique", "foreign_key", "other"]

T = TypeVar("T")

# The read transaction of ``SqlBase.snapshot()`` under way in this context (a request's thread), with its engine.
_SNAPSHOT: ContextVar[tuple[Engine, Connection] | None] = ContextVar("coffer_read_snapshot", default=None)


def violation(exc: IntegrityError) -> Violation:
    """Which kind of constraint an ``IntegrityError`` reports, on either backend."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate == "23505":
        return "unique"
    if sqlstate == "23503":
        return "foreign_key"
    name = getattr(orig, "sqlite_errorname", "") or ""
    message = str(orig)
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY") or "UNIQUE constraint" in message:
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY" or "FOREIGN KEY constraint" in message:
        return "foreign_key"
    return "other"


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def from_row(cls: type[T], row: Any, **given: Any) -> T:
    """The dataclass ``cls`` with each field taken from the row's column of that name, unless ``given``
    (fields that are neither keep their defaults)."""
    mapping = row._mapping
    values = {name: mapping[name] for name in _field_names(cls) if name not in given and name in mapping}
    return cls(**values, **given)


def row_values(obj: Any, table: Table, **given: Any) -> dict[str, Any]:
    """The columns of ``table`` from the same-named fields of the dataclass ``obj``, and ``given``."""
    values = {name: getattr(obj, name) for name in _field_names(type(obj)) if name in table.c and name not in given}
    return {**values, **given}


def encode_key(parts: Sequence[str]) -> str:
    """An opaque page key (``next_key``/``after``) holding ``parts``."""
    raw = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_key(token: str, arity: int) -> list[str]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("The pagination token is invalid") from exc
    if not (isinstance(parts, list) and len(parts) == arity and all(isinstance(p, str) for p in parts)):
        raise ValidationError("The pagination token is invalid")
    return parts


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValidationError(f"The page size must be at least 1, not {limit}")


def new_revision() -> str:
    return secrets.token_urlsafe(_REVISION_BYTES)


def starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, case-sensitively on both backends. LIKE (with ``%``/``_``
    escaped) can use an index; SQLite's LIKE ignores ASCII case, so the exact ``substr`` test decides."""
    return and_(
        column.startswith(prefix, autoescape=True),
        func.substr(column, 1, len(prefix)) == prefix,
    )


class SqlBase:
    """The engine, the transactions and the dialect's INSERT of every ``SqlStore`` part."""

    def __init__(self, engine: Engine, cipher: SecretCipher | None = None) -> None:
        self._engine = engine
        self._cipher = cipher
        self._writer = writer(engine)
        postgres = engine.dialect.name == "postgresql"
        # reads that take several statements see one snapshot (SQLite's BEGIN already gives one);
        # read-only REPEATABLE READ transactions never fail with serialization errors on PostgreSQL
        self._reader = engine.execution_options(isolation_level="REPEATABLE READ") if postgres else engine
        self._insert: Any = pg_dialect.insert if postgres else sqlite_dialect.insert

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        held = _SNAPSHOT.get()
        if held is not None and held[0] is self._engine:
            yield held[1]  # inside snapshot(): its transaction
            return
        may_block()  # a request tried on the event loop goes to a worker thread (coffer.core.shared.blocking)
        with self._reader.begin() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read of this store inside is one read transaction: one connection, one consistent snapshot
        (SQLite's deferred BEGIN, PostgreSQL's REPEATABLE READ), one BEGIN and COMMIT for what would be many.
        Writes inside still take their own transaction (and are not seen by the snapshot): keep them out, as
        anything slow (an upstream request), which would hold the connection. Nested calls join the outer one."""
        held = _SNAPSHOT.get()
        if held is not None and held[0] is self._engine:
            yield
            return
        may_block()
        with self._reader.begin() as conn:
            token = _SNAPSHOT.set((self._engine, conn))
            try:
                yield
            finally:
                _SNAPSHOT.reset(token)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        may_block()
        with self._writer.begin() as conn:
            yield conn

    def _upsert(self, table: Table, values: Sequence[Mapping[str, Any]], update_columns: Sequence[str]) -> Insert:
        """INSERT of rows ... ON CONFLICT (primary key) DO UPDATE, in either dialect."""
        stmt = self._insert(table).values(list(values))
        return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[c.name for c in table.primary_key.columns],
            set_={name: stmt.excluded[name] for name in update_columns},
        )

    def _seal_secret(self, value: str, context: str) -> str:
        return value if self._cipher is None else self._cipher.seal(value, context)

    def _open_secret(self, stored: str, context: str) -> str:
        return stored if self._cipher is None else self._cipher.open(stored, context)
