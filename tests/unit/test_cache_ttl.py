"""COFFER_CACHE_TTL: how long a server's caches of keys, policies and resources live (test servers run with 0)."""

from __future__ import annotations

import pytest

from coffer.settings import DEFAULT_CACHE_TTL, Settings, SettingsError


@pytest.mark.parametrize(
    ("raw", "seconds"), [("", DEFAULT_CACHE_TTL), (" ", DEFAULT_CACHE_TTL), ("0", 0.0), ("2.5", 2.5)]
)
def test_cache_ttl_from_env(raw: str, seconds: float) -> None:
    assert Settings.from_env({"COFFER_CACHE_TTL": raw}).cache_ttl == seconds
    assert Settings.from_env({}).cache_ttl == DEFAULT_CACHE_TTL == 1.0


@pytest.mark.parametrize("raw", ["-1", "soon", "inf", "nan"])
def test_a_cache_ttl_that_is_no_number_of_seconds_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"COFFER_CACHE_TTL": raw})
    assert str(err.value) == f"COFFER_CACHE_TTL must be a number of seconds (0 or more), got {raw!r}"
