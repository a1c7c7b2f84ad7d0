"""The external connection's reading of PEP 691 JSON and PEP 503 HTML project pages."""

from __future__ import annotations

import json

import pytest

from coffer.core.packages.upstreams import UpstreamUnavailableError
from coffer.upstreams.pypi_simple import SimpleIndex, parse_html_page, parse_json_page

SHA = "a" * 64
META = "b" * 64
PAGE = "https://pypi.example/simple/requests/"


def test_json_pages_give_absolute_urls_digests_sizes_and_metadata() -> None:
    body = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "Requests",
            "files": [
                {
                    "filename": "requests-2.31.0-py3-none-any.whl",
                    "url": "../../files/requests-2.31.0-py3-none-any.whl",
                    "hashes": {"sha256": SHA.upper()},
                    "requires-python": ">=3.7",
                    "core-metadata": {"sha256": META},
                    "size": 62574,
                    "upload-time": "2023-05-22T15:12:42.313790Z",
                },
                {
                    "filename": "requests-2.31.0.tar.gz",
                    "url": "https://files.example/requests-2.31.0.tar.gz#x",
                    "hashes": {"sha256": SHA},
                    "dist-info-metadata": False,
                },
                {"filename": "requests-2.30.0.tar.gz", "url": "x", "hashes": {"sha256": SHA}, "yanked": "broken"},
                {"filename": "requests-2.29.0.tar.gz", "url": "x", "hashes": {"md5": "c" * 32}},
                {"filename": "not-a-dist.exe", "url": "x", "hashes": {"sha256": SHA}},
            ],
        }
    ).encode()
    project = parse_json_page("requests", PAGE, body)
    assert project.name == "requests" and project.display_name == "Requests"
    wheel, sdist = project.files
    assert wheel.url == "https://pypi.example/files/requests-2.31.0-py3-none-any.whl"
    assert (wheel.sha256, wheel.metadata_sha256, wheel.size, wheel.requires_python) == (SHA, META, 62574, ">=3.7")
    assert wheel.version == "2.31.0" and wheel.upload_time == pytest.approx(1684768362.31379)
    assert sdist.url == "https://files.example/requests-2.31.0.tar.gz" and sdist.metadata_sha256 is None
    assert list(project.releases) == ["2.31.0"]


def test_html_pages_read_fragments_and_data_attributes() -> None:
    body = f"""<!DOCTYPE html><html><body>
    <a href="/packages/Foo_Bar-1.0-py3-none-any.whl#sha256={SHA}" data-requires-python="&gt;=3.8"
       data-dist-info-metadata="sha256={META}">Foo_Bar-1.0-py3-none-any.whl</a>
    <a href="foo_bar-1.1.tar.gz#sha256={SHA}" data-yanked="">foo_bar-1.1.tar.gz</a>
    <a href="foo_bar-1.2.tar.gz#md5=abc">foo_bar-1.2.tar.gz</a>
    <a href="foo_bar-1.3%2Blocal.tar.gz#sha256={SHA}">x</a>
    </body></html>""".encode()
    project = parse_html_page("foo-bar", "http://127.0.0.1:8080/simple/foo-bar/", body)
    assert [f.filename for f in project.files] == ["Foo_Bar-1.0-py3-none-any.whl", "foo_bar-1.3+local.tar.gz"]
    first = project.files[0]
    assert first.url == "http://127.0.0.1:8080/packages/Foo_Bar-1.0-py3-none-any.whl"
    assert (first.requires_python, first.metadata_sha256, first.version) == (">=3.8", META, "1.0")
    assert project.files[1].version == "1.3+local"


@pytest.mark.parametrize("body", [b"{not json", b'{"files": 3}', b"[]"])
def test_malformed_json_is_an_upstream_failure(body: bytes) -> None:
    with pytest.raises(UpstreamUnavailableError, match="requests"):
        parse_json_page("requests", PAGE, body)


def test_bad_links_and_digests_are_left_out_not_fatal() -> None:
    body = json.dumps(
        {
            "files": [
                {"filename": "a-1.0.tar.gz", "url": "https://[::1/a-1.0.tar.gz", "hashes": {"sha256": SHA}},
                {"filename": "a-1.1.tar.gz", "url": "a-1.1.tar.gz", "hashes": {"sha256": "z" * 64}},
                {"filename": "a-1.2.tar.gz", "url": "ftp://mirror/a-1.2.tar.gz", "hashes": {"sha256": SHA}},
                {"filename": "a-1.3.tar.gz", "url": "a-1.3.tar.gz", "hashes": {"sha256": SHA},
                 "core-metadata": {"sha256": "not-hex" * 9 + "x"}},
            ]
        }
    ).encode()  # fmt: skip
    project = parse_json_page("a", PAGE, body)
    assert [f.filename for f in project.files] == ["a-1.3.tar.gz"]
    assert project.files[0].metadata_sha256 is None
    html = f'<a href="https://[::1/a-1.0.tar.gz#sha256={SHA}">x</a><a href="a-1.4.tar.gz#sha256={SHA}">y</a>'
    assert [f.filename for f in parse_html_page("a", PAGE, html.encode()).files] == ["a-1.4.tar.gz"]


def test_credentials_go_to_the_index_origin_only() -> None:
    index = SimpleIndex("public:pypi", "https://user:secret@mirror.example/simple/", timeout=1)
    try:
        assert index._auth_for("https://mirror.example/packages/a.whl") is not None
        assert index._auth_for("http://mirror.example/packages/a.whl") is None  # never in clear
        assert index._auth_for("https://mirror.example:8443/a.whl") is None
        assert index._auth_for("https://files.example/a.whl") is None
    finally:
        index.close()


def test_a_listing_cannot_point_fetches_into_the_local_network() -> None:
    public = SimpleIndex("public:pypi", "https://pypi.example/simple/", timeout=1)
    local = SimpleIndex("public:pypi", "http://127.0.0.1:3141/simple/", timeout=1)
    try:
        assert public._may_fetch("https://files.example/a.whl")
        assert public._may_fetch("https://pypi.example/packages/a.whl")
        for inside in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:5432/a.whl",
                       "http://10.0.0.7/a.whl", "http://[::1]/a.whl", "http://localhost/a.whl"):  # fmt: skip
            assert not public._may_fetch(inside), inside
        assert local._may_fetch("http://127.0.0.1:3141/packages/a.whl")  # the index's own host
        assert not local._may_fetch("http://169.254.169.254/a.whl")
    finally:
        public.close()
        local.close()
