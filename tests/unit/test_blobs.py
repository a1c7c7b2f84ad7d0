"""FileBlobStore: content addressing, hashing, atomic streaming writes, sweeping, digest validation."""

from __future__ import annotations

import hashlib
import os
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffer.core.ports import BlobStore
from coffer.store.blobs import FileBlobStore


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


def test_sweep_removes_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    kept = store.write_bytes(b"kept")
    (root / "tmp" / "abc.part").write_bytes(b"half a blob")
    (root / "tmp" / "def.part").write_bytes(b"")
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
