"""The migrations' modules (each with the frozen tables it creates) are imported only when a database needs them:
a store opened on a database at the latest version, as on every start but the first, imports none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coffer.store.migrations.runner import LATEST_VERSION, MIGRATIONS

CHECK = """
import sys
from coffer.store.sql_store import open_store
store = open_store({url!r})
store.close()
print(sorted(m for m in sys.modules if m.startswith("coffer.store.migrations.m0")))
"""


def _imported_on_open(url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(url=url)], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip()


def test_a_database_at_the_latest_version_imports_no_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coffer.db'}"
    first = _imported_on_open(url)  # a new database: every migration runs
    assert first.count("coffer.store.migrations.m0") == LATEST_VERSION, first
    assert _imported_on_open(url) == "[]"


def test_the_migrations_are_the_modules_in_order() -> None:
    assert len(MIGRATIONS) == LATEST_VERSION
    names = [f.__module__.rsplit(".", 1)[1] for f in MIGRATIONS]
    assert names == sorted(names) and all(n.startswith(f"m{i:04d}_") for i, n in enumerate(names, 1))
    assert MIGRATIONS[-1] is MIGRATIONS[LATEST_VERSION - 1]
    assert list(MIGRATIONS[1:3]) == [MIGRATIONS[1], MIGRATIONS[2]]
