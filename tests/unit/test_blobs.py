"""FileBlobStore: content addressing, hashing, atomic streaming writes, sweeping, digest validation."""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

import coffer.store.blobs as blobs_module
from coffer.core.packages.package_store import BlobStore
from coffer.store.blobs import SWEEP_MIN_AGE, FileBlobStore
from coffer.store.gc import collect_garbage


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "sha256").rglob("*") if p.is_file())


def tmp_files(root: Path) -> list[Path]:
    return sorted((root / "tmp").iterdir())


def test_satisfies_the_port(tmp_path: Path) -> None:
    typed: BlobStore = FileBlobStore(tmp_path / "blobs")
    assert typed.sweep() == 0


def test_hashes_equal_hashlib_and_layout(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    data = os.urandom(100_000) + b"tail"
    chunks = [data[i : i + 7_777] for i in range(0, len(data), 7_777)]
    info = store.write(iter(chunks))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.sha1 == hashlib.sha1(data).hexdigest()
    assert info.sha512 == hashlib.sha512(data).hexdigest()
    assert info.size == len(data)
    expected = tmp_path / "blobs" / "sha256" / info.sha256[:2] / info.sha256[2:4] / info.sha256
    assert store.path(info.sha256) == str(expected)
    assert stat.S_IMODE(expected.stat().st_mode) == 0o600
    assert store.exists(info.sha256)
    with store.open(info.sha256) as fh:
        assert fh.read() == data
    assert tmp_files(tmp_path / "blobs") == []


def test_write_bytes_empty_and_duplicates(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    empty = store.write_bytes(b"")
    assert empty.sha256 == hashlib.sha256(b"").hexdigest()
    assert empty.size == 0
    assert store.exists(empty.sha256)
    first = store.write_bytes(b"same")
    second = store.write([b"sa", b"", b"me"])
    assert first == second
    assert len(blob_files(tmp_path / "blobs")) == 2
    assert tmp_files(tmp_path / "blobs") == []


def test_absent_blob(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    absent = "0" * 64
    assert not store.exists(absent)
    assert store.path(absent) is None
    with pytest.raises(FileNotFoundError):
        store.open(absent)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../" + "a" * 61,
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 62 + "/x",
        "a" * 64 + "\n",
        "/etc/passwd",
    ],
)
def test_bad_sha256_refused(tmp_path: Path, bad: str) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError):
        store.open(bad)
    with pytest.raises(ValueError):
        store.path(bad)
    with pytest.raises(ValueError):
        store.exists(bad)


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")

    def failing() -> Iterator[bytes]:
        yield b"x" * 100_000
        yield b"y" * 100_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write(failing())
    assert tmp_files(tmp_path / "blobs") == []
    assert blob_files(tmp_path / "blobs") == []
    assert not store.exists(hashlib.sha256(b"x" * 100_000 + b"y" * 100_000).hexdigest())


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_sweep_removes_stale_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    kept = store.write_bytes(b"kept")
    (root / "tmp" / "abc.part").write_bytes(b"half a blob")
    (root / "tmp" / "def.part").write_bytes(b"")
    for part in tmp_files(root):
        _age(part, 120)
    assert store.sweep() == 2
    assert tmp_files(root) == []
    assert store.exists(kept.sha256)
    assert store.sweep() == 0
    # a new store on the same root (a restart) works with the existing blobs
    again = FileBlobStore(root)
    assert again.exists(kept.sha256)


def test_large_stream_with_flat_memory(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    chunk_size = 1024 * 1024
    total_chunks = 200  # 200 MiB
    reference = hashlib.sha256()
    block = bytes(range(256)) * (chunk_size // 256)

    def stream() -> Iterator[bytes]:
        for i in range(total_chunks):
            chunk = i.to_bytes(4, "big") + block[4:]  # distinct chunks, one at a time in memory
            reference.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        info = store.write(stream())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == chunk_size * total_chunks
    assert info.sha256 == reference.hexdigest()
    assert peak < 10 * 1024 * 1024, peak
    assert os.path.getsize(store.path(info.sha256) or "") == info.size


def test_sweep_leaves_young_and_locked_temp_files(tmp_path: Path) -> None:
    """A sweep (any command opening the data directory) never removes what a live writer holds, however old."""
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    young = root / "tmp" / "young.part"
    young.write_bytes(b"just created, lock not taken yet")
    held = root / "tmp" / "held.part"
    held.write_bytes(b"a writer in another process")
    _age(held, 10 * SWEEP_MIN_AGE)
    with held.open("rb") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        assert store.sweep() == 0
    assert sorted(tmp_files(root)) == [held, young]
    assert store.sweep() == 1  # the lock is gone with its holder
    assert tmp_files(root) == [young]
    assert store.sweep(min_age=0) == 1


def test_a_sweep_during_a_write_does_not_break_it(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    started, resume = threading.Event(), threading.Event()

    def slow() -> Iterator[bytes]:
        yield b"a" * 70_000
        started.set()
        resume.wait(10)
        yield b"b" * 70_000

    results: list[object] = []
    writer = threading.Thread(target=lambda: results.append(store.write(slow())))
    writer.start()
    assert started.wait(10)
    (part,) = tmp_files(root)
    _age(part, 10 * SWEEP_MIN_AGE)  # only the lock protects it now
    assert FileBlobStore(root).sweep() == 0  # another process's store would take a lock of its own
    resume.set()
    writer.join(10)
    (info,) = results
    assert store.exists(hashlib.sha256(b"a" * 70_000 + b"b" * 70_000).hexdigest())
    assert tmp_files(root) == []
    assert info is not None


def test_storing_existing_bytes_makes_the_blob_fresh(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    info = store.write_bytes(b"shared bytes")
    path = Path(store.path(info.sha256) or "")
    _age(path, 7200)
    assert store.write_bytes(b"shared bytes") == info
    assert time.time() - path.stat().st_mtime < 60
    assert path.read_bytes() == b"shared bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_remove_if_older_keeps_a_blob_stored_again_meanwhile(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    old = store.write_bytes(b"old and unused")
    fresh = store.write_bytes(b"fresh")
    _age(Path(store.path(old.sha256) or ""), 7200)
    cutoff = time.time() - 3600
    assert store.remove_if_older(fresh.sha256, cutoff) is None  # young: renamed away, seen fresh, put back
    assert store.exists(fresh.sha256)
    assert store.remove_if_older(old.sha256, cutoff) == len(b"old and unused")
    assert not store.exists(old.sha256)
    assert store.remove_if_older(old.sha256, cutoff) is None  # absent
    assert tmp_files(tmp_path / "blobs") == []


class _Assets:
    """A PackageStore stand-in that only knows which blobs are in use."""

    def __init__(self, used: set[str]) -> None:
        self.used = used
        self.asked: list[str] = []

    def blobs_in_use(self, sha256s: Iterator[str]) -> set[str]:
        wanted = set(sha256s)
        self.asked.extend(sorted(wanted))
        return wanted & self.used


def test_collect_garbage_removes_only_old_unreferenced_blobs(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    used_old = store.write_bytes(b"used, old")
    unused_old = store.write_bytes(b"unused, old")
    unused_young = store.write_bytes(b"unused, young")
    for info in (used_old, unused_old):
        _age(Path(store.path(info.sha256) or ""), 7200)
    stale_part = root / "tmp" / "crashed.part"
    stale_part.write_bytes(b"x")
    _age(stale_part, 7200)
    assets = _Assets({used_old.sha256})
    seen: list[tuple[int, int]] = []

    dry = collect_garbage(store, assets, grace=3600, dry_run=True, progress=lambda d, t: seen.append((d, t)))  # type: ignore[arg-type]
    assert (dry.removed, dry.removed_bytes, dry.in_use, dry.young, dry.swept) == (1, 11, 1, 1, 0)
    assert store.exists(unused_old.sha256) and stale_part.exists()
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == len(store.shards())

    done = collect_garbage(store, assets, grace=3600)  # type: ignore[arg-type]
    assert (done.removed, done.removed_bytes, done.in_use, done.young, done.swept) == (1, 11, 1, 1, 1)
    assert not store.exists(unused_old.sha256)
    assert store.exists(used_old.sha256) and store.exists(unused_young.sha256)
    assert not stale_part.exists()
    assert unused_young.sha256 not in assets.asked  # young blobs are not even looked up

    assert collect_garbage(store, assets, grace=0).removed == 1  # grace 0: the young one too
    assert store.exists(used_old.sha256)


def test_modes_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = FileBlobStore(tmp_path / "a" / "blobs")
        info = store.write_bytes(b"private")
    finally:
        os.umask(old)
    path = Path(store.path(info.sha256) or "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, path.parent.parent, tmp_path / "a" / "blobs" / "tmp", tmp_path / "a"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_read_only_store_writes_nothing(tmp_path: Path) -> None:
    FileBlobStore(tmp_path / "blobs").write_bytes(b"there")
    ro = FileBlobStore(tmp_path / "blobs", read_only=True)
    assert ro.exists(hashlib.sha256(b"there").hexdigest())
    assert ro.sweep() == 0
    with pytest.raises(OSError):
        ro.write_bytes(b"no")
    assert not (tmp_path / "nothing").exists()
    FileBlobStore(tmp_path / "nothing", read_only=True)
    assert not (tmp_path / "nothing").exists()


# --- pending writes (begin / finish / open / keep / discard) -------------------------------------------------------


def _locked_elsewhere(path: Path) -> bool:
    """Whether someone holds ``path``'s flock (a lock of our own on another open file would conflict too)."""
    with path.open("rb") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def test_pending_blob_is_invisible_until_kept(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    data = os.urandom(300_000)
    with store.begin(["blake2b_256"]) as pending:
        for i in range(0, len(data), 65_536):
            pending.write(data[i : i + 65_536])
        pending.write(b"")
        info = pending.finish()
        assert pending.finish() == info  # idempotent
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert info.md5 == hashlib.md5(data).hexdigest()
        assert info.sha1 == hashlib.sha1(data).hexdigest()
        assert info.sha512 == hashlib.sha512(data).hexdigest()
        assert info.size == len(data)
        assert pending.extra_digests == {"blake2b_256": hashlib.blake2b(data, digest_size=32).hexdigest()}
        assert not store.exists(info.sha256)
        assert blob_files(root) == []
        (part,) = tmp_files(root)
        assert part.name.endswith(".part")
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
        with pending.open() as fh:
            assert fh.read() == data
            fh.seek(100)
            assert fh.read(10) == data[100:110]
        with pytest.raises(ValueError):
            pending.write(b"more")  # finished
        assert pending.keep() == info
        assert pending.keep() == info  # idempotent
    assert store.exists(info.sha256)
    with store.open(info.sha256) as fh:
        assert fh.read() == data
    assert tmp_files(root) == []


def test_pending_blob_without_extra_hashes(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with store.begin() as pending:
        pending.write(b"plain")
        assert pending.keep() == store.write_bytes(b"plain")
        assert pending.extra_digests == {}


@pytest.mark.parametrize("when", ["begun", "written", "finished", "read"])
def test_pending_blob_not_kept_leaves_nothing(tmp_path: Path, when: str) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    with store.begin(["blake2b_256"]) as pending:
        if when != "begun":
            pending.write(b"refused bytes" * 1000)
        if when in ("finished", "read"):
            pending.finish()
        if when == "read":
            reader = pending.open()
        assert len(tmp_files(root)) == 1
    assert tmp_files(root) == []
    assert blob_files(root) == []
    pending.discard()  # idempotent
    with pytest.raises(ValueError):
        pending.write(b"x")
    if when == "read":
        assert reader.read(7) == b"refused"  # an open reader still reads (the file is only unlinked)
        reader.close()


def test_an_error_in_the_with_block_discards(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    with pytest.raises(RuntimeError), store.begin() as pending:
        pending.write(b"half")
        raise RuntimeError("client went away")
    assert tmp_files(root) == [] and blob_files(root) == []


def test_explicit_discard_then_keep_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    pending = store.begin()
    pending.write(b"gone")
    pending.discard()
    with pytest.raises(ValueError):
        pending.keep()
    assert tmp_files(root) == [] and blob_files(root) == []
    kept = store.begin()
    kept.write(b"kept")
    info = kept.keep()
    kept.discard()  # after keep: nothing happens
    assert store.exists(info.sha256)


def test_pending_blob_holds_its_lock_for_its_whole_life(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written, finished, read back, renamed: a sweep in any process leaves it be, however old the file."""
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    other = FileBlobStore(root)  # another process's store would take a lock of its own
    pending = store.begin()
    (part,) = tmp_files(root)

    def check() -> None:
        _age(part, 10 * SWEEP_MIN_AGE)
        assert _locked_elsewhere(part)
        assert other.sweep() == 0 and other.sweep(min_age=0) == 0
        assert tmp_files(root) == [part]

    check()
    pending.write(b"a" * 70_000)
    check()
    info = pending.finish()
    check()
    with pending.open() as fh:
        check()
        assert len(fh.read()) == 70_000
    final = root / "sha256" / info.sha256[:2] / info.sha256[2:4] / info.sha256
    seen: list[bool] = []
    real_fsync_dir = blobs_module.fsync_dir

    def fsync_dir_checking(directory: Path) -> None:  # runs just after the rename
        seen.append(final.exists() and not part.exists() and _locked_elsewhere(final))
        real_fsync_dir(directory)

    monkeypatch.setattr(blobs_module, "fsync_dir", fsync_dir_checking)
    assert pending.keep() == info
    assert seen == [True]
    assert not _locked_elsewhere(final)  # released once kept
    assert tmp_files(root) == []


def test_keeping_existing_bytes_makes_the_blob_fresh(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    info = store.write_bytes(b"shared bytes")
    path = Path(store.path(info.sha256) or "")
    _age(path, 7200)
    with store.begin() as pending:
        pending.write(b"shared ")
        pending.write(b"bytes")
        pending.finish()
        assert time.time() - path.stat().st_mtime > 3600  # finished is not kept
        assert pending.keep() == info
    assert time.time() - path.stat().st_mtime < 60
    assert path.read_bytes() == b"shared bytes"
    assert len(blob_files(root)) == 1 and tmp_files(root) == []


def test_open_before_finish_and_unknown_extra_hashes_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    with pytest.raises(ValueError, match="sha3"):
        store.begin(["sha3_256"])
    assert tmp_files(root) == []
    with store.begin() as pending:
        pending.write(b"x")
        with pytest.raises(ValueError):
            pending.open()
        with pytest.raises(ValueError):
            _ = pending.extra_digests
    assert tmp_files(root) == []


def test_read_only_store_begins_nothing(tmp_path: Path) -> None:
    FileBlobStore(tmp_path / "blobs")
    ro = FileBlobStore(tmp_path / "blobs", read_only=True)
    with pytest.raises(OSError):
        ro.begin()
    assert tmp_files(tmp_path / "blobs") == []
