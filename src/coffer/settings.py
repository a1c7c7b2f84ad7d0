"""One frozen Settings object built from flags and ``COFFER_*`` environment variables, passed down."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5080
DEFAULT_REGION = "us-east-1"
DEFAULT_DATA_DIR = "./coffer-data"

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+")
_DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DNS_SUFFIX = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")


class SettingsError(ValueError):
    """A setting has a value Coffer cannot run with."""


def env_number(
    env: Mapping[str, str],
    name: str,
    kind: type[int] | type[float],
    what: str,
    valid: Callable[[float], bool] = lambda value: True,
) -> float | None:
    """The number in variable ``name`` (None when it is unset or empty). ``SettingsError`` (a ValueError) reads
    ``<name> must be <what>, got '<text>'`` for text that is not a finite ``kind`` or fails ``valid``."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value: float = kind(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not valid(value):
        raise SettingsError(f"{name} must be {what}, got {raw!r}")
    return value


CACHE_TTL_ENV = "COFFER_CACHE_TTL"
DEFAULT_CACHE_TTL = 1.0  # seconds: a change made by another process (coffer admin, another server) shows within it


def cache_ttl_from_env(env: Mapping[str, str]) -> float:
    """``COFFER_CACHE_TTL``: how long a server keeps key resolutions, policies, domains, repositories and the
    revocation list (seconds, 0 or more; unset or empty: ``DEFAULT_CACHE_TTL``)."""
    value = env_number(env, CACHE_TTL_ENV, float, "a number of seconds (0 or more)", lambda v: v >= 0)
    return DEFAULT_CACHE_TTL if value is None else value


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
LOG_FORMATS = ("text", "json")


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The yes/no in variable ``name`` (``default`` when it is unset or empty), spelt as click's booleans are
    (1/0, true/false, yes/no, on/off, any case); ``SettingsError`` for anything else."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise SettingsError(f"{name} must be a yes/no value (1/0, true/false, yes/no, on/off), got {env[name]!r}")


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
