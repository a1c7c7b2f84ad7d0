"""What every test directory shares: the store and the clock of the tests that build core's services, and
PostgreSQL checked once per run (``tests.postgres``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffer.store.sql_store import SqlStore, open_store
from tests.postgres import postgres_required, postgres_unavailable


class Ticker:
    """A clock that advances one second per reading: the order of events is observable and deterministic."""

    def __init__(self, start: int = 1_700_000_000) -> None:
        self._count = itertools.count(start)

    def __call__(self) -> float:
        return float(next(self._count))


class ManualClock:
    """A clock that stands still until a test moves it (``clock.now += 1.5``)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh SqlStore on a SQLite file in ``tmp_path`` (migrations applied), closed afterwards. The contract
    suite (tests/contract) has its own, over every backend."""
    s = open_store(f"sqlite:///{tmp_path / 'coffer.db'}")
    yield s
    s.close()


def needs_postgres(item: pytest.Item) -> bool:
    """Marked ``postgres``, or the ``postgresql`` case of a test parametrized over the store's backends."""
    callspec = getattr(item, "callspec", None)
    return item.get_closest_marker("postgres") is not None or (
        callspec is not None and callspec.params.get("db_url") == "postgresql"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server (and unless it is required) its tests are left out, said once, not skipped
    one by one."""
    wanted = [item for item in items if needs_postgres(item)]
    if not wanted or postgres_required() or (reason := postgres_unavailable()) is None:
        return
    config.hook.pytest_deselected(items=wanted)
    items[:] = [item for item in items if not needs_postgres(item)]
    config.stash[_LEFT_OUT] = f"{reason} ({len(wanted)} tests left out)"


_LEFT_OUT = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    left_out = config.stash.get(_LEFT_OUT, None)
    if left_out:
        terminalreporter.write_line(left_out, yellow=True)
