"""npm names and versions: what may be published, what may be read, and semver precedence."""

from __future__ import annotations

import pytest

from coffer.core.packages.npm_names import NpmName, clean_version, parse_name, semver_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("left-pad", NpmName(None, "left-pad")),
        ("@acme/ui", NpmName("acme", "ui")),
        ("@acme%2fui", NpmName("acme", "ui")),
        ("@acme%2Fui.core", NpmName("acme", "ui.core")),
        ("JSONStream", None),
        (".hidden", None),
        ("_private", None),
        ("@acme", None),
        ("@/ui", None),
        ("a/b", None),
        ("node_modules", None),
        ("x" * 215, None),
        ("has space", None),
        ("..", None),
    ],
)
def test_names_for_new_packages(text: str, expected: NpmName | None) -> None:
    assert parse_name(text) == expected


def test_old_upper_case_names_are_readable_not_publishable() -> None:
    assert parse_name("JSONStream", legacy=True) == NpmName(None, "JSONStream")
    assert parse_name("@Acme/Base64", legacy=True) == NpmName("Acme", "Base64")
    assert parse_name("JSONStream") is None
    assert parse_name("../x", legacy=True) is None and parse_name(".x", legacy=True) is None


def test_versions() -> None:
    assert clean_version("v1.2.3") == "1.2.3" and clean_version("=1.0.0") == "1.0.0"
    assert clean_version("1.0") is None and clean_version("01.0.0") is None
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]  # fmt: skip
    assert sorted(reversed(ordered), key=semver_key) == ordered  # semver.org's precedence example
