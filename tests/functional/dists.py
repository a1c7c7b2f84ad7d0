"""Tiny real distributions, written by hand: wheels and sdists with just enough metadata for twine, pip and uv,
and the upload form PyPI's legacy API takes for one."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import time
import zipfile
from pathlib import Path


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def core_metadata(
    name: str, version: str, requires_python: str | None = ">=3.8", requires_dist: tuple[str, ...] = ()
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {name} for Coffer's tests"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {requirement}" for requirement in requires_dist)
    lines.append("Project-URL: Source, https://example.invalid/src")
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n# " + name + "\n"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    out: Path,
    name: str,
    version: str,
    requires_python: str | None = ">=3.8",
    metadata_version: str | None = None,
    payload: bytes | None = None,
    requires_dist: tuple[str, ...] = (),
) -> Path:
    """A pure-Python wheel with one module ``<escaped name>`` holding ``VALUE``; with ``payload``, also that file
    (``<escaped name>/blob.bin``), and stored rather than deflated (its size on the wire is the payload's)."""
    dist = _escape(name)
    info = f"{dist}-{version}.dist-info"
    files = {
        **({f"{dist}/blob.bin": payload} if payload is not None else {}),
        f"{dist}/__init__.py": f'VALUE = "{name} {version}"\n'.encode(),
        f"{info}/METADATA": core_metadata(name, metadata_version or version, requires_python, requires_dist).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: coffer-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = out / f"{dist}-{version}-py3-none-any.whl"
    compression = zipfile.ZIP_DEFLATED if payload is None else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


def build_sdist(out: Path, name: str, version: str) -> Path:
    dist = _escape(name)
    base = f"{dist}-{version}"
    files = {
        f"{base}/PKG-INFO": core_metadata(name, version).encode(),
        f"{base}/pyproject.toml": b'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
        f"{base}/{dist}/__init__.py": f'VALUE = "{name} {version}"\n'.encode(),
    }
    path = out / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, data in files.items():
            ti = tarfile.TarInfo(member)
            ti.size = len(data)
            ti.mtime = int(time.time())
            tf.addfile(ti, io.BytesIO(data))
    return path


def upload_form(filename: str, data: bytes, **overrides: str) -> dict[str, str]:
    """The fields of a legacy-API upload (twine's) of the file ``filename`` holding ``data``, with ``overrides``."""
    name, version = filename.split("-")[:2]
    wheel = filename.endswith(".whl")
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version.removesuffix(".tar.gz"),
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        "metadata_version": "2.1",
        "md5_digest": hashlib.md5(data).hexdigest(),
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }
    fields.update(overrides)
    return fields
