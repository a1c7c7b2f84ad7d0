"""Reading npm tarballs: the manifest and README found, and the work a hostile tarball can cause bounded."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time

import pytest

from coffer.core.packages import npm_tarball
from coffer.core.packages.npm_tarball import TarballError, read_tarball


def make(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


MANIFEST = json.dumps({"name": "ui", "version": "1.0.0"}).encode()


def test_manifest_and_readme_in_any_top_directory() -> None:
    data = make([("pkg/README.markdown", b"# hi"), ("pkg/lib/README.md", b"no"), ("pkg/package.json", MANIFEST)])
    found = read_tarball(io.BytesIO(data))
    assert found.manifest["name"] == "ui" and found.readme == "# hi" and found.readme_filename == "README.markdown"


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([("package/index.js", b"x")], "no package.json"),
        ([("package/package.json", b"[1]")], "not a JSON object"),
        ([("package/package.json", b"{")], "not JSON"),
    ],
)
def test_bad_tarballs(members: list[tuple[str, bytes]], words: str) -> None:
    with pytest.raises(TarballError) as info:
        read_tarball(io.BytesIO(make(members)))
    assert words in str(info.value)
    with pytest.raises(TarballError):
        read_tarball(io.BytesIO(b"not gzip at all"))


def test_reading_stops_once_both_are_found_and_at_the_scan_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npm_tarball, "MAX_SCANNED_BYTES", 1024 * 1024)
    bomb = b"\0" * (8 * 1024 * 1024)
    # found first: the big member after them is never decompressed
    assert read_tarball(io.BytesIO(make([("p/package.json", MANIFEST), ("p/README", b"r"), ("p/big", bomb)]))).readme
    # a big member before the manifest: reading stops at the limit instead of decompressing it
    started = time.monotonic()
    with pytest.raises(TarballError):
        read_tarball(io.BytesIO(make([("p/big", bomb), ("p/package.json", MANIFEST)])))
    assert time.monotonic() - started < 1.0
