"""Which index hosts the keyring backend hands a token to when the API endpoint comes from the environment."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import coffer.login
from coffer.login import IssuedToken, index_host, parse_pypi_url
from coffer.login.keyring_backend import CofferKeyring, _host_suffixes, endpoint_vouches_for

DO = "acme-111122223333"
ENDPOINT = "http://127.0.0.1:5080"
SUFFIXES = ("coffer.localhost", "coffer.example.com")


@pytest.mark.parametrize(
    "index",
    [
        # the endpoint's own host and port
        f"http://127.0.0.1:5080/pypi/d/{DO}/internal/simple/",
        f"http://aws@127.0.0.1:5080/base/pypi/d/{DO}/internal/simple/pkg/",
        f"https://127.0.0.1:5080/pypi/d/{DO}/internal/",  # another scheme, same host and port: the same server
        # AWS's own repository hosts (the AWS flow; the keyrings.codeartifact setup with a hosts-file entry)
        f"https://{DO}.d.codeartifact.us-east-1.amazonaws.com/pypi/internal/simple/",
        f"http://{DO}.d.codeartifact.us-east-1.amazonaws.com:5080/pypi/internal/simple/",
        f"https://{DO}.d.codeartifact.cn-north-1.amazonaws.com.cn/pypi/internal/simple/",
        f"https://vpce-0743fe535b883ffff-76ddffff.d.codeartifact.us-west-2.vpce.amazonaws.com/pypi/d/{DO}/internal/",
        # at or under a listed suffix, whatever the port
        f"http://{DO}.d.codeartifact.us-east-1.coffer.localhost:5080/pypi/internal/simple/",
        f"https://{DO}.d.codeartifact.eu-west-1.coffer.example.com/pypi/internal/simple/",
        f"https://coffer.example.com/pypi/d/{DO}/internal/simple/",
        f"https://packages.coffer.example.com/pypi/d/{DO}/internal/simple/",
        f"https://PACKAGES.Coffer.Example.COM/pypi/d/{DO}/internal/simple/",  # host names are case-insensitive
    ],
)
def test_vouched_for(index: str) -> None:
    assert parse_pypi_url(index) is not None
    assert endpoint_vouches_for(ENDPOINT, index, SUFFIXES)


@pytest.mark.parametrize(
    "index",
    [
        # the finding: an index host the endpoint knows nothing about
        f"https://{DO}.d.codeartifact.us-east-1.evil.example/pypi/internal/simple/",
        f"http://evil.example/pypi/d/{DO}/internal/",
        # same host, another port (another server); localhost is not 127.0.0.1 (compared as written)
        f"http://127.0.0.1:5081/pypi/d/{DO}/internal/simple/",
        f"http://127.0.0.1/pypi/d/{DO}/internal/simple/",
        f"http://localhost:5080/pypi/d/{DO}/internal/simple/",
        # amazonaws.com names that are not CodeArtifact repository hosts (API Gateway, S3: anyone's)
        f"https://abc123.execute-api.us-east-1.amazonaws.com/pypi/d/{DO}/internal/simple/",
        f"https://bucket.s3.amazonaws.com/pypi/d/{DO}/internal/simple/",
        f"https://{DO}.d.codeartifact.us-east-1.amazonaws.com.evil.example/pypi/internal/simple/",
        f"https://{DO}.d.codeartifact.us-east-1.amazonaws.com./pypi/internal/simple/",
        # a suffix is matched by whole labels
        f"https://{DO}.d.codeartifact.us-east-1.evilcoffer.localhost/pypi/internal/simple/",
        f"https://coffer.localhost.evil.example/pypi/d/{DO}/internal/simple/",
        # the trusted name only in the userinfo, or behind a backslash (urllib3 reads the host before it)
        f"http://127.0.0.1:5080@evil.example/pypi/d/{DO}/internal/simple/",
        f"http://evil.example\\@127.0.0.1:5080/pypi/d/{DO}/internal/simple/",
        f"http://evil.example\\.coffer.localhost/pypi/d/{DO}/internal/simple/",
        # not plain DNS characters: percent-encoding, other scripts, whitespace
        f"http://evil.example%2f.coffer.localhost/pypi/d/{DO}/internal/simple/",
        f"http://evil.example\u3002coffer.localhost/pypi/d/{DO}/internal/simple/",
        f"http://evil.example .coffer.localhost/pypi/d/{DO}/internal/simple/",
        f"http://evil.example\t@127.0.0.1:5080/pypi/d/{DO}/internal/simple/",
    ],
)
def test_not_vouched_for(index: str) -> None:
    assert not endpoint_vouches_for(ENDPOINT, index, SUFFIXES)


def test_default_ports_and_ipv6() -> None:
    index = f"https://coffer.internal:443/pypi/d/{DO}/internal/simple/"
    assert endpoint_vouches_for("https://coffer.internal", index, ())
    assert endpoint_vouches_for("https://coffer.internal:443/", index.replace(":443", ""), ())
    assert not endpoint_vouches_for("http://coffer.internal", index, ())  # port 80 against 443
    assert endpoint_vouches_for("http://[::1]:5080", f"http://[::1]:5080/pypi/d/{DO}/internal/", ())
    assert not endpoint_vouches_for("http://[::1]:5080", f"http://[::2]:5080/pypi/d/{DO}/internal/", ())
    assert not endpoint_vouches_for("not an endpoint", f"http://evil.example/pypi/d/{DO}/internal/", ())


def test_no_suffixes_no_suffix_matches() -> None:
    index = f"http://{DO}.d.codeartifact.us-east-1.coffer.localhost:5080/pypi/internal/simple/"
    assert not endpoint_vouches_for(ENDPOINT, index, ())
    assert endpoint_vouches_for(ENDPOINT, index, ("coffer.localhost",))


def test_host_suffixes_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COFFER_KEYRING_HOST_SUFFIXES", raising=False)
    assert _host_suffixes() == ()
    monkeypatch.setenv("COFFER_KEYRING_HOST_SUFFIXES", " coffer.localhost, .Coffer.Example.com. ,, ")
    assert _host_suffixes() == ("coffer.localhost", "coffer.example.com")


@given(st.text(alphabet="ae1270.:58@\\/%#?[] \t", max_size=40) | st.text(max_size=40))
def test_a_vouched_for_url_names_the_endpoint_host_or_an_aws_host(rest: str) -> None:
    for url in (f"http://{rest}", f"http://127.0.0.1:5080{rest}", f"http://{rest}/pypi/d/{DO}/internal/"):
        if endpoint_vouches_for(ENDPOINT, url, ()):
            host = index_host(url)
            assert host == "127.0.0.1" or (host is not None and ".d.codeartifact." in host)


def test_parse_pypi_url_reads_aws_only_from_aws_repository_hosts() -> None:
    vpce = parse_pypi_url(f"https://vpce-1-a.d.codeartifact.us-west-2.vpce.amazonaws.com/pypi/d/{DO}/internal/")
    assert vpce is not None and (vpce.api_endpoint, vpce.region) == (None, "us-west-2")
    # any other amazonaws.com host is somebody's server: its own API, not AWS's (no AWS token goes to it)
    gw = parse_pypi_url(f"https://abc.execute-api.us-east-1.amazonaws.com/pypi/d/{DO}/internal/simple/")
    assert gw is not None and gw.api_endpoint == "https://abc.execute-api.us-east-1.amazonaws.com"
    for odd in (
        f"http://evil.example\\@127.0.0.1:5080/pypi/d/{DO}/internal/simple/",
        f"http://127.0.0.1:5080/pypi/d/{DO}/internal/simple/ x",
        f"http://h\u00e9.example/pypi/d/{DO}/internal/simple/",
        f"http://127.0.0.1:99999/pypi/d/{DO}/internal/simple/",
    ):
        assert parse_pypi_url(odd) is None


# ---------------------------------------------------------------------------------------------------------------------
# the backend: a refused host never reaches the API


class _Calls:
    def __init__(self) -> None:
        self.endpoints: list[str | None] = []

    def make_client(self, endpoint: str | None, region: str | None, profile: str | None) -> object:
        self.endpoints.append(endpoint)
        return object()

    def get_authorization_token(self, client: Any, domain: str, owner: str | None, duration: int | None) -> IssuedToken:
        return IssuedToken("cf-secret-token", datetime.now(UTC) + timedelta(hours=1))


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Calls]:
    for name in ("COFFER_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEARTIFACT", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("COFFER_KEYRING_HOST_SUFFIXES", raising=False)
    recorded = _Calls()
    monkeypatch.setattr(coffer.login, "make_client", recorded.make_client)
    monkeypatch.setattr(coffer.login, "get_authorization_token", recorded.get_authorization_token)
    CofferKeyring.clear_cache()
    yield recorded
    CofferKeyring.clear_cache()


@pytest.mark.parametrize("variable", ["COFFER_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEARTIFACT", "AWS_ENDPOINT_URL"])
def test_endpoint_variable_token_goes_only_to_vouched_hosts(
    calls: _Calls, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    monkeypatch.setenv(variable, ENDPOINT)
    backend = CofferKeyring()
    caplog.set_level(logging.DEBUG, logger="coffer.login.keyring_backend")
    for evil in (
        f"https://{DO}.d.codeartifact.us-east-1.evil.example/pypi/internal/simple/",
        f"http://evil.example/pypi/d/{DO}/internal/",
    ):
        assert parse_pypi_url(evil) is not None  # a Coffer URL: refused for its host alone
        assert backend.get_credential(evil, None) is None
        assert backend.get_password(evil, "aws") is None
    assert calls.endpoints == []  # no token was even asked for
    assert "evil.example" in caplog.text and variable in caplog.text and "COFFER_KEYRING_HOST_SUFFIXES" in caplog.text
    assert "cf-secret-token" not in caplog.text

    ok = backend.get_credential(f"http://127.0.0.1:5080/pypi/d/{DO}/internal/simple/", None)
    assert ok is not None and (ok.username, ok.password) == ("aws", "cf-secret-token")
    assert calls.endpoints == [ENDPOINT]

    monkeypatch.setenv("COFFER_KEYRING_HOST_SUFFIXES", "evil.example")  # the user vouches for it
    assert backend.get_password(f"http://evil.example/pypi/d/{DO}/internal/", "aws") == "cf-secret-token"


def test_without_endpoint_variable_the_index_host_is_the_issuer(calls: _Calls) -> None:
    """Any host may be asked for its own token: it learns nothing it did not issue."""
    backend = CofferKeyring()
    index = f"https://{DO}.d.codeartifact.us-east-1.evil.example/pypi/internal/simple/"
    assert backend.get_password(index, "aws") == "cf-secret-token"
    assert calls.endpoints == [f"https://{DO}.d.codeartifact.us-east-1.evil.example"]
    assert backend.get_password(f"https://{DO}.d.codeartifact.us-east-1.amazonaws.com/pypi/internal/simple/", None)
    assert calls.endpoints[-1] is None  # AWS's own host: AWS's endpoint
