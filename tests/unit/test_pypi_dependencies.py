"""Requires-Dist fields as ListPackageVersionDependencies reports them."""

from __future__ import annotations

from coffer.core.packages.pypi_dependencies import Dependency, requirement_dependency, requires_dist

METADATA = b"""Metadata-Version: 2.1
Name: demo
Version: 1.0
Requires-Dist: Requests[socks] (>=2.0) ; extra == 'net'
Requires-Dist: Foo_Bar>=1,<2; python_version<"3.9"
Requires-Dist: baz
Requires-Dist: not a requirement!!
Requires-Dist: pip @ https://example.com/pip.whl
Provides-Extra: net

A description that mentions Requires-Dist: nothing
"""


def dep(package: str, requirement: str) -> Dependency:
    return Dependency(package=package, dependency_type="Requires-Dist", version_requirement=requirement)


def test_requires_dist_in_file_order_normalized_and_invalid_ones_skipped() -> None:
    assert requires_dist(METADATA) == [
        dep("requests", '[socks]>=2.0; extra == "net"'),
        dep("foo-bar", '<2,>=1; python_version < "3.9"'),
        dep("baz", ""),
        dep("pip", "@ https://example.com/pip.whl"),
    ]


def test_the_name_and_the_requirement_make_the_requirement_again() -> None:
    d = requirement_dependency("requests[socks]>=2.0; extra == 'net'")
    assert d is not None
    assert d.namespace is None
    assert f"{d.package}{d.version_requirement}" == 'requests[socks]>=2.0; extra == "net"'


def test_no_dependencies() -> None:
    assert requires_dist(b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n") == []
    assert requires_dist(b"") == []
    assert requires_dist(b"\xff\xfe\x00garbage") == []
    assert requirement_dependency("") is None
