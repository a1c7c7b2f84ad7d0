"""The JavaScript package managers the client tests drive, installed from the public registry with the machine's npm
and kept between runs.

Each client (``npm@11``, ``pnpm@latest``, ``yarn@1``, ``@yarnpkg/cli-dist@latest``) goes into a directory of its own
under ``COFFER_TEST_CLIENTS_DIR`` (default ``~/.cache/coffer-tests/npm-clients``), one per installed version, named
by a small pointer file (``<slug>.json``) that says which version to use and when the registry was last asked. The
registry is asked again after a week; if it cannot be reached then, the version already there is used. Installs run
under a lock (``fcntl.flock``) into a temporary directory renamed into place, so parallel runs neither race nor see a
half install. When no version is there and the registry cannot be reached, the tests that need the client are
skipped, saying why; any other failure to install fails them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional.npm_clients import NPM

NODE = shutil.which("node")

REGISTRY = os.environ.get("COFFER_TEST_NPM_REGISTRY", "https://registry.npmjs.org/")
REFRESH_SECONDS = 7 * 24 * 3600
INSTALL_TIMEOUT = 300
# what npm prints when the registry cannot be reached (no network, DNS, proxy, TLS interception, an outage)
_UNREACHABLE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENETDOWN|"
    r"ERR_SOCKET_TIMEOUT|network request|request to \S+ failed|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT|"
    r"CERT_HAS_EXPIRED|code E5\d\d|code E429|proxy",
    re.I,
)


@dataclass(frozen=True)
class Client:
    name: str  # what the tests call it: npm, pnpm, yarn1, yarn4
    package: str  # the npm package that holds it
    version: str
    script: Path  # the client's JavaScript entry point, run with node

    @property
    def argv(self) -> list[str]:
        return [NODE or "node", str(self.script)]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def clients_dir() -> Path:
    explicit = os.environ.get("COFFER_TEST_CLIENTS_DIR")
    return Path(explicit) if explicit else Path.home() / ".cache" / "coffer-tests" / "npm-clients"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(name: str, package: str, spec: str, entry: str) -> Client:
    """The client ``package@spec`` (``entry``: its script, in the package), installed or taken from the cache; skips
    the test if it cannot be installed because the registry is unreachable. Install scripts are not run (pnpm's only
    links its native binary in place of a shim; ``bin/pnpm.mjs`` finds the binary without it)."""
    if NPM is None or NODE is None:
        pytest.skip(f"{name}: the machine has no node and npm to install {package}@{spec} with")
    base = clients_dir()
    base.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", f"{package}@{spec}").strip("_")
    pointer = base / f"{slug}.json"
    with _locked(base / f"{slug}.lock"):
        cached = _cached(base, pointer, package, entry)
        if cached is not None and time.time() - cached[1] < REFRESH_SECONDS:
            return Client(name, package, cached[0].version, cached[0].script)
        try:
            if cached is not None and _newest(package, spec) == cached[0].version:
                pointer.write_text(json.dumps({"version": cached[0].version, "checked": time.time()}))
                return Client(name, package, cached[0].version, cached[0].script)
            client = _install(base, slug, name, package, spec, entry)
        except _Unreachable as exc:
            if cached is not None:  # keep using what is there
                return Client(name, package, cached[0].version, cached[0].script)
            pytest.skip(f"{name}: cannot install {package}@{spec} from {REGISTRY}, the registry is unreachable: {exc}")
        pointer.write_text(json.dumps({"version": client.version, "checked": time.time()}))
        _prune(base, slug, client.version)
        return client


class _Unreachable(Exception):
    pass


def _cached(base: Path, pointer: Path, package: str, entry: str) -> tuple[Client, float] | None:
    try:
        data = json.loads(pointer.read_text())
        version, checked = str(data["version"]), float(data["checked"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    prefix = base / f"{pointer.stem}-{version}"
    script = prefix / "node_modules" / package / entry
    if not script.exists() or _installed_version(prefix, package) != version:
        return None
    return Client("", package, version, script), checked


def _installed_version(prefix: Path, package: str) -> str | None:
    try:
        return str(json.loads((prefix / "node_modules" / package / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _env() -> dict[str, str]:
    """The environment npm runs in here: the user's, less any npm, yarn or pnpm settings a test left in it."""
    return {k: v for k, v in os.environ.items() if not k.lower().startswith(("npm_config_", "yarn_", "pnpm_"))}


_NETWORK_OPTIONS = ("--fetch-retries", "1", "--fetch-retry-mintimeout", "2000", "--fetch-timeout", "60000")


def _newest(package: str, spec: str) -> str | None:
    """The newest version of ``package`` matching ``spec`` on the registry."""
    args = [str(NPM), "view", f"{package}@{spec}", "version", "--json", "--registry", REGISTRY, *_NETWORK_OPTIONS]
    try:
        result = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=120)
    except subprocess.TimeoutExpired as exc:
        raise _Unreachable("npm view did not finish in 120 s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        if _UNREACHABLE.search(output):
            raise _Unreachable(_reason(output))
        return None  # npm install will say what is wrong
    try:
        found = json.loads(result.stdout)
    except ValueError:
        return None
    return str(found[-1]) if isinstance(found, list) and found else str(found) if isinstance(found, str) else None


def _install(base: Path, slug: str, name: str, package: str, spec: str, entry: str) -> Client:
    staging = base / f"{slug}.installing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / "package.json").write_text(json.dumps({"name": "coffer-test-clients", "private": True}))
    args = [
        str(NPM),
        "install",
        "--prefix",
        str(staging),
        "--registry",
        REGISTRY,
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel",
        "error",
        *_NETWORK_OPTIONS,
        f"{package}@{spec}",
    ]
    try:
        result = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _Unreachable(f"npm install did not finish in {INSTALL_TIMEOUT} s") from exc
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = (result.stdout + result.stderr).strip()
        if _UNREACHABLE.search(output):
            raise _Unreachable(_reason(output))
        pytest.fail(f"{name}: npm install {package}@{spec} failed (not a network error):\n{output}")
    version = _installed_version(staging, package)
    if version is None or not (staging / "node_modules" / package / entry).exists():
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(f"{name}: npm install {package}@{spec} left no {package}/{entry} in {staging}")
    final = base / f"{slug}-{version}"
    if _installed_version(final, package) != version:
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    else:
        shutil.rmtree(staging, ignore_errors=True)
    return Client(name, package, version, final / "node_modules" / package / entry)


def _reason(output: str) -> str:
    """npm's error code and message, from its ``npm error ...`` lines."""
    lines = [line.removeprefix("npm error").strip() for line in output.splitlines() if line.startswith("npm error")]
    code = next((line for line in lines if line.startswith("code ")), "")
    message = next((line for line in lines if re.search(r"request to|reason:|network|timed out", line, re.I)), "")
    return "; ".join(part for part in (code, message) if part) or " ".join(output.splitlines()[-3:])


def _prune(base: Path, slug: str, keep: str) -> None:
    """Remove other versions of this client installed more than a day ago (a run still using one has had its day)."""
    for old in base.glob(f"{slug}-*"):
        if old.name != f"{slug}-{keep}" and old.is_dir() and time.time() - old.stat().st_mtime > 86400:
            shutil.rmtree(old, ignore_errors=True)
