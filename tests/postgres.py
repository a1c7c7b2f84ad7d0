"""The PostgreSQL server the tests may use: ``COFFER_TEST_POSTGRES_URL``. Without it a test skips, unless
``COFFER_REQUIRE_POSTGRES`` is set (as in CI), where it fails instead."""

from __future__ import annotations

import os

import pytest

POSTGRES_ENV = "COFFER_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "COFFER_REQUIRE_POSTGRES"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = (
            f"PostgreSQL backend not tested: set {POSTGRES_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) to run it"
        )
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {reason}")
        pytest.skip(reason)
    return url
