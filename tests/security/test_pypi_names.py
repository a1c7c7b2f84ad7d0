"""File names on the PyPI endpoint, replayed against a real ``coffer serve`` process (issue 7, defects 6, 7, 8).

- Wheel and sdist names holding URL-significant characters (``#``, ``?``, space, ``"``, ``<``, ``%2F``, U+2215)
  anywhere, the platform tag included, are refused with 400 and a message naming the part at fault; the file
  itself is a real, consistent wheel, so only the name can be the reason.
- The simple pages percent-encode every href (a ``+local`` version's ``+`` as ``%2B``), and the encoded links
  lead to the files: httpx follows them, pip and uv install from them.
- A file name, once used in a repository, keeps its content (PyPI's rule): after DeletePackageVersions the name
  cannot be uploaded again with other bytes (400, the reuse message), the same bytes are welcome; an overwriting
  CopyPackageVersions cannot change a name's content either.
- DescribeDomain's ``assetSizeBytes`` is the stored size: the sum of the files, each content once per domain.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.functional.conftest import ACCOUNT, make_client
from tests.functional.dists import build_sdist, build_wheel
from tests.functional.pypi_clients import UV, Repo, client_env, new_repo, run
from tests.functional.server import RunningServer, running_server

JSON_V1 = "application/vnd.pypi.simple.v1+json"
REUSE = "has already been used in repository"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("coffer-names") / "data", "--account-id", ACCOUNT) as srv:
        yield srv


@pytest.fixture(scope="module")
def ca(server: RunningServer) -> Any:
    return make_client(server)


@pytest.fixture()
def repo(server: RunningServer, ca: Any) -> Repo:
    domain = f"names-{uuid.uuid4().hex[:10]}"
    ca.create_domain(domain=domain)
    return new_repo(ca, server, domain, "main")


def _quoted(text: str) -> bytes:
    """A multipart parameter value as a quoted-string (backslash escapes), raw UTF-8 otherwise: the name reaches
    the server exactly as written."""
    return b'"' + text.encode("utf-8").replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def upload(repo: Repo, filename: str, data: bytes, name: str, version: str) -> httpx.Response:
    """The legacy upload, its multipart body built by hand (clients escape file names their own way)."""
    boundary = uuid.uuid4().hex
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel" if filename.endswith(".whl") else "sdist",
        "pyversion": "py3" if filename.endswith(".whl") else "source",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    body = bytearray()
    for key, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename='.encode()
    body += _quoted(filename) + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return httpx.post(
        repo.endpoint,
        auth=repo.auth,
        content=bytes(body),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )


def upload_file(repo: Repo, path: Path, name: str, version: str) -> httpx.Response:
    return upload(repo, path.name, path.read_bytes(), name, version)


def project(repo: Repo, name: str) -> httpx.Response:
    return httpx.get(repo.index + f"{name}/", auth=repo.auth, headers={"Accept": JSON_V1}, timeout=30)


# --- defect 6: names --------------------------------------------------------------------------------------


HOSTILE = {
    "hash": "#",
    "query": "?",
    "space": " ",
    "quote": '"',
    "angle": "<",
    "slash-escape": "%2F",
    "U+2215": "\u2215",
}
POSITIONS = {  # where the character goes, and what the message must name
    "platform": ("demo_names-1.0-py3-none-li{}nux_x86_64.whl", "the platform tag"),
    "abi": ("demo_names-1.0-py3-no{}ne-any.whl", "the ABI tag"),
    "python": ("demo_names-1.0-p{}y3-none-any.whl", "the Python tag"),
    "build": ("demo_names-1.0-1{}-py3-none-any.whl", "the build tag"),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real wheel of demo-names 1.0, consistent with itself: a name that only differs in its tags is fine."""
    return build_wheel(tmp_path_factory.mktemp("wheel"), "demo-names", "1.0").read_bytes()


@pytest.mark.parametrize("char", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("position", POSITIONS)
def test_url_significant_characters_in_wheel_tags_are_refused(
    server: RunningServer, ca: Any, wheel: bytes, position: str, char: str
) -> None:
    domain = f"tags-{uuid.uuid4().hex[:10]}"
    ca.create_domain(domain=domain)
    repo = new_repo(ca, server, domain, "main")
    template, part = POSITIONS[position]
    filename = template.format(char)
    r = upload(repo, filename, wheel, "demo-names", "1.0")
    assert r.status_code == 400, (filename, r.status_code, r.text)
    assert r.text.startswith("Invalid distribution file name"), r.text
    assert part in r.text, r.text
    assert part in r.reason_phrase, r.reason_phrase  # what twine prints
    assert project(repo, "demo-names").status_code == 404  # nothing stored
    # the same bytes under their real name are accepted
    assert upload(repo, "demo_names-1.0-py3-none-any.whl", wheel, "demo-names", "1.0").status_code == 200


def test_url_significant_characters_in_sdist_names_are_refused(repo: Repo, tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "demo-names", "1.0").read_bytes()
    for char in HOSTILE.values():
        for filename in (f"demo_names-1.0{char}.tar.gz", f"demo_names{char}-1.0.tar.gz"):
            r = upload(repo, filename, sdist, "demo-names", "1.0")
            assert r.status_code == 400, (filename, r.text)
            assert r.text.startswith("Invalid distribution file name"), r.text
    assert project(repo, "demo-names").status_code == 404


def test_hrefs_are_percent_encoded_and_lead_to_the_files(repo: Repo, tmp_path: Path) -> None:
    local = build_wheel(tmp_path, "demo-names", "1.0+local.7")
    sdist = build_sdist(tmp_path, "demo-names", "1.0+local.7")
    plain = build_wheel(tmp_path, "demo-names", "0.9")
    for path, version in ((local, "1.0+local.7"), (sdist, "1.0+local.7"), (plain, "0.9")):
        r = upload_file(repo, path, "demo-names", version)
        assert r.status_code == 200, (path.name, r.text)
    page_url = repo.index + "demo-names/"
    r = project(repo, "demo-names")
    assert r.status_code == 200
    urls = {f["filename"]: f["url"] for f in r.json()["files"]}
    assert urls == {
        local.name: "1.0%2Blocal.7/demo_names-1.0%2Blocal.7-py3-none-any.whl",
        sdist.name: "1.0%2Blocal.7/demo_names-1.0%2Blocal.7.tar.gz",
        plain.name: "0.9/demo_names-0.9-py3-none-any.whl",
    }
    html = httpx.get(page_url, auth=repo.auth, timeout=30).text
    for filename, url in urls.items():
        assert f'href="{url}#sha256=' in html, (filename, html)
    files = {local.name: local, sdist.name: sdist, plain.name: plain}
    with httpx.Client(auth=repo.auth, timeout=30) as http:
        for filename, url in urls.items():
            got = http.get(urljoin(page_url, url))
            assert got.status_code == 200, (url, got.text)
            assert got.content == files[filename].read_bytes()
            # a raw '+' names the same file
            raw = http.get(urljoin(page_url, url.replace("%2B", "+")))
            assert raw.status_code == 200 and raw.content == got.content
        assert http.get(urljoin(page_url, urls[local.name]) + ".metadata").status_code == 200


def test_pip_and_uv_install_a_local_version(repo: Repo, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo-names", "2.0+local")
    assert upload_file(repo, wheel, "demo-names", "2.0+local").status_code == 200
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    env = client_env(tmp_path, PIP_INDEX_URL=repo.authed_index())
    r = run([py, "-m", "pip", "install", "--no-cache-dir", "demo-names==2.0+local"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    check = run([py, "-c", "import demo_names; print(demo_names.VALUE)"], env)
    assert check.stdout.strip() == "demo-names 2.0+local"

    uvenv = tmp_path / "uvenv"
    r = run([UV, "venv", "--no-config", "--python", sys.executable, str(uvenv)], client_env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    uvpy = str(uvenv / "bin" / "python")
    cmd = [UV, "pip", "install", "--no-cache", "--python", uvpy, "--index-url", repo.authed_index()]
    r = run([*cmd, "demo-names==2.0+local"], client_env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    check = run([uvpy, "-c", "import demo_names; print(demo_names.VALUE)"], env)
    assert check.stdout.strip() == "demo-names 2.0+local"


# --- defect 7: a file name keeps its content ------------------------------------------------------------


def test_a_deleted_file_name_cannot_come_back_with_other_bytes(repo: Repo, ca: Any, tmp_path: Path) -> None:
    (tmp_path / "second").mkdir()
    first = build_wheel(tmp_path, "demo-reuse", "1.0")
    second = build_wheel(tmp_path / "second", "demo-reuse", "1.0", requires_python=">=3.10")
    assert first.name == second.name and first.read_bytes() != second.read_bytes()
    assert upload_file(repo, first, "demo-reuse", "1.0").status_code == 200
    coords = {"domain": repo.domain, "repository": repo.name, "format": "pypi", "package": "demo-reuse"}
    deleted = ca.delete_package_versions(**coords, versions=["1.0"])
    assert set(deleted["successfulVersions"]) == {"1.0"}, deleted
    assert project(repo, "demo-reuse").status_code == 404

    r = upload_file(repo, second, "demo-reuse", "1.0")
    assert r.status_code == 400, r.text
    for text in (r.text, r.reason_phrase):
        assert second.name in text and REUSE in text and "other content" in text, text
        assert "https://pypi.org/help/#file-name-reuse" in text
    assert project(repo, "demo-reuse").status_code == 404  # nothing published

    r = upload_file(repo, first, "demo-reuse", "1.0")  # the same bytes again
    assert r.status_code == 200, r.text
    files = project(repo, "demo-reuse").json()["files"]
    assert [(f["filename"], f["hashes"]["sha256"]) for f in files] == [
        (first.name, hashlib.sha256(first.read_bytes()).hexdigest())
    ]
    # disposing does not free the name either
    ca.dispose_package_versions(**coords, versions=["1.0"])
    ca.delete_package_versions(**coords, versions=["1.0"])
    assert upload_file(repo, second, "demo-reuse", "1.0").status_code == 400


def test_copy_with_overwrite_cannot_change_a_files_content(
    repo: Repo, ca: Any, server: RunningServer, tmp_path: Path
) -> None:
    other = new_repo(ca, server, repo.domain, "other")
    (tmp_path / "b").mkdir()
    in_src = build_wheel(tmp_path, "demo-copy", "1.0")
    in_dst = build_wheel(tmp_path / "b", "demo-copy", "1.0", requires_python=">=3.11")
    assert upload_file(repo, in_src, "demo-copy", "1.0").status_code == 200
    assert upload_file(other, in_dst, "demo-copy", "1.0").status_code == 200
    result = ca.copy_package_versions(
        domain=repo.domain,
        sourceRepository=repo.name,
        destinationRepository=other.name,
        format="pypi",
        package="demo-copy",
        versions=["1.0"],
        allowOverwrite=True,
    )
    assert result["successfulVersions"] == {}, result
    assert result["failedVersions"]["1.0"]["errorCode"] == "NOT_ALLOWED", result
    assert REUSE in result["failedVersions"]["1.0"]["errorMessage"]
    # refused before anything was deleted: the destination keeps its file
    files = project(other, "demo-copy").json()["files"]
    assert [f["hashes"]["sha256"] for f in files] == [hashlib.sha256(in_dst.read_bytes()).hexdigest()]


# --- defect 8: the domain's stored size --------------------------------------------------------------------


def test_describe_domain_reports_the_stored_size(repo: Repo, ca: Any, tmp_path: Path) -> None:
    def size() -> int:
        return int(ca.describe_domain(domain=repo.domain)["domain"]["assetSizeBytes"])

    assert size() == 0
    wheel = build_wheel(tmp_path, "demo-size", "1.0")
    sdist = build_sdist(tmp_path, "demo-size", "1.0")
    later = build_wheel(tmp_path, "demo-size", "2.0")
    for path, version in ((wheel, "1.0"), (sdist, "1.0"), (later, "2.0")):
        assert upload_file(repo, path, "demo-size", version).status_code == 200
    sizes = {p.name: p.stat().st_size for p in (wheel, sdist, later)}
    assert size() == sum(sizes.values())
    # a copy into another repository of the domain stores nothing new: each content counts once per domain
    ca.create_repository(domain=repo.domain, repository="copy")
    copied = ca.copy_package_versions(
        domain=repo.domain,
        sourceRepository=repo.name,
        destinationRepository="copy",
        format="pypi",
        package="demo-size",
        versions=["1.0"],
    )
    assert set(copied["successfulVersions"]) == {"1.0"}, copied
    assert size() == sum(sizes.values())
    # deleting a version frees its files' storage (AWS: deleted assets are no longer stored) unless still used
    coords = {"domain": repo.domain, "format": "pypi", "package": "demo-size"}
    ca.delete_package_versions(**coords, repository=repo.name, versions=["2.0"])
    assert size() == sizes[wheel.name] + sizes[sdist.name]
    ca.delete_package_versions(**coords, repository=repo.name, versions=["1.0"])
    assert size() == sizes[wheel.name] + sizes[sdist.name]  # still in "copy"
    ca.dispose_package_versions(**coords, repository="copy", versions=["1.0"])
    assert size() == 0
    # ListDomains has no such field (DomainSummary), DescribeRepository neither
    listed = [d for d in ca.list_domains()["domains"] if d["name"] == repo.domain]
    assert listed and "assetSizeBytes" not in listed[0]
