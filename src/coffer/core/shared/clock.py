"""Time as a port, so tests can move it."""

from __future__ import annotations

import time
from typing import Protocol

system_clock = time.time
"""The system's clock: ``time.time`` itself (a wrapper would be one more Python call, several per request)."""


def iso_utc(epoch: float) -> str:
    """An instant as ISO 8601 UTC to the second, as IAM condition keys and the CLI show it: ``2026-12-02T13:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


class FixedClock:
    """A clock tests set and advance by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds since the epoch."""
        ...
