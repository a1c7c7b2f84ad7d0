"""The uvicorn tables the status-line patch of ``coffer.app.uvicorn_fence`` wraps are still what it expects.

If a test here fails after a uvicorn upgrade, fix ``coffer/app/uvicorn_fence.py`` and the pin in pyproject.toml
before anything else: twine and pip would otherwise stop seeing Coffer's reason phrases (the upload refusals' text).
"""

from __future__ import annotations

import inspect
import tomllib
from http import HTTPStatus
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version
from uvicorn.protocols.http import h11_impl, httptools_impl

from coffer.app.uvicorn_fence import install_reason_phrases
from coffer.formats.reason import RESPONSE_REASON

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _uvicorn_requirement() -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == "uvicorn")


def test_uvicorn_is_pinned_below_its_next_series_and_the_installed_one_is_inside() -> None:
    spec = _uvicorn_requirement().specifier
    installed = Version(version("uvicorn"))
    assert installed in spec, f"uvicorn {installed} is outside the pin {spec}"
    upper = [s for s in spec if s.operator == "<"]
    assert upper, f"uvicorn must be pinned below its next series, got {spec}"
    next_series = Version(f"{installed.major}.{installed.minor + 1}") if installed.major == 0 else None
    if next_series is not None:
        assert next_series not in spec, f"the pin {spec} lets uvicorn {next_series} in unchecked"


def test_the_tables_are_what_the_patch_wraps() -> None:
    lines, phrases = dict(httptools_impl.STATUS_LINE), dict(h11_impl.STATUS_PHRASES)
    for status in HTTPStatus:
        assert lines[status.value] == b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()), status
        assert phrases[status.value] == status.phrase.encode(), status
    assert set(lines) == set(phrases) == set(range(100, 600))


def test_uvicorn_reads_the_tables_when_it_writes_a_status_line() -> None:
    """The patch replaces the module attributes, so uvicorn must look them up per response, by those names."""
    assert "STATUS_LINE[status_code]" in inspect.getsource(httptools_impl.RequestResponseCycle.send)
    assert "STATUS_PHRASES[status]" in inspect.getsource(h11_impl.RequestResponseCycle.send)


def test_the_patch_answers_the_asked_phrase_and_uvicorns_otherwise() -> None:
    original_line, original_phrase = httptools_impl.STATUS_LINE[401], h11_impl.STATUS_PHRASES[401]
    install_reason_phrases()
    install_reason_phrases()  # idempotent
    assert httptools_impl.STATUS_LINE[401] == original_line
    assert h11_impl.STATUS_PHRASES[401] == original_phrase
    token = RESPONSE_REASON.set("Token expired")
    try:
        assert httptools_impl.STATUS_LINE[401] == b"HTTP/1.1 401 Token expired\r\n"
        assert h11_impl.STATUS_PHRASES[401] == b"Token expired"
    finally:
        RESPONSE_REASON.reset(token)
    assert httptools_impl.STATUS_LINE[401] == original_line
