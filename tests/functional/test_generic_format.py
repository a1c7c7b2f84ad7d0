"""Generic packages against a real ``coffer serve``: PublishPackageVersion with boto3, the aws CLI and a raw-socket
SigV4 client (which streams a body while it waits for the answer, so a test sees how much of it had been sent),
then every package operation on what was published.

The server's upload limit is lowered to 3 MiB (``COFFER_MAX_UPLOAD_BYTES``) so that a body over it is cheap to send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, make_client, read_profile, token_policy
from tests.functional.server import RunningServer, running_server
from tests.functional.test_aws_cli import run_aws
from tests.raw_http import stream_request

MiB = 1024 * 1024
LIMIT = 3 * MiB  # the server's upload limit in these tests
DOMAIN = "gen"
REPO = "main"


@dataclass
class Setup:
    server: RunningServer
    ca: Any  # the admin's boto3 client

    def blobs(self) -> set[str]:
        return {p.name for p in (self.server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file()}

    def pending(self) -> list[Path]:
        return [p for p in (self.server.data_dir / "blobs" / "tmp").rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("generic")
    env = {"COFFER_MAX_UPLOAD_BYTES": str(LIMIT)}
    with running_server(root / "data", "--account-id", ACCOUNT, env=env) as server:
        ca = make_client(server)
        ca.create_domain(domain=DOMAIN)
        ca.create_repository(domain=DOMAIN, repository=REPO)
        yield Setup(server, ca)


@pytest.fixture()
def package(unique: Callable[[str], str]) -> dict[str, str]:
    """The coordinates of a new generic package in ``gen/main``."""
    return {"domain": DOMAIN, "repository": REPO, "format": "generic", "namespace": "ns", "package": unique("pkg")}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(ca: Any, coords: dict[str, str], version: str, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = ca.publish_package_version(
        **coords, packageVersion=version, assetName=name, assetContent=data, assetSHA256=sha(data), **extra
    )
    out.pop("ResponseMetadata", None)
    return out


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


# --- a raw HTTP/1.1 client signing with SigV4, streaming the body while it waits for the answer ------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes handed to the kernel when the status line arrived
    done: bool  # the whole body had been sent by then
    seconds: float  # from the end of the request head to the status line

    def json(self) -> Any:
        return json.loads(self.body)


def raw_publish(
    server: RunningServer,
    key: tuple[str, str],
    query: dict[str, str],
    pieces: Iterable[bytes],
    *,
    content_sha256: str,
    length: int | None,
    wait: float = 0.0,
) -> Reply:
    """POST /v1/package/version/publish with ``query``, signed by ``key`` with ``content_sha256`` as the payload
    hash; the body (``pieces``: Content-Length ``length``, or chunked when None) is sent from another thread,
    starting ``wait`` seconds after the head, and stops when the answer arrives."""
    url = f"{server.url}/v1/package/version/publish?{urlencode(query, quote_via=quote)}"
    request = AWSRequest(method="POST", url=url, data=b"", headers={"X-Amz-Content-SHA256": content_sha256})
    SigV4Auth(Credentials(*key), "codeartifact", "us-east-1").add_auth(request)
    parts = urlsplit(url)
    head = [f"POST {parts.path}?{parts.query} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in request.headers.items()]
    raw = stream_request(parts.hostname or "127.0.0.1", parts.port or 80, head, pieces, length, wait=wait)
    return Reply(raw.status, raw.headers, raw.body, raw.sent, raw.done, raw.seconds)


def query_of(coords: dict[str, str], version: str, asset: str, **extra: str) -> dict[str, str]:
    q = {k: v for k, v in coords.items() if k != "package"}
    return {**q, "package": coords["package"], "version": version, "asset": asset, **extra}


def blocks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = b"z" * min(size, total - sent)
        sent += len(piece)
        yield piece


# --- publishing and reading back ---------------------------------------------------------------------------------


def test_publish_and_read_back(setup: Setup, package: dict[str, str]) -> None:
    ca = setup.ca
    data = bytes(range(256)) * 10_000  # 2.5 MB: several blocks of the stream
    out = publish(ca, package, "1.0.0", "tool.tar.gz", data)
    assert out["format"] == "generic" and out["namespace"] == "ns" and out["package"] == package["package"]
    assert out["version"] == "1.0.0" and out["status"] == "Published" and out["versionRevision"]
    assert out["asset"] == {
        "name": "tool.tar.gz",
        "size": len(data),
        "hashes": {
            "MD5": hashlib.md5(data).hexdigest(),
            "SHA-1": hashlib.sha1(data).hexdigest(),
            "SHA-256": sha(data),
            "SHA-512": hashlib.sha512(data).hexdigest(),
        },
    }
    coords = dict(package)
    got = ca.get_package_version_asset(**coords, packageVersion="1.0.0", asset="tool.tar.gz")
    assert got["asset"].read() == data
    assert (got["assetName"], got["packageVersion"]) == ("tool.tar.gz", "1.0.0")
    assert got["packageVersionRevision"] == out["versionRevision"]
    assets = ca.list_package_version_assets(**coords, packageVersion="1.0.0")
    assert [a["name"] for a in assets["assets"]] == ["tool.tar.gz"]
    assert assets["versionRevision"] == out["versionRevision"]
    versions = ca.list_package_versions(**coords)
    assert [(v["version"], v["status"]) for v in versions["versions"]] == [("1.0.0", "Published")]
    assert versions["defaultDisplayVersion"] == "1.0.0"
    described = ca.describe_package_version(**coords, packageVersion="1.0.0")["packageVersion"]
    assert described["status"] == "Published" and described["format"] == "generic"
    assert described["origin"] == {"domainEntryPoint": {"repositoryName": REPO}, "originType": "INTERNAL"}
    pkg = ca.describe_package(**coords)["package"]
    assert pkg["originConfiguration"]["restrictions"] == {"publish": "ALLOW", "upstream": "BLOCK"}
    listed = ca.list_packages(domain=DOMAIN, repository=REPO, format="generic", namespace="ns")["packages"]
    assert package["package"] in [p["package"] for p in listed]
    assert ca.list_package_version_dependencies(**coords, packageVersion="1.0.0")["dependencies"] == []
    assert ca.get_package_version_readme(**coords, packageVersion="1.0.0").get("readme", "") == ""


def test_a_sha256_mismatch_stores_nothing(setup: Setup, package: dict[str, str]) -> None:
    before = setup.blobs()
    with pytest.raises(ClientError) as err:
        setup.ca.publish_package_version(
            **package, packageVersion="1.0", assetName="a.bin", assetContent=b"the real bytes",
            assetSHA256=sha(b"other bytes"),
        )  # fmt: skip
    assert code(err) == "ValidationException"
    assert "does not match assetSHA256" in str(err.value)
    assert setup.blobs() == before and setup.pending() == []
    with pytest.raises(ClientError) as missing:
        setup.ca.describe_package(**package)
    assert code(missing) == "ResourceNotFoundException"


def test_unfinished_then_more_assets_then_finished(setup: Setup, package: dict[str, str]) -> None:
    ca = setup.ca
    first = publish(ca, package, "2.0", "part-1.bin", b"one", unfinished=True)
    assert first["status"] == "Unfinished"
    second = publish(ca, package, "2.0", "part-2.bin", b"two", unfinished=True)
    assert second["status"] == "Unfinished" and second["versionRevision"] != first["versionRevision"]
    versions = ca.list_package_versions(**package)
    assert [(v["version"], v["status"]) for v in versions["versions"]] == [("2.0", "Unfinished")]
    assert versions.get("defaultDisplayVersion") is None
    assert ca.list_package_versions(**package, status="Published")["versions"] == []
    assert ca.describe_package_version(**package, packageVersion="2.0")["packageVersion"]["status"] == "Unfinished"
    names = [a["name"] for a in ca.list_package_version_assets(**package, packageVersion="2.0")["assets"]]
    assert names == ["part-1.bin", "part-2.bin"]
    with pytest.raises(ClientError) as not_yet:  # not downloadable until Published
        ca.get_package_version_asset(**package, packageVersion="2.0", asset="part-1.bin")
    assert code(not_yet) == "ResourceNotFoundException"
    last = publish(ca, package, "2.0", "part-3.bin", b"three")
    assert last["status"] == "Published"
    got = ca.get_package_version_asset(**package, packageVersion="2.0", asset="part-1.bin")
    assert got["asset"].read() == b"one"
    with pytest.raises(ClientError) as closed:  # a Published version takes no more assets
        publish(ca, package, "2.0", "part-4.bin", b"four")
    assert code(closed) == "ConflictException"
    assert closed.value.response["resourceType"] == "package-version"
    names = [a["name"] for a in ca.list_package_version_assets(**package, packageVersion="2.0")["assets"]]
    assert names == ["part-1.bin", "part-2.bin", "part-3.bin"]


def test_update_status_publishes_an_unfinished_version(setup: Setup, package: dict[str, str]) -> None:
    ca = setup.ca
    publish(ca, package, "1.0", "a.bin", b"a", unfinished=True)
    result = ca.update_package_versions_status(
        **package, versions=["1.0"], targetStatus="Published", expectedStatus="Unfinished"
    )
    assert result["successfulVersions"]["1.0"]["status"] == "Published"
    assert ca.get_package_version_asset(**package, packageVersion="1.0", asset="a.bin")["asset"].read() == b"a"


def test_a_changed_asset_is_a_conflict_and_the_same_bytes_are_a_no_op(setup: Setup, package: dict[str, str]) -> None:
    ca = setup.ca
    first = publish(ca, package, "1.0", "a.bin", b"original", unfinished=True)
    with pytest.raises(ClientError) as err:
        publish(ca, package, "1.0", "a.bin", b"changed", unfinished=True)
    assert code(err) == "ConflictException"
    assert err.value.response["Error"]["Code"] == "ConflictException"
    assert err.value.response["resourceType"] == "asset" and err.value.response["resourceId"] == "a.bin"
    again = publish(ca, package, "1.0", "a.bin", b"original", unfinished=True)
    assert again["asset"] == first["asset"] and again["status"] == "Unfinished"
    done = publish(ca, package, "1.0", "a.bin", b"original")  # a retry that finishes it
    assert done["status"] == "Published"
    repeat = publish(ca, package, "1.0", "a.bin", b"original")  # the final call again
    assert repeat["versionRevision"] == done["versionRevision"]
    with pytest.raises(ClientError) as changed:
        publish(ca, package, "1.0", "a.bin", b"changed")
    assert code(changed) == "ConflictException"


BAD_NAMES = [
    "..",
    ".",
    "dir/file.bin",
    " leading.bin",
    "trailing.bin ",
    "two  spaces.bin",
    "star*.bin",
    "quote'.bin",
    "tab\t.bin",  # a control character: the model's pattern refuses it
    "x" * 256,  # the model's length
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_asset_names_are_refused(setup: Setup, package: dict[str, str], name: str) -> None:
    with pytest.raises(ClientError) as err:
        publish(setup.ca, package, "1.0", name, b"bytes")
    assert code(err) == "ValidationException", err.value
    with pytest.raises(ClientError) as missing:
        setup.ca.describe_package(**package)
    assert code(missing) == "ResourceNotFoundException"


def test_good_asset_names_are_taken(setup: Setup, package: dict[str, str]) -> None:
    names = ["my asset (v2) [final] {x};y,z~!@^&+-_.bin", "Ünïcödé-名前.bin", "...", "a"]
    for i, name in enumerate(names):
        publish(setup.ca, package, "1.0", name, str(i).encode(), unfinished=i < len(names) - 1)
    listed = setup.ca.list_package_version_assets(**package, packageVersion="1.0")["assets"]
    assert sorted(a["name"] for a in listed) == sorted(names)
    got = setup.ca.get_package_version_asset(**package, packageVersion="1.0", asset=names[1])
    assert unquote(got["assetName"]) == names[1]  # non-ASCII names travel percent-encoded in the header
    assert got["asset"].read() == b"1"


def test_only_generic_and_with_a_namespace(setup: Setup, package: dict[str, str]) -> None:
    for fmt in ("pypi", "npm", "maven"):
        with pytest.raises(ClientError) as err:
            publish(setup.ca, {**package, "format": fmt}, "1.0", "a.bin", b"bytes")
        assert code(err) == "ValidationException"
        assert "at 'format'" in str(err.value) and "[generic]" in str(err.value)
    without = {k: v for k, v in package.items() if k != "namespace"}
    with pytest.raises(ClientError) as err:
        publish(setup.ca, without, "1.0", "a.bin", b"bytes")
    assert code(err) == "ValidationException" and "namespace" in str(err.value)


def test_versions_are_checked_by_the_model_pattern(setup: Setup, package: dict[str, str]) -> None:
    with pytest.raises(ClientError) as err:
        publish(setup.ca, package, "1.0#beta", "a.bin", b"bytes")
    assert code(err) == "ValidationException" and "packageVersion" in str(err.value)


# --- limits before work ----------------------------------------------------------------------------------------


def test_an_asset_over_the_limit_is_refused(setup: Setup, package: dict[str, str]) -> None:
    before = setup.blobs()
    data = b"y" * (LIMIT + 1)
    with pytest.raises(ClientError) as err:
        publish(setup.ca, package, "1.0", "big.bin", data)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert code(err) == "RequestEntityTooLargeException"
    assert str(LIMIT) in str(err.value)
    publish(setup.ca, package, "1.0", "just-right.bin", b"y" * LIMIT)  # the limit itself is fine
    assert setup.blobs() - before == {sha(b"y" * LIMIT)} and setup.pending() == []


def test_a_chunked_body_over_the_limit_is_refused_as_it_streams(setup: Setup, package: dict[str, str]) -> None:
    """No Content-Length: the limit holds as the bytes arrive, and the answer comes before the body is all sent."""
    key = read_profile(setup.server.credentials_file)
    before = setup.blobs()
    total = 64 * MiB
    reply = raw_publish(
        setup.server, key, query_of(package, "1.0", "big.bin"), blocks(total), content_sha256="0" * 64, length=None
    )
    assert reply.status == 413, reply
    assert reply.json()["__type"] == "RequestEntityTooLargeException"
    assert reply.headers.get("connection") == "close"
    assert not reply.done and reply.sent < total // 2, reply.sent
    assert setup.blobs() == before and setup.pending() == []
    with pytest.raises(ClientError):
        setup.ca.describe_package(**package)


def test_a_declared_length_over_the_limit_is_refused_before_any_byte(setup: Setup, package: dict[str, str]) -> None:
    key = read_profile(setup.server.credentials_file)
    reply = raw_publish(
        setup.server, key, query_of(package, "1.0", "big.bin"), blocks(MiB), content_sha256="0" * 64,
        length=400 * MiB, wait=30,
    )  # fmt: skip
    assert reply.status == 413 and reply.sent == 0 and reply.seconds < 10, reply
    assert reply.headers.get("connection") == "close"


def reader_key(server: RunningServer, unique: Callable[[str], str]) -> tuple[str, str]:
    """The access key of a new IAM user that may read the repository and describe its packages, not publish."""
    iam = make_client(server, service="iam")
    name = unique("reader")
    iam.create_user(UserName=name)
    policy = token_policy("codeartifact:ReadFromRepository", "codeartifact:Describe*")
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_an_unauthorized_caller_is_refused_before_the_body_is_read(
    setup: Setup, package: dict[str, str], unique: Callable[[str], str]
) -> None:
    key = reader_key(setup.server, unique)
    # a body of the largest size allowed announced, not a byte of it sent: the denial comes anyway, at once
    reply = raw_publish(
        setup.server, key, query_of(package, "1.0", "a.bin"), blocks(MiB), content_sha256="0" * 64,
        length=LIMIT, wait=30,
    )  # fmt: skip
    assert reply.status == 403, reply
    assert reply.json()["__type"] == "AccessDeniedException"
    assert "codeartifact:PublishPackageVersion" in reply.json()["message"]
    assert reply.sent == 0 and reply.seconds < 10
    assert reply.headers.get("connection") == "close"
    # and through boto3
    with pytest.raises(ClientError) as err:
        publish(make_client(setup.server, key), package, "1.0", "a.bin", b"bytes")
    assert code(err) == "AccessDeniedException"
    with pytest.raises(ClientError):
        setup.ca.describe_package(**package)


def test_an_unknown_key_is_refused_before_the_body_is_read(setup: Setup, package: dict[str, str]) -> None:
    reply = raw_publish(
        setup.server, ("AKIAUNKNOWNKEY000000", "secret"), query_of(package, "1.0", "a.bin"), blocks(MiB),
        content_sha256="0" * 64, length=LIMIT, wait=30,
    )  # fmt: skip
    assert reply.status == 403 and reply.json()["__type"] == "UnrecognizedClientException", reply
    assert reply.sent == 0 and reply.seconds < 10


@pytest.mark.parametrize("declared", ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "not-a-hash"])
def test_the_payload_hash_must_be_declared(setup: Setup, package: dict[str, str], declared: str) -> None:
    key = read_profile(setup.server.credentials_file)
    reply = raw_publish(
        setup.server, key, query_of(package, "1.0", "a.bin"), [b"bytes"], content_sha256=declared, length=5
    )
    assert reply.status == 403 and reply.json()["__type"] == "IncompleteSignatureException", reply
    assert "x-amz-content-sha256" in reply.json()["message"]


def test_a_tampered_payload_hash_fails_the_signature(setup: Setup, package: dict[str, str]) -> None:
    """The signature covers x-amz-content-sha256: a hash changed after signing is refused before the body."""
    key = read_profile(setup.server.credentials_file)
    url = f"{setup.server.url}/v1/package/version/publish?{urlencode(query_of(package, '1.0', 'a.bin'))}"
    request = AWSRequest(method="POST", url=url, data=b"", headers={"X-Amz-Content-SHA256": sha(b"signed")})
    SigV4Auth(Credentials(*key), "codeartifact", "us-east-1").add_auth(request)
    import httpx

    headers = {**dict(request.headers.items()), "X-Amz-Content-SHA256": sha(b"sent")}
    r = httpx.post(url, headers=headers, content=b"sent", timeout=30)
    assert r.status_code == 403 and r.json()["__type"] == "InvalidSignatureException", r.text


# --- the rules publishing obeys --------------------------------------------------------------------------------


def test_origin_controls_and_package_groups_apply(setup: Setup, package: dict[str, str], unique: Any) -> None:
    ca = setup.ca
    publish(ca, package, "1.0", "a.bin", b"a")
    ca.put_package_origin_configuration(**package, restrictions={"publish": "BLOCK", "upstream": "BLOCK"})
    with pytest.raises(ClientError) as blocked:
        publish(ca, package, "2.0", "a.bin", b"a")
    assert code(blocked) == "ValidationException" and "publish=BLOCK" in str(blocked.value)
    namespace = unique("grp")
    ca.create_package_group(domain=DOMAIN, packageGroup=f"/generic/{namespace}/*")
    ca.update_package_group_origin_configuration(
        domain=DOMAIN, packageGroup=f"/generic/{namespace}/*", restrictions={"PUBLISH": "BLOCK"}
    )
    grouped = {**package, "namespace": namespace}
    with pytest.raises(ClientError) as by_group:
        publish(ca, grouped, "1.0", "a.bin", b"a")
    assert code(by_group) == "ValidationException" and "package group" in str(by_group.value)


def test_delete_dispose_and_republish(setup: Setup, package: dict[str, str]) -> None:
    ca = setup.ca
    publish(ca, package, "1.0", "app.zip", b"first build")
    publish(ca, package, "2.0", "app.zip", b"second build")  # the same asset name, other bytes: another version
    deleted = ca.delete_package_versions(**package, versions=["1.0"])
    assert deleted["successfulVersions"]["1.0"]["status"] == "Deleted"
    again = publish(ca, package, "1.0", "app.zip", b"rebuilt")  # names belong to their version
    assert again["status"] == "Published"
    disposed = ca.dispose_package_versions(**package, versions=["2.0"])
    assert disposed["successfulVersions"]["2.0"]["status"] == "Disposed"
    with pytest.raises(ClientError) as err:
        publish(ca, package, "2.0", "more.zip", b"more")
    assert code(err) == "ConflictException"
    ca.update_package_versions_status(**package, versions=["1.0"], targetStatus="Archived")
    with pytest.raises(ClientError) as archived:
        publish(ca, package, "1.0", "more.zip", b"more")
    assert code(archived) == "ConflictException" and "Archived" in str(archived.value)


def test_generic_packages_are_never_read_through_upstreams(setup: Setup, package: dict[str, str], unique: Any) -> None:
    ca = setup.ca
    publish(ca, package, "1.0", "a.bin", b"in main")
    down = unique("down")
    ca.create_repository(domain=DOMAIN, repository=down, upstreams=[{"repositoryName": REPO}])
    there = {**package, "repository": down}
    with pytest.raises(ClientError) as err:
        ca.get_package_version_asset(**there, packageVersion="1.0", asset="a.bin")
    assert code(err) == "ResourceNotFoundException"
    ca.put_package_origin_configuration(**there, restrictions={"publish": "ALLOW", "upstream": "ALLOW"})
    with pytest.raises(ClientError) as versions:
        ca.describe_package_version(**there, packageVersion="1.0")
    assert code(versions) == "ResourceNotFoundException"
    copied = ca.copy_package_versions(
        domain=DOMAIN, sourceRepository=down, destinationRepository=REPO, format="generic", namespace="ns",
        package=package["package"], versions=["1.0"], includeFromUpstream=True,
    )  # fmt: skip
    assert copied["failedVersions"]["1.0"]["errorCode"] == "NOT_FOUND"
    # publishing the same version downstream is no conflict with the upstream's (it is never read from there)
    assert publish(ca, there, "1.0", "a.bin", b"in down")["status"] == "Published"


# --- the aws CLI -------------------------------------------------------------------------------------------------


def test_aws_cli_publish_list_and_get(setup: Setup, package: dict[str, str], tmp_path: Path) -> None:
    server = setup.server
    coords = [
        "--domain", DOMAIN, "--repository", REPO, "--format", "generic", "--namespace", "ns",
        "--package", package["package"], "--package-version", "1.0.0",
    ]  # fmt: skip
    files = {"part-1.bin": b"first part\n" * 1000, "part-2.bin": b"second part\n"}
    for i, (name, data) in enumerate(files.items()):
        path = tmp_path / name
        path.write_bytes(data)
        finish = [] if i == len(files) - 1 else ["--unfinished"]
        r = run_aws(
            server, tmp_path, "codeartifact", "publish-package-version", *coords, "--asset-content", str(path),
            "--asset-name", name, "--asset-sha256", sha(data), *finish,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["status"] == ("Published" if not finish else "Unfinished")
        assert out["asset"]["name"] == name and out["asset"]["size"] == len(data)
    r = run_aws(server, tmp_path, "codeartifact", "list-package-version-assets", *coords)
    assert r.returncode == 0, r.stderr
    assert [a["name"] for a in json.loads(r.stdout)["assets"]] == list(files)
    target = tmp_path / "downloaded.bin"
    r = run_aws(
        server, tmp_path, "codeartifact", "get-package-version-asset", *coords, "--asset", "part-1.bin", str(target)
    )
    assert r.returncode == 0, r.stderr
    assert target.read_bytes() == files["part-1.bin"]
    assert json.loads(r.stdout)["assetName"] == "part-1.bin"
    # a wrong SHA-256: the CLI prints the refusal, nothing is added
    path = tmp_path / "part-3.bin"
    path.write_bytes(b"third")
    r = run_aws(
        server, tmp_path, "codeartifact", "publish-package-version", *coords[:-2], "--package-version", "2.0",
        "--asset-content", str(path), "--asset-name", "part-3.bin", "--asset-sha256", sha(b"not third"),
    )  # fmt: skip
    assert r.returncode != 0
    assert "ValidationException" in r.stderr and "does not match assetSHA256" in r.stderr
    r = run_aws(server, tmp_path, "codeartifact", "list-package-versions", *coords[:-2])
    assert r.returncode == 0, r.stderr
    assert [v["version"] for v in json.loads(r.stdout)["versions"]] == ["1.0.0"]
