"""The streaming reader of npm publish bodies: the tarball decoded out of the JSON as it arrives, the rest kept."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from coffer.formats.npm.publish_body import PublishBodyError, PublishBodyReader


class FakePending:
    def __init__(self) -> None:
        self.data = io.BytesIO()
        self.discarded = False

    def write(self, chunk: bytes) -> None:
        self.data.write(chunk)

    def discard(self) -> None:
        self.discarded = True


def read(body: bytes, chunk: int, *, max_json: int = 1 << 20, max_tarball: int = 1 << 20) -> tuple[Any, bytes | None]:
    made: list[FakePending] = []

    def begin() -> Any:
        made.append(FakePending())
        return made[-1]

    reader = PublishBodyReader(begin, max_json=max_json, max_tarball=max_tarball)
    for start in range(0, len(body), chunk):
        reader.feed(body[start : start + chunk])
    skeleton = json.loads(reader.finish())
    assert len(made) <= 1
    if made:
        assert reader.tarball_size == len(made[0].data.getvalue())
    return skeleton, made[0].data.getvalue() if made else None


def body(data: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "name": "@acme/ui",
        "description": 'tricky "data": {"x": [1, 2]} \\ text',
        "versions": {"1.0.0": {"name": "@acme/ui", "data": "not the tarball", "dist": {"shasum": "ab"}}},
        "_attachments": {
            "ui-1.0.0.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
                "length": len(data),
            }
        },
        **extra,
    }


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 10_000])
def test_the_tarball_is_split_out_at_any_chunk_boundary(chunk: int) -> None:
    data = bytes(range(256)) * 5
    doc = body(data)
    raw = json.dumps(doc).encode()
    skeleton, tarball = read(raw, chunk)
    assert tarball == data
    expected = json.loads(raw)
    expected["_attachments"]["ui-1.0.0.tgz"]["data"] = ""
    assert skeleton == expected


@pytest.mark.parametrize("chunk", [1, 3, 4, 1000])
def test_escaped_slashes_in_the_data_are_decoded(chunk: int) -> None:
    data = b"\xff\xff\xff" * 50  # base64 "////..."
    raw = json.dumps(body(data)).encode().replace(b"////", b"\\/\\/\\/\\/")
    assert b"\\/" in raw
    _, tarball = read(raw, chunk)
    assert tarball == data


def test_a_deprecate_body_has_no_tarball() -> None:
    raw = json.dumps({"name": "x", "versions": {"1.0.0": {"deprecated": "use 2"}}}).encode()
    skeleton, tarball = read(raw, 3)
    assert tarball is None and skeleton["versions"]["1.0.0"]["deprecated"] == "use 2"


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d["_attachments"].update({"b.tgz": {"data": "QUJD"}}), "exactly one attachment"),
        (lambda d: d["_attachments"]["ui-1.0.0.tgz"].update(data="%%%%"), "not valid base64"),
        (lambda d: d["_attachments"]["ui-1.0.0.tgz"].update(data="QUJ"), "multiple of 4"),
        (lambda d: d["_attachments"]["ui-1.0.0.tgz"].update(data="QQ==QUJD"), "padding"),
    ],
)
def test_bad_attachments_are_refused(mutate: Any, words: str) -> None:
    doc = body(b"abc")
    mutate(doc)
    with pytest.raises(PublishBodyError) as info:
        read(json.dumps(doc).encode(), 5)
    assert words in str(info.value)


def test_limits_are_enforced_as_the_body_arrives() -> None:
    with pytest.raises(PublishBodyError) as info:
        read(json.dumps(body(b"x" * 5000)).encode(), 100, max_tarball=4096)
    assert info.value.status == 413 and "4096" in str(info.value)
    with pytest.raises(PublishBodyError) as info:
        read(json.dumps(body(b"x", readme="r" * 5000)).encode(), 100, max_json=2000)
    assert info.value.status == 413


def test_a_body_ending_inside_a_string_is_refused() -> None:
    raw = json.dumps(body(b"abcdef")).encode()
    cut = raw.index(b'"data"') + 12
    with pytest.raises(PublishBodyError):
        read(raw[:cut], 4)


def test_escapes_cost_linear_time() -> None:
    """A string of escaped quotes is scanned once (each byte looked at once), not re-read at every quote."""
    import time

    doc = body(b"abc", readme='\\"' * 200_000 + "\\\\")
    raw = json.dumps(doc).encode()
    started = time.monotonic()
    skeleton, tarball = read(raw, 65536, max_json=len(raw) * 2)
    assert time.monotonic() - started < 2.0
    assert tarball == b"abc" and skeleton["readme"] == doc["readme"]


def test_nesting_is_bounded() -> None:
    with pytest.raises(PublishBodyError) as info:
        read(b"[" * 100_000, 4096)
    assert "nested" in str(info.value)
