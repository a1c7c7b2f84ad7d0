"""Time as a port, so tests can move it."""

from __future__ import annotations

import time


def system_clock() -> float:
    return time.time()


class FixedClock:
    """A clock tests set and advance by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
