"""The HTTP layer's limits: sizes, timeouts and the connection cap, from ``COFFER_*`` environment variables.

Read by ``coffer.settings.Settings.from_env``. Every limit is enforced by :mod:`coffer.app.uvicorn_fence` as
bytes arrive, before the request reaches the app, so a client that sends too much, too slowly or too often is
refused without costing the server more than the bytes it has read. The defaults suit every client Coffer serves
(pip, uv, twine, poetry, boto3, the aws CLI, the JS SDK); the variables exist for operators and for tests that need
short timeouts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from coffer.settings.env import SettingsError, env_number

KIB: Final = 1024


class HttpLimitsError(ValueError):
    """A limit variable has a value Coffer cannot run with."""


@dataclass(frozen=True)
class HttpLimits:
    max_request_line: int = 16 * KIB
    """Bytes in the request line (method, target, version); more gets 414 URI Too Long."""
    max_header_bytes: int = 64 * KIB
    """Bytes in the whole request head (request line and header fields); more gets 431."""
    max_headers: int = 100
    """Header fields in one request; more gets 431."""
    header_timeout: float = 10.0
    """Seconds from a request's first byte until its head is complete; then 408 and close (slowloris)."""
    body_timeout: float = 30.0
    """Seconds without a body byte while the request body is unfinished and the server waits for it; then close."""
    keep_alive_timeout: float = 5.0
    """Seconds an idle connection (new, or between requests) may stay open without sending a byte."""
    max_connections: int = 1000
    """Open connections at once; one more is answered 503 and closed."""
    linger: float = 2.0
    """After a refusal: seconds to keep reading (and discarding) so the client sees the answer, not a reset."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise HttpLimitsError(f"{spec.name} must be a positive number, got {value!r}")
        if self.max_request_line > self.max_header_bytes:
            raise HttpLimitsError(
                f"max_request_line ({self.max_request_line}) must not exceed max_header_bytes ({self.max_header_bytes})"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HttpLimits:
        """Defaults, overridden by the variables in :data:`ENV_VARS` that are set and not empty."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = ENV_VARS.get(spec.name)
            if name is None:
                continue
            kind = int if spec.type in ("int", int) else float
            try:
                value = env_number(env, name, kind, "an integer" if kind is int else "a number")
            except SettingsError as exc:
                raise HttpLimitsError(str(exc)) from None
            if value is not None:
                values[spec.name] = kind(value)
        try:
            return cls(**values)
        except HttpLimitsError as exc:
            raise HttpLimitsError(f"{exc} (from {', '.join(ENV_VARS[k] for k in values)})") from None


ENV_VARS: Final[Mapping[str, str]] = {
    "max_request_line": "COFFER_MAX_REQUEST_LINE",
    "max_header_bytes": "COFFER_MAX_HEADER_BYTES",
    "max_headers": "COFFER_MAX_HEADERS",
    "header_timeout": "COFFER_HEADER_TIMEOUT",
    "body_timeout": "COFFER_BODY_TIMEOUT",
    "keep_alive_timeout": "COFFER_KEEP_ALIVE_TIMEOUT",
    "max_connections": "COFFER_MAX_CONNECTIONS",
}
"""Limit name -> environment variable (``linger`` is fixed)."""


__all__ = ["ENV_VARS", "KIB", "HttpLimits", "HttpLimitsError"]
