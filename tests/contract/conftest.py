"""Backends for the Store contract suite: the one store fixture of every contract file.

``db_url`` is parametrized over ``sqlite`` (a file in tmp_path, always) and ``postgresql`` (a fresh
schema per test on the server named by ``COFFER_TEST_POSTGRES_URL``, dropped afterwards). Without that
variable the PostgreSQL half is skipped once per run (one test reports the skip, the others are
deselected), unless ``COFFER_REQUIRE_POSTGRES`` is set, as in CI, where every one of them fails instead.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

try:
    import coffer  # noqa: F401
except ImportError:  # not installed in the venv: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from coffer.store.engine import normalize_url, sqlite_url_for
from coffer.store.sql_store import SqlStore, open_store
from tests.postgres import postgres_base_url


def _postgres_skipped() -> bool:
    """True when the PostgreSQL backend is to be skipped (``postgres_base_url`` skips; failing is not skipping)."""
    try:
        postgres_base_url()
    except pytest.skip.Exception:
        return True
    except pytest.fail.Exception:
        return False
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL, keep one of its tests (which reports the skip and why) and deselect the rest."""
    if not _postgres_skipped():
        return
    here = Path(__file__).parent
    postgres = [
        item
        for item in items
        if here in item.path.parents
        and getattr(item, "callspec", None)
        and item.callspec.params.get("db_url") == "postgresql"
    ]
    if len(postgres) > 1:
        config.hook.pytest_deselected(items=postgres[1:])
        dropped = {id(item) for item in postgres[1:]}
        items[:] = [item for item in items if id(item) not in dropped]


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server named by ``COFFER_TEST_POSTGRES_URL``."""
    engine = create_engine(normalize_url(postgres_base_url()), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on the backend under test.

    On PostgreSQL that is a fresh schema (CREATE SCHEMA is much faster than CREATE DATABASE) that the
    URL puts alone on the ``search_path``; it is dropped with everything in it afterwards.
    """
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "coffer.db")
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema = f"coffer_t_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def stores(db_url: str) -> Iterator[Callable[[], SqlStore]]:
    """Opens stores on ``db_url`` (migrations applied); closes them all at teardown."""
    opened: list[SqlStore] = []

    def open_one() -> SqlStore:
        store = open_store(db_url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(stores: Callable[[], SqlStore]) -> SqlStore:
    return stores()
