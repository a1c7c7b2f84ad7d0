"""The PostgreSQL server the tests may use: ``COFFER_TEST_POSTGRES_URL``.

Checked once per run (``postgres_unavailable``): without the variable, or with a server that does not answer, the
tests that need PostgreSQL are left out of the run with one line saying why (``tests/conftest.py``), unless
``COFFER_REQUIRE_POSTGRES`` is set (as in CI), where each of them fails instead."""

from __future__ import annotations

import functools
import os

import pytest

POSTGRES_ENV = "COFFER_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "COFFER_REQUIRE_POSTGRES"


def postgres_required() -> bool:
    return bool(os.environ.get(REQUIRE_POSTGRES_ENV))


@functools.cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be tested here (None: it can). Asked once: connects to the server."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return (
            f"PostgreSQL backend not tested: set {POSTGRES_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) to run it"
        )
    import psycopg

    try:
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"PostgreSQL backend not tested: {POSTGRES_ENV} does not answer ({str(exc).strip()})"
    return None


def postgres_base_url() -> str:
    """The server's URL; fails the test (``COFFER_REQUIRE_POSTGRES``) or skips it when it cannot be had."""
    reason = postgres_unavailable()
    if reason is not None:
        if postgres_required():
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {reason}")
        pytest.skip(reason)
    return os.environ[POSTGRES_ENV]
