"""Settings are built in one place, ``Settings.from_env``: ``coffer serve`` (with what was typed winning), the other
commands (their data options only) and the ASGI factory read every ``COFFER_*`` variable the same way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest

from coffer.cli.options import typed_options
from coffer.cli.serve import serve, serve_settings
from coffer.settings import DATA_FIELDS, ENV_VARS, HttpLimits, Settings, SettingsError

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
    "COFFER_LOG_FORMAT": "JSON",
    "COFFER_GC_INTERVAL": "60",
    "COFFER_GC_GRACE": "120.5",
    "COFFER_MAX_UPLOAD_BYTES": "1048576",
    "COFFER_CACHE_TTL": "0",
    "COFFER_MAX_CONNECTIONS": "64",
    "COFFER_EXTERNAL_CONNECTION_URLS": "public:pypi=http://127.0.0.1:3141/root/pypi/+simple/",
    "COFFER_UPSTREAM_TTL": "30",
    "COFFER_UPSTREAM_TIMEOUT": "2.5",
    "COFFER_WORKERS": "7",  # more than any default (at most 4)
}


def _serve_settings(args: list[str]) -> Settings:
    ctx = serve.make_context("serve", args)
    options = {k: v for k, v in ctx.params.items() if k != "background"}
    return serve_settings(typed_options(ctx, options))


def test_every_variable_is_read_and_every_field_has_one() -> None:
    default = Settings()
    got = Settings.from_env(SAMPLES)
    fields = {f.name for f in dataclasses.fields(Settings)} - {"http_limits"}
    assert set(ENV_VARS) == fields, "a new Settings field needs its variable in ENV_VARS"
    assert set(ENV_VARS.values()) <= set(SAMPLES), "a new variable needs a sample here"
    for name in fields:
        assert getattr(got, name) != getattr(default, name), f"{ENV_VARS[name]} is not read"
    assert got.log_format == "json" and got.data_dir == Path("/srv/coffer-data") and got.access_log is False
    assert got.http_limits == dataclasses.replace(HttpLimits(), max_connections=64)


def test_serve_reads_the_environment_as_the_asgi_factory_does(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SAMPLES.items():
        monkeypatch.setenv(name, value)
    assert _serve_settings([]) == Settings.from_env()


def test_what_is_typed_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SAMPLES.items():
        monkeypatch.setenv(name, value)
    typed = _serve_settings(["--port", "7000", "--access-log", "--log-format", "text", "--data-dir", "/d"])
    assert (typed.port, typed.access_log, typed.log_format, typed.data_dir) == (7000, True, "text", Path("/d"))
    assert typed.region == "eu-west-1"  # not typed: the environment's


def test_every_serve_option_names_its_variable_in_its_help() -> None:
    for param in serve.params:
        if param.name in ENV_VARS:
            assert isinstance(param, click.Option) and param.help is not None
            assert f"[{ENV_VARS[param.name]}]" in param.help, param.name
            assert param.envvar is None, f"{param.name}: the variable is read by Settings.from_env, not click"


def test_a_bad_variable_is_refused_naming_it() -> None:
    for name, value in (("COFFER_PORT", "http"), ("COFFER_GC_GRACE", "-1"), ("COFFER_MAX_UPLOAD_BYTES", "0")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})
    with pytest.raises(SettingsError, match="region"):
        Settings.from_env({"COFFER_REGION": "mars"})


def test_commands_that_do_not_serve_read_only_the_data_variables() -> None:
    env = {"COFFER_GC_GRACE": "soon", "COFFER_MAX_CONNECTIONS": "0", "COFFER_REGION": "eu-west-1"}
    assert Settings.from_env(env, only=DATA_FIELDS).region == "eu-west-1"


def test_the_background_child_reads_back_what_was_typed() -> None:
    typed = Settings.from_env(SAMPLES)
    names = frozenset({"port", "access_log", "gc_grace", "data_dir", "endpoint_dns_suffix"})
    again = Settings.from_env(typed.as_env(names))
    for name in names:
        assert getattr(again, name) == getattr(typed, name), name
