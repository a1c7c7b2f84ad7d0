"""The snapshot port: several reads of a store as one read transaction."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class Snapshots(Protocol):
    def snapshot(self) -> AbstractContextManager[None]:
        """Inside, every read of the store sees one consistent state and costs one transaction for all. For a
        load of several reads that nothing slow interrupts (no upstream request, no write): the store holds a
        connection for the whole of it. Nested snapshots join the outer one."""
        ...
