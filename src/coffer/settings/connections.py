"""Where external connections point: ``public:pypi=URL`` pairs from ``--external-connection-url`` (repeatable)
or ``COFFER_EXTERNAL_CONNECTION_URLS`` (the pairs separated by spaces).

Any index of the connection's protocol will do: the public registry (the default), a mirror, devpi, Artifactory
or another Coffer. Credentials may be given in the URL (``https://user:secret@host/simple/``); they are sent as
HTTP Basic authentication and never logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from coffer.settings.env import SettingsError

_NAME = re.compile(r"public:[a-z0-9-]+")


def _check_url(name: str, url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{source}: the URL of {name} must be an http:// or https:// URL, got {_redacted(url)!r}")
    return url if url.endswith("/") else url + "/"


def _redacted(url: str) -> str:
    """``url`` without the password of its userinfo (messages never show a credential)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


def parse_connection_urls(
    pairs: Iterable[str], source: str = "--external-connection-url"
) -> tuple[tuple[str, str], ...]:
    """``NAME=URL`` texts as checked pairs; SettingsError names the bad one (without its credentials)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        name = name.strip()
        if not sep or not url.strip():
            raise SettingsError(f"{source}: expected NAME=URL (e.g. public:pypi=https://pypi.org/simple/), got "
                                f"{_redacted(pair)!r}")  # fmt: skip
        if not _NAME.fullmatch(name):  # which names exist is the core's to say (``core.packages.upstreams``)
            raise SettingsError(f"{source}: {name!r} is not an external connection name (e.g. public:pypi)")
        out[name] = _check_url(name, url.strip(), source)
    return tuple(sorted(out.items()))


def check_connection_urls(pairs: Iterable[tuple[str, str]] | Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The pairs given to ``Settings`` (as pairs, or as the command line's ``NAME=URL`` texts) checked."""
    texts = [p if isinstance(p, str) else f"{p[0]}={p[1]}" for p in pairs]
    return parse_connection_urls(texts)


def format_connection_urls(pairs: Iterable[tuple[str, str]]) -> str:
    """The variable's text for ``pairs`` (what :func:`parse_connection_urls` reads back)."""
    return " ".join(f"{name}={url}" for name, url in pairs)
