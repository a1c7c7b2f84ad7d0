"""``FileBlobStore``: core's ``BlobStore`` port on a local directory, content-addressed by SHA-256.

Layout under ``root``::

    sha256/ab/cd/abcd…  one file per blob (mode 0600), named by its SHA-256 (64 lowercase hex digits)
    tmp/                 writes in progress (``*.part``) and blobs being collected (``*.gc``)

A write (``begin`` gives a ``PendingFile``; ``write(chunks)`` is ``begin``, a ``write`` per chunk, ``keep``)
streams into a temporary file in ``tmp/`` (same filesystem), hashing every chunk with MD5, SHA-1, SHA-256 and
SHA-512 (and any extra hash asked for) in one pass. ``finish`` fsyncs it; the bytes can then be read back and
checked while still invisible. ``keep`` ``os.replace``s the file to its content address (then fsyncs the
directory); ``discard`` unlinks it. Readers therefore see a blob either complete or not at all. A blob that
already exists is replaced by the new copy (same content by definition): its mtime is then fresh, which is what
garbage collection's grace period counts from. Memory use does not depend on the blob's size. Every directory is
0700, every file 0600.

Temporary files and other processes: the writer holds an exclusive ``flock`` on its ``.part`` for its whole life
(written, finished, read back), rename included. ``sweep`` (run by every command that opens the data directory,
and by the server's collector) removes a ``.part`` only when it can take that lock without waiting *and* the file
is older than ``SWEEP_MIN_AGE`` (which covers the instant between the file's creation and its lock). A live writer
in any process is therefore never disturbed; a crashed one's lock is gone with it.

Garbage collection (``remove_if_older``, driven by ``coffer.store.gc``): a blob no asset references is renamed
into ``tmp/`` and deleted there only if the renamed file is still older than the cutoff; a writer that stored the
same bytes just before the rename made it fresh, and it is put back. A writer after the rename stores a new copy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from coffer.atomic_files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, fsync_dir, make_private_dir, tighten_mode
from coffer.core.packages.package_models import BlobInfo

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_SHARD: Final = re.compile(r"[0-9a-f]{2}")
_TMP_SUFFIX: Final = ".part"
_GC_SUFFIX: Final = ".gc"

SWEEP_MIN_AGE: Final = 60.0
"""Seconds a temporary file must be unmodified before ``sweep`` may remove it (and only if no writer locks it)."""


def _check_sha256(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex digits (so it can never name a path outside the store)."""
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise ValueError(f"Not a SHA-256 hex digest: {sha256!r}")
    return sha256


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    mtime: float


class FileBlobStore:
    """Implements ``coffer.core.packages.package_store.BlobStore`` on the directory ``root`` (created if missing, unless
    ``read_only``: then nothing is created, written or removed)."""

    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self._root = Path(root)
        self._blobs = self._root / "sha256"
        self._tmp = self._root / "tmp"
        self._read_only = read_only
        if not read_only:
            for directory in (self._root, self._blobs, self._tmp):
                make_private_dir(directory)
                tighten_mode(directory, PRIVATE_DIR_MODE)  # made by an older Coffer under a lax umask

    @property
    def root(self) -> Path:
        return self._root

    @property
    def read_only(self) -> bool:
        return self._read_only

    def _blob_path(self, sha256: str) -> Path:
        _check_sha256(sha256)
        return self._blobs / sha256[:2] / sha256[2:4] / sha256

    def _refuse_if_read_only(self) -> None:
        if self._read_only:
            raise OSError(errno.EROFS, "the blob store is open read-only", str(self._root))

    def begin(self, extra_hashes: Iterable[str] = ()) -> PendingFile:
        """A pending blob: a locked temporary file in ``tmp/`` (see ``PendingFile``)."""
        self._refuse_if_read_only()
        return PendingFile(self, extra_hashes)

    def write(self, chunks: Iterable[bytes]) -> BlobInfo:
        """Stream ``chunks`` into the store. If iterating ``chunks`` (or writing) fails, the exception
        propagates and nothing is left behind."""
        with self.begin() as pending:
            for chunk in chunks:
                pending.write(chunk)
            return pending.keep()

    def write_bytes(self, data: bytes) -> BlobInfo:
        return self.write((data,))

    def open(self, sha256: str) -> BinaryIO:
        """The blob opened for binary reading; ``FileNotFoundError`` if absent, ``ValueError`` for a malformed
        digest."""
        return self._blob_path(sha256).open("rb")

    def path(self, sha256: str) -> str | None:
        """The blob's file path, or None if it is absent."""
        path = self._blob_path(sha256)
        return str(path) if path.is_file() else None

    def exists(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    # --- temporary files -----------------------------------------------------------------------------------

    def sweep(self, min_age: float = SWEEP_MIN_AGE) -> int:
        """Remove the ``.part`` files no live writer holds (see the module doc) that are older than ``min_age``
        seconds; returns how many. Safe while other processes write."""
        if self._read_only:
            return 0
        removed = 0
        cutoff = time.time() - min_age
        try:
            entries = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name.endswith(_TMP_SUFFIX) and _remove_unlocked(entry, cutoff):
                removed += 1
        return removed

    # --- garbage collection (coffer.store.gc) -----------------------------------------------------------------

    def shards(self) -> list[str]:
        """The first-level directories of the blob tree (``00`` to ``ff``, those that exist), in order."""
        try:
            return sorted(e.name for e in os.scandir(self._blobs) if _SHARD.fullmatch(e.name) and e.is_dir())
        except FileNotFoundError:
            return []

    def scan(self, shard: str) -> Iterator[StoredBlob]:
        """The blobs under one first-level directory (files not named as blobs are ignored)."""
        if _SHARD.fullmatch(shard) is None:
            raise ValueError(f"Not a shard name: {shard!r}")
        top = self._blobs / shard
        try:
            subdirs = sorted(e.path for e in os.scandir(top) if _SHARD.fullmatch(e.name) and e.is_dir())
        except FileNotFoundError:
            return
        for sub in subdirs:
            prefix = shard + os.path.basename(sub)
            try:
                entries = list(os.scandir(sub))
            except FileNotFoundError:
                continue
            for entry in sorted(entries, key=lambda e: e.name):
                if _SHA256.fullmatch(entry.name) is None or not entry.name.startswith(prefix):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield StoredBlob(entry.name, st.st_size, st.st_mtime)

    def remove_if_older(self, sha256: str, cutoff: float) -> int | None:
        """Delete the blob if its file was last modified before ``cutoff`` (a Unix time): its size, or None if it
        was kept (fresh, a writer just stored it again) or absent. The caller has checked that nothing uses it."""
        self._refuse_if_read_only()
        path = self._blob_path(sha256)
        doomed = self._tmp / f"{sha256}.{secrets.token_hex(4)}{_GC_SUFFIX}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return None
        try:
            st = os.stat(doomed)
        except FileNotFoundError:
            return None
        if st.st_mtime >= cutoff:
            # a writer stored these bytes between our check and the rename: put them back (if a newer copy is
            # there by now, this replaces it with the same bytes)
            os.replace(doomed, path)
            return None
        with contextlib.suppress(FileNotFoundError):
            doomed.unlink()
        return st.st_size

    def sweep_collected(self, cutoff: float) -> int:
        """Remove what an interrupted collection left in ``tmp/`` (``*.gc`` older than ``cutoff``)."""
        if self._read_only:
            return 0
        removed = 0
        try:
            entries = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name.endswith(_GC_SUFFIX) and _remove_unlocked(entry, cutoff):
                removed += 1
        return removed


class PendingFile:
    """``PendingBlob`` (``coffer.core.packages.package_store``) on a temporary file ``tmp/*.part`` of a
    ``FileBlobStore``, created (mode 0600) and exclusively ``flock``ed by ``FileBlobStore.begin``. The lock is held
    for the file's whole life: while it is written, finished and read back, through the rename to its content
    address, until the descriptor is closed after the rename (``keep``) or the unlink (``discard``).
    Used by one thread at a time."""

    def __init__(self, store: FileBlobStore, extra_hashes: Iterable[str] = ()) -> None:
        extras = {name: _new_extra_hash(name) for name in extra_hashes}
        self._store = store
        fd, name = tempfile.mkstemp(dir=store._tmp, suffix=_TMP_SUFFIX)
        self._path = Path(name)
        try:
            # held until the file is closed, after it has been renamed away: sweeps in any process leave it be
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, PRIVATE_FILE_MODE)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            raise
        self._fd: int | None = fd
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._sha512 = hashlib.sha512()
        self._extras = extras
        self._size = 0
        self._info: BlobInfo | None = None  # set by finish()
        self._extra_digests: dict[str, str] = {}
        self._kept = False

    @property
    def path(self) -> Path:
        """The temporary file (until ``keep`` or ``discard``)."""
        return self._path

    def _descriptor(self) -> int:
        if self._fd is None:
            raise ValueError("the pending blob was kept or discarded")
        return self._fd

    def write(self, chunk: bytes) -> None:
        fd = self._descriptor()
        if self._info is not None:
            raise ValueError("the pending blob is finished")
        if not chunk:
            return
        view = memoryview(chunk)
        self._md5.update(view)
        self._sha1.update(view)
        self._sha256.update(view)
        self._sha512.update(view)
        for extra in self._extras.values():
            extra.update(view)
        self._size += len(view)
        while view:  # write may be partial
            view = view[os.write(fd, view) :]

    def finish(self) -> BlobInfo:
        if self._info is None:
            os.fsync(self._descriptor())
            self._info = BlobInfo(
                sha256=self._sha256.hexdigest(),
                size=self._size,
                md5=self._md5.hexdigest(),
                sha1=self._sha1.hexdigest(),
                sha512=self._sha512.hexdigest(),
            )
            self._extra_digests = {name: h.hexdigest() for name, h in self._extras.items()}
        return self._info

    @property
    def extra_digests(self) -> Mapping[str, str]:
        if self._info is None:
            raise ValueError("the pending blob is not finished")
        return self._extra_digests

    def open(self) -> BinaryIO:
        self._descriptor()
        if self._info is None:
            raise ValueError("the pending blob is not finished")
        return self._path.open("rb")

    def keep(self) -> BlobInfo:
        if self._kept:
            assert self._info is not None
            return self._info
        fd = self._descriptor()
        info = self.finish()
        final = self._store._blob_path(info.sha256)
        try:
            # Also when the blob exists: the fresh copy restarts its garbage-collection grace period, so a
            # publish between this write and its commit never loses the blob to a collector.
            make_private_dir(final.parent)
            os.replace(self._path, final)
            self._kept = True
            fsync_dir(final.parent)
        except BaseException:
            if not self._kept:
                self.discard()
            raise
        finally:
            if self._kept:
                self._fd = None
                os.close(fd)  # releases the lock, the file now being the blob
        return info

    def discard(self) -> None:
        if self._kept or self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()  # still locked: no sweep can have taken it
        finally:
            os.close(fd)

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def _new_extra_hash(name: str) -> Any:
    if name == "blake2b_256":
        return hashlib.blake2b(digest_size=32)
    raise ValueError(f"Unsupported extra hash: {name!r} (supported: 'blake2b_256')")


def _remove_unlocked(path: Path, cutoff: float) -> bool:
    """Delete ``path`` if nobody holds its lock and it was last modified before ``cutoff``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    except OSError:  # a symlink or something else odd: not ours to judge, but not a blob either
        with contextlib.suppress(FileNotFoundError):
            if path.is_symlink():
                path.unlink()
                return True
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer
        if os.fstat(fd).st_mtime >= cutoff:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)
