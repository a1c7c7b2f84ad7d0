"""One frozen Settings object, built in one place (:meth:`Settings.from_env`) from ``COFFER_*`` environment
variables and the flags given on a command line, and passed down.

``coffer serve`` and the other commands give :meth:`Settings.from_env` only the options typed on their command line;
the ASGI factory (``coffer.app.asgi``) gives none. So each variable is read, checked and refused the same way
whichever way Coffer is started; ``ENV_VARS`` names them all.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from coffer.settings.connections import check_connection_urls, format_connection_urls, parse_connection_urls
from coffer.settings.env import SettingsError, env_flag, env_number
from coffer.settings.http_limits import HttpLimits, HttpLimitsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5080
DEFAULT_REGION = "us-east-1"
DEFAULT_DATA_DIR = "./coffer-data"
DEFAULT_GC_INTERVAL: Final = 3600.0  # seconds between the server's collections of unreferenced blobs
DEFAULT_GC_GRACE: Final = 3600.0  # how old an unreferenced blob must be before it is collected
MAX_UPLOAD_BYTES: Final = 5 * 1024**3  # CodeArtifact's asset size quota
DEFAULT_CACHE_TTL: Final = 1.0  # seconds a resolved key, caller or policy is reused before it is read again
LOG_FORMATS = ("text", "json")
DEFAULT_UPSTREAM_TTL: Final = 300.0  # seconds an upstream project page is fresh (then served stale while refreshed)
DEFAULT_UPSTREAM_TIMEOUT: Final = 5.0  # seconds to connect to an upstream, and between two reads of its answer
MAX_DEFAULT_WORKERS: Final = 4  # the default number of worker processes is the usable CPUs, at most this
MAX_WORKERS: Final = 64  # more worker processes than this is refused (a typo, not a plan)

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+")
_DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DNS_SUFFIX = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")


def default_workers() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and ``taskset`` narrow), at most
    :data:`MAX_DEFAULT_WORKERS`."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity call on this platform
        usable = os.cpu_count() or 1
    return max(1, min(usable, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    region: str = DEFAULT_REGION
    account_id: str | None = None
    public_url: str | None = None
    db_url: str | None = None
    endpoint_dns_suffix: str | None = None  # GetRepositoryEndpoint: host style under it (coffer.formats.host_style)
    access_log: bool = True  # one line per request on stderr (coffer.http.access_log)
    log_format: str = "text"  # of the access log: text or json
    gc_interval: float = DEFAULT_GC_INTERVAL  # 0: the server never collects (``coffer admin gc`` still does)
    gc_grace: float = DEFAULT_GC_GRACE
    max_upload_bytes: int = MAX_UPLOAD_BYTES  # the largest package file an upload may carry
    #: how long key resolution and authorization reuse what they read (revocation and policy changes take at most
    #: this long to reach a running server)
    cache_ttl: float = DEFAULT_CACHE_TTL
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    #: where external connections point, ``(("public:pypi", URL), ...)``; the others keep their public registry
    #: (``coffer.settings.connections.connection_urls``)
    external_connection_urls: tuple[tuple[str, str], ...] = ()
    upstream_ttl: float = DEFAULT_UPSTREAM_TTL
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    #: uvicorn worker processes of ``coffer serve`` on its one socket (1: the server runs in the one process);
    #: default :func:`default_workers`
    workers: int = field(default_factory=default_workers)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, only: frozenset[str] | None = None, **given: Any
    ) -> Settings:
        """The settings from ``env`` (``os.environ`` by default; unset or empty means the default), with ``given``
        (options typed on a command line, by field name) winning. ``only``: read just these fields' variables (a
        command that does not serve is not refused for a bad server variable). ``SettingsError`` names the
        variable or value it refuses."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, variable in ENV_VARS.items():
            if name in given or (only is not None and name not in only):
                continue
            value = _READERS.get(name, _text)(env, variable)
            if value is not None:
                values[name] = value
        if only is None or "http_limits" in only:
            try:
                values["http_limits"] = HttpLimits.from_env(env)
            except HttpLimitsError as exc:
                raise SettingsError(str(exc)) from None
        values.update({k: v for k, v in given.items() if v is not None})
        return cls(**values)

    def as_env(self, names: frozenset[str]) -> dict[str, str]:
        """The named fields as the ``COFFER_*`` variables :meth:`from_env` reads back to the same values."""
        out: dict[str, str] = {}
        for name in names:
            value = getattr(self, name)
            if name == "external_connection_urls":
                if value:
                    out[ENV_VARS[name]] = format_connection_urls(value)
            elif value is not None:
                out[ENV_VARS[name]] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    def __post_init__(self) -> None:
        if self.account_id is not None and not _ACCOUNT_ID.fullmatch(self.account_id):
            raise SettingsError(f"account id must be exactly 12 digits, got {self.account_id!r}")
        if not _REGION.fullmatch(self.region):
            raise SettingsError(f"region {self.region!r} does not look like an AWS region (e.g. us-east-1)")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port {self.port} is out of range")
        if self.public_url is not None and not re.match(r"https?://[^/\s]+", self.public_url):
            raise SettingsError(f"public URL must start with http:// or https://, got {self.public_url!r}")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        if not math.isfinite(self.upstream_timeout) or self.upstream_timeout <= 0:
            raise SettingsError(f"upstream timeout must be a positive number of seconds, got {self.upstream_timeout!r}")
        object.__setattr__(self, "external_connection_urls", check_connection_urls(self.external_connection_urls))
        for name in ("gc_interval", "gc_grace", "cache_ttl", "upstream_ttl"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise SettingsError(f"{name.replace('_', ' ')} must be a number of seconds (0 or more), got {value!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {self.workers!r}")
        if self.max_upload_bytes <= 0:
            raise SettingsError(f"the upload limit must be a positive number of bytes, got {self.max_upload_bytes!r}")
        if self.endpoint_dns_suffix is not None and not _DNS_SUFFIX.fullmatch(self.endpoint_dns_suffix):
            raise SettingsError(
                "endpoint DNS suffix must be a lowercase DNS name such as coffer.example.com (no scheme, port or "
                f"leading dot), got {self.endpoint_dns_suffix!r}"
            )

    @property
    def database_url(self) -> str:
        """The configured database, else SQLite in the data directory."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'coffer.db').resolve()}"

    def base_url(self, bound_port: int | None = None) -> str:
        """The URL clients reach Coffer at, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - mapping a wildcard bind to a reachable address
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{bound_port or self.port}"


ENV_VARS: Final[Mapping[str, str]] = {
    "host": "COFFER_HOST",
    "port": "COFFER_PORT",
    "data_dir": "COFFER_DATA_DIR",
    "region": "COFFER_REGION",
    "account_id": "COFFER_ACCOUNT_ID",
    "public_url": "COFFER_PUBLIC_URL",
    "db_url": "COFFER_DB_URL",
    "endpoint_dns_suffix": "COFFER_ENDPOINT_DNS_SUFFIX",
    "access_log": "COFFER_ACCESS_LOG",
    "log_format": "COFFER_LOG_FORMAT",
    "gc_interval": "COFFER_GC_INTERVAL",
    "gc_grace": "COFFER_GC_GRACE",
    "max_upload_bytes": "COFFER_MAX_UPLOAD_BYTES",
    "cache_ttl": "COFFER_CACHE_TTL",
    "external_connection_urls": "COFFER_EXTERNAL_CONNECTION_URLS",
    "upstream_ttl": "COFFER_UPSTREAM_TTL",
    "upstream_timeout": "COFFER_UPSTREAM_TIMEOUT",
    "workers": "COFFER_WORKERS",
}
"""Settings field -> its environment variable (the HTTP limits' are ``coffer.settings.http_limits.ENV_VARS``)."""

DATA_FIELDS: Final = frozenset({"data_dir", "db_url", "region", "account_id"})
"""What finds and shapes the stored data: all a command that does not serve reads."""


def _text(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    return env_number(env, name, float, "a number of seconds (0 or more)", lambda v: v >= 0)


def _port(env: Mapping[str, str], name: str) -> int | None:
    value = env_number(env, name, int, "a port number (0 to 65535)", lambda v: 0 <= v <= 65535)
    return None if value is None else int(value)


def _bytes(env: Mapping[str, str], name: str) -> int | None:
    value = env_number(env, name, int, "a positive number of bytes", lambda v: v > 0)
    return None if value is None else int(value)


def _workers(env: Mapping[str, str], name: str) -> int | None:
    value = env_number(
        env, name, int, f"a whole number of worker processes (1 to {MAX_WORKERS})", lambda v: 1 <= v <= MAX_WORKERS
    )
    return None if value is None else int(value)


def _path(env: Mapping[str, str], name: str) -> Path | None:
    text = _text(env, name)
    return None if text is None else Path(text)


def _lower(env: Mapping[str, str], name: str) -> str | None:
    text = _text(env, name)
    return None if text is None else text.lower()


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    return env_flag(env, name, True) if _text(env, name) is not None else None


_READERS: Final[Mapping[str, Any]] = {
    "port": _port,
    "data_dir": _path,
    "log_format": _lower,
    "access_log": _flag,
    "gc_interval": _seconds,
    "gc_grace": _seconds,
    "max_upload_bytes": _bytes,
    "cache_ttl": _seconds,
    "upstream_ttl": _seconds,
    "upstream_timeout": _seconds,
    "workers": _workers,
    "external_connection_urls": lambda env, name: (
        None if _text(env, name) is None else parse_connection_urls(env[name].split(), name)
    ),
}

__all__ = [
    "DATA_FIELDS",
    "ENV_VARS",
    "LOG_FORMATS",
    "MAX_DEFAULT_WORKERS",
    "MAX_WORKERS",
    "HttpLimits",
    "Settings",
    "SettingsError",
    "default_workers",
    "env_flag",
    "env_number",
]
