"""Distribution file names (``coffer.core.packages.pypi_dists.parse_filename``) and the hrefs of the simple pages
(``coffer.formats.pypi.simple``): issue 7, defect 6."""

from __future__ import annotations

import json
from urllib.parse import unquote, urljoin

import pytest

from coffer.core.packages.package_models import (
    Asset,
    BlobInfo,
    Package,
    PackageRef,
    PackageVersion,
    RepoRef,
    ResolvedVersion,
)
from coffer.core.packages.pypi_dists import MAX_FILENAME, DistributionError, parse_filename
from coffer.core.packages.pypi_names import is_valid_name
from coffer.formats.pypi import simple

# URL-significant, invisible or look-alike characters, each as it would sit in a name
HOSTILE = ["#", "?", " ", '"', "<", ">", "%2F", "%", "/", "\\", "\u2215", "&", "'", ";", "=", "@", ":", "\t", "\x00"]


def wheel_with(position: int, value: str) -> str:
    parts = ["demo", "1.0", "py3", "none", "any"]
    parts[position] = value
    return "-".join(parts) + ".whl"


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize(
    ("position", "what"), [(4, "the platform tag"), (3, "the ABI tag"), (2, "the Python tag"), (1, "version")]
)
def test_hostile_characters_in_a_wheel_are_refused_naming_the_part(bad: str, position: int, what: str) -> None:
    value = {4: "linux", 3: "abi3", 2: "cp311", 1: "1.0"}[position]
    filename = wheel_with(position, value[:2] + bad + value[2:])
    if "/" in bad or "\\" in bad:  # never a file name; refused before anything else
        with pytest.raises(DistributionError):
            parse_filename(filename)
        return
    with pytest.raises(DistributionError) as err:
        parse_filename(filename)
    message = str(err.value)
    assert message.startswith(f"Invalid distribution file name {filename!r}"), message
    assert what in message, message


@pytest.mark.parametrize("bad", ["#", "?", " ", '"', "<", "%2F", "\u2215", "\u212a"])
def test_hostile_characters_elsewhere_are_refused(bad: str) -> None:
    for filename in (
        f"demo-1.0-1{bad}-py3-none-any.whl",  # build tag
        f"de{bad}mo-1.0-py3-none-any.whl",  # name
        f"de{bad}mo-1.0.tar.gz",  # sdist name
        f"demo-1.0{bad}.tar.gz",  # sdist version
        f"demo-1{bad}.0.zip",
    ):
        with pytest.raises(DistributionError) as err:
            parse_filename(filename)
        assert "Invalid distribution file name" in str(err.value), filename


@pytest.mark.parametrize(
    "filename",
    [
        "demo-1.0-py3-none-linux x86_64.whl",
        "demo-1.0-py3-none-any .whl",
        "demo-1.0-py2..py3-none-any.whl",  # an empty tag in a compressed set
        "demo-1.0-.py3-none-any.whl",
        "demo-1.0-py3-none-.whl",
        "demo-1.0-x1-py3-none-any.whl",  # a build tag starts with a digit
        "demo-1.0-py3-none-any-extra-more.whl",  # 7 parts
        "demo-1.0-any.whl",
        "demo-not.a.version-py3-none-any.whl",
        "demo- 1.0.tar.gz",  # Version() would strip the space
        "demo-1.0\n.tar.gz",
        "demo.tar.gz",
        "-1.0.tar.gz",
        "_demo-1.0.tar.gz",
        "demo-.tar.gz",
        "démo-1.0.tar.gz",
        "demo-1.0-py3-none-any.WHL",
        "demo-1.0.exe",
        ".demo-1.0.tar.gz",
        "",
        "a" * (MAX_FILENAME - len("-1.0.tar.gz") + 1) + "-1.0.tar.gz",
    ],
)
def test_malformed_names_are_refused(filename: str) -> None:
    with pytest.raises(DistributionError):
        parse_filename(filename)


@pytest.mark.parametrize(
    ("filename", "kind", "name", "version"),
    [
        ("demo-1.0-py3-none-any.whl", "wheel", "demo", "1.0"),
        ("demo-1.0+local.build_7-py3-none-any.whl", "wheel", "demo", "1.0+local.build.7"),
        ("demo-1!2.0-py3-none-any.whl", "wheel", "demo", "1!2.0"),
        ("demo-1.0-12-py3-none-any.whl", "wheel", "demo", "1.0"),
        ("demo-1.0-2_bis-py3-none-any.whl", "wheel", "demo", "1.0"),
        ("demo-1.0-py2.py3-none-any.whl", "wheel", "demo", "1.0"),
        (
            "zope.interface-5.4.0-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "wheel",
            "zope-interface",
            "5.4.0",
        ),
        ("My_Pkg-1.0.0rc1-cp311-abi3-macosx_11_0_arm64.whl", "wheel", "my-pkg", "1.0.0rc1"),
        ("demo-1.0.tar.gz", "sdist", "demo", "1.0"),
        ("demo-1.0+local.tar.gz", "sdist", "demo", "1.0+local"),
        ("Foo-Bar-1.0.zip", "sdist", "foo-bar", "1.0"),  # legacy: '-' in the name, .zip
        ("foo_bar-2.0.post1.tar.gz", "sdist", "foo-bar", "2.0.post1"),
        ("a" * (MAX_FILENAME - len("-1.0.tar.gz")) + "-1.0.tar.gz", "sdist", "a" * 244, "1.0"),
    ],
)
def test_legitimate_names_are_parsed(filename: str, kind: str, name: str, version: str) -> None:
    dist = parse_filename(filename)
    assert (dist.filename, dist.kind, dist.name, dist.version) == (filename, kind, name, version)


def test_project_names_are_ascii() -> None:
    # re.IGNORECASE alone lets [A-Z] match these four non-ASCII letters; '$' would allow a trailing newline
    for name in ("\u212aelvin", "\u0130dem", "demo\u017f", "\u0131o", "demo\n"):
        assert not is_valid_name(name), repr(name)
    assert is_valid_name("Demo.Pkg_2-x")


# --- hrefs -------------------------------------------------------------------------------------------------


REPO = RepoRef("111122223333", "acme", "main")


def _resolved(version: str, *names: str) -> ResolvedVersion:
    ref = PackageRef(repo=REPO, format="pypi", namespace=None, name="demo")
    pv = PackageVersion(
        package=ref, version=version, display_version=version, status="Published", revision="r", published_time=1.0
    )
    assets = tuple(Asset(name=n, blob=BlobInfo("ab" * 32, 10, "m", "s", "x"), created_at=1.0) for n in names)
    return ResolvedVersion(version=pv, assets=assets, source=REPO)


def test_file_hrefs_are_percent_encoded_path_segments() -> None:
    # names stored before validation existed still get links that lead back to them
    names = ["demo-1.0+local-py3-none-any.whl", "demo-1.0-py3-none-a#b.whl", "demo-1.0-py3-none-a?b c.whl"]
    odd = ["demo-1.0-py3-none-%2F.whl", "demo-1.0-py3-none-\u2215.whl", 'demo-1.0-py3-none-"<>.whl']
    page = simple.project_page("demo", [_resolved("1.0+local", *names, *odd), _resolved("1!2.0", "demo-1!2.0.tar.gz")])
    urls = {f["filename"]: f["url"] for f in page["files"]}
    assert urls["demo-1.0+local-py3-none-any.whl"] == "1.0%2Blocal/demo-1.0%2Blocal-py3-none-any.whl"
    assert urls["demo-1!2.0.tar.gz"] == "1%212.0/demo-1%212.0.tar.gz"
    base = "https://coffer.test/pypi/d/acme-111122223333/main/simple/demo/"
    for filename, url in urls.items():
        assert all(c.isascii() and (c.isalnum() or c in "-._~%/") for c in url), url
        assert url.count("/") == 1, url
        joined = urljoin(base, url)
        assert joined.startswith(base) and "#" not in joined and "?" not in joined
        _version, segment = joined[len(base) :].split("/")
        assert unquote(segment) == filename

    html = simple.render_html(page).decode()
    for filename, url in urls.items():
        assert f'href="{url}#sha256={"ab" * 32}"' in html, filename
    rendered = json.loads(simple.render_json(page))
    assert {f["url"] for f in rendered["files"]} == set(urls.values())


def test_project_list_hrefs_are_encoded() -> None:
    packages = [Package(ref=PackageRef(repo=REPO, format="pypi", namespace=None, name="demo"), display_name="Demo")]
    html = simple.render_html(simple.project_list(packages)).decode()
    assert '<a href="demo/">Demo</a>' in html
    assert simple.href_segment("a b/#?%+!") == "a%20b%2F%23%3F%25%2B%21"
