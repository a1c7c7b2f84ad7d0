"""The ASGI factory reads every setting `coffer serve` takes from the environment, the same way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coffer.app.asgi import settings_from_env
from coffer.cli.serve import serve
from coffer.settings import Settings

SAMPLES = {
    "COFFER_HOST": "0.0.0.0",
    "COFFER_PORT": "6123",
    "COFFER_DATA_DIR": "/srv/coffer-data",
    "COFFER_REGION": "eu-west-1",
    "COFFER_ACCOUNT_ID": "444455556666",
    "COFFER_PUBLIC_URL": "https://coffer.example.com",
    "COFFER_DB_URL": "postgresql://coffer@db/coffer",
    "COFFER_ENDPOINT_DNS_SUFFIX": "coffer.example.com",
    "COFFER_ACCESS_LOG": "0",
    "COFFER_LOG_FORMAT": "json",
}


def test_every_serve_setting_is_read_by_the_asgi_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    by_field = {p.name: p.envvar for p in serve.params if p.envvar and p.name in fields}
    assert set(by_field.values()) == set(SAMPLES), "a new serve option needs a sample here"
    for name, value in SAMPLES.items():
        monkeypatch.setenv(name, value)
    ctx = serve.make_context("serve", [])
    from_env = settings_from_env()
    for field, envvar in by_field.items():
        expected = ctx.params[field]
        got = getattr(from_env, field)
        if isinstance(got, Path):
            expected = Path(expected)
        assert got == expected, f"{envvar}: serve reads {expected!r}, coffer.app.asgi reads {got!r}"
