"""Where external connections point: the serve flag (repeatable), the variable, and the checks on both."""

from __future__ import annotations

import click
import pytest

from coffer.cli.context import CofferSettingsError
from coffer.cli.options import typed_options
from coffer.cli.serve import serve, serve_settings
from coffer.core.codeartifact.external_connections import DEFAULT_CONNECTION_URLS, EXTERNAL_CONNECTIONS
from coffer.settings import Settings, SettingsError
from coffer.upstreams import HttpUpstreams, UnknownConnectionError, connection_urls


def _serve(args: list[str]) -> Settings:
    ctx = serve.make_context("serve", args)
    return serve_settings(typed_options(ctx, {k: v for k, v in ctx.params.items() if k != "background"}))


def test_the_flag_is_repeatable_and_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFER_EXTERNAL_CONNECTION_URLS", "public:pypi=http://env.invalid/simple")
    assert Settings.from_env().external_connection_urls == (("public:pypi", "http://env.invalid/simple/"),)
    typed = _serve(
        [
            "--external-connection-url", "public:pypi=http://127.0.0.1:3141/root/pypi/+simple/",
            "--external-connection-url", "public:npmjs=https://npm.example.com",
        ]
    )  # fmt: skip
    assert dict(typed.external_connection_urls) == {
        "public:pypi": "http://127.0.0.1:3141/root/pypi/+simple/",
        "public:npmjs": "https://npm.example.com/",
    }
    # what --background hands the child reads back to the same settings
    env = typed.as_env(frozenset({"external_connection_urls"}))
    assert Settings.from_env(env).external_connection_urls == typed.external_connection_urls


def test_unset_connections_point_at_the_public_registries() -> None:
    urls = connection_urls((("public:pypi", "http://mirror.invalid/simple/"),))
    assert urls["public:pypi"] == "http://mirror.invalid/simple/"
    assert urls["public:npmjs"] == DEFAULT_CONNECTION_URLS["public:npmjs"] == "https://registry.npmjs.org/"
    assert set(urls) == set(EXTERNAL_CONNECTIONS)
    registry = HttpUpstreams(urls, timeout=1)
    pypi = registry.index("public:pypi")
    assert pypi is not None and pypi.connection == "public:pypi"
    assert registry.index("public:maven-central") is None  # accepted by the API, fetches nothing yet


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("public:pypi", "expected NAME=URL"),
        ("public:pypi=ftp://mirror/simple/", "http:// or https://"),
        ("pypi=http://mirror/simple/", "not an external connection name"),
        ("public:pypi=https://user:hunter2@/simple/", "http:// or https://"),
    ],
)
def test_bad_pairs_are_refused_without_showing_credentials(pair: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        Settings.from_env({"COFFER_EXTERNAL_CONNECTION_URLS": pair})
    assert "hunter2" not in str(err.value)
    with pytest.raises(CofferSettingsError, match=message):
        _serve(["--external-connection-url", pair])


def test_a_name_that_is_not_one_of_the_ten_is_refused_by_serve() -> None:
    with pytest.raises(CofferSettingsError, match="public:pypi, public:ruby-gems-org"):
        _serve(["--external-connection-url", "public:pip=http://mirror.invalid/simple/"])
    with pytest.raises(UnknownConnectionError):
        connection_urls((("public:pip", "http://mirror.invalid/simple/"),))
    assert isinstance(CofferSettingsError("x"), click.ClickException)


def test_timeouts_and_ttl_are_checked() -> None:
    with pytest.raises(SettingsError, match="COFFER_UPSTREAM_TIMEOUT"):
        Settings.from_env({"COFFER_UPSTREAM_TIMEOUT": "soon"})
    with pytest.raises(SettingsError, match="upstream timeout"):
        Settings(upstream_timeout=0)
    assert Settings.from_env({"COFFER_UPSTREAM_TTL": "0"}).upstream_ttl == 0
