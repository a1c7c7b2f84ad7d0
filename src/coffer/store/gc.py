"""Garbage collection of blobs: files no asset uses any more (deleted versions and packages, uploads refused after
their bytes were stored, losers of a race, crashes between storing and committing).

A blob is removed when no asset row references it (``PackageStore.blobs_in_use``: as a file or as extracted
metadata) **and** its file is older than the grace period. The grace period covers a publish in flight: its blob
is written (or, when it exists already, written again, which makes it fresh) before the asset row commits, so a
blob younger than the grace period may be about to be referenced. See ``FileBlobStore.remove_if_older`` for the
rename-then-check that keeps a blob re-stored during the collection itself.

Run by ``coffer admin gc`` and, every ``COFFER_GC_INTERVAL`` seconds, by the server (a background thread, off
the event loop). Each run also sweeps temporary files no live writer holds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from coffer.core.packages.package_store import PackageStore
from coffer.settings import DEFAULT_GC_GRACE, DEFAULT_GC_INTERVAL
from coffer.store.blobs import FileBlobStore, StoredBlob

_BATCH: Final = 500

Progress = Callable[[int, int], None]
"""Called with (first-level directories done, their number) as a collection advances."""


@dataclass(frozen=True)
class GcResult:
    removed: int = 0
    removed_bytes: int = 0
    in_use: int = 0
    young: int = 0
    """Unreferenced blobs kept because they are younger than the grace period (or were re-stored meanwhile)."""
    swept: int = 0
    """Temporary files removed (left by crashed writers or an interrupted collection)."""
    dry_run: bool = False


@dataclass(frozen=True)
class GcSettings:
    interval: float = DEFAULT_GC_INTERVAL
    """Seconds between the server's collections; 0 turns them off (``coffer admin gc`` still works)."""
    grace: float = DEFAULT_GC_GRACE
    """Seconds an unreferenced blob is kept after it was last written (an upload's bytes to its commit)."""


def collect_garbage(
    blobs: FileBlobStore,
    store: PackageStore,
    *,
    grace: float = DEFAULT_GC_GRACE,
    dry_run: bool = False,
    now: float | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> GcResult:
    """Remove the blobs no asset uses that are older than ``grace`` seconds (``dry_run``: only count them), and
    sweep temporary files. ``stop`` ends a long collection early (between batches)."""
    cutoff = (time.time() if now is None else now) - grace
    swept = 0
    if not dry_run:
        swept = blobs.sweep() + blobs.sweep_collected(cutoff)
    removed = removed_bytes = in_use = young = 0
    shards = blobs.shards()
    if progress is not None:
        progress(0, len(shards))

    def settle(batch: list[StoredBlob]) -> None:
        nonlocal removed, removed_bytes, in_use, young
        used = store.blobs_in_use(b.sha256 for b in batch)
        for blob in batch:
            if blob.sha256 in used:
                in_use += 1
            elif dry_run:
                removed += 1
                removed_bytes += blob.size
            else:
                size = blobs.remove_if_older(blob.sha256, cutoff)
                if size is None:
                    young += 1
                else:
                    removed += 1
                    removed_bytes += size

    for done, shard in enumerate(shards, start=1):
        batch: list[StoredBlob] = []
        for blob in blobs.scan(shard):
            if blob.mtime >= cutoff:
                young += 1
                continue
            batch.append(blob)
            if len(batch) >= _BATCH:
                settle(batch)
                batch = []
                if stop is not None and stop.is_set():
                    break
        if batch:
            settle(batch)
        if progress is not None:
            progress(done, len(shards))
        if stop is not None and stop.is_set():
            break
    return GcResult(
        removed=removed, removed_bytes=removed_bytes, in_use=in_use, young=young, swept=swept, dry_run=dry_run
    )


class BackgroundCollector:
    """Runs ``collect_garbage`` every ``settings.interval`` seconds on a daemon thread until ``stop()``. A failed
    run is reported on stderr (one line) and retried at the next interval; it never stops the server."""

    def __init__(self, blobs: FileBlobStore, store: PackageStore, settings: GcSettings) -> None:
        self._blobs = blobs
        self._store = store
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last: GcResult | None = None

    def start(self) -> None:
        if self._settings.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="coffer-gc", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to finish (a collection in progress stops at its next batch) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._settings.interval):
            try:
                self.last = collect_garbage(self._blobs, self._store, grace=self._settings.grace, stop=self._stop)
            except Exception as exc:  # a collection must never take the server down
                print(f"coffer: blob collection failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self.runs += 1
