"""For bench/npm_bench.py: a real npm dependency tree downloaded once, and a static registry that serves it.

    .venv/bin/python bench/npm_tree.py download                     # resolve and download (once; cached)
    .venv/bin/python bench/npm_tree.py serve --port N [--cpus 1]    # the static "public" registry of the tree

``download`` resolves the tree (``npm install --package-lock-only`` of ``TREE`` in a scratch directory, with the
machine's npm configuration: that is how this machine reaches the npm registry, whose URL comes from ``npm
config get registry`` and is written nowhere in this repository), then fetches the full packument of every
package in the lockfile and the tarball of every locked version (checked against the lockfile's integrity) into
``bench/.cache/npm-tree/``: ``package.json`` and ``package-lock.json`` of the resolution, ``packuments/<name>.json``
(the registry's bytes), ``tarballs/<name>/<file>.tgz``. It runs once; later runs find the stamp and reuse it.

``serve`` is the registry both servers proxy in the bench (as pypiserver is in bench/upstream_bench.py): the
saved full packuments, every version kept, with each ``dist.tarball`` pointing at this server, and the saved
tarballs (404 for the versions not downloaded, which the tree never asks for). HTTP/1.1 keep-alive, one thread
a connection. ``GET /-/bench/requests`` answers how many requests it has served, so the bench can show that
warm installs never reach it.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

BENCH_DIR = Path(__file__).resolve().parent
CACHE = BENCH_DIR / ".cache" / "npm-tree"
#: the issue's five, and webpack and eslint to make the tree a few hundred packages (the five alone are 85)
TREE = ("express", "lodash", "react", "react-dom", "axios", "webpack", "eslint")
DOWNLOAD_THREADS = 4  # a few at a time: the public registry is only downloaded from, never loaded


class TreeError(RuntimeError):
    pass


def file_name(name: str) -> str:
    """A package name as one path component: ``@scope%2fname`` for a scoped one (as npm's URL spells it)."""
    return name.replace("/", "%2f")


def unscoped(name: str) -> str:
    return name.rpartition("/")[2]


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    integrity: str
    optional: bool


@dataclass(frozen=True)
class Tree:
    root: Path
    packages: tuple[str, ...]  # what was resolved (TREE)
    dependencies: dict[str, str]  # the root package.json's ranges
    locked: tuple[Locked, ...]  # every (name, version) of the lockfile

    @property
    def names(self) -> list[str]:
        return sorted({p.name for p in self.locked})

    def packument(self, name: str) -> Path:
        return self.root / "packuments" / f"{file_name(name)}.json"

    def tarball(self, name: str, version: str) -> Path:
        return self.root / "tarballs" / file_name(name) / f"{unscoped(name)}-{version}.tgz"

    def largest_packument(self) -> str:
        return max(self.names, key=lambda n: self.packument(n).stat().st_size)

    def tarball_bytes(self) -> int:
        return sum(self.tarball(p.name, p.version).stat().st_size for p in set(self.locked))

    def packument_bytes(self) -> int:
        return sum(self.packument(n).stat().st_size for n in self.names)


def _locked(lock: dict[str, Any]) -> tuple[Locked, ...]:
    found: dict[tuple[str, str], Locked] = {}
    for path, entry in lock.get("packages", {}).items():
        if not path or entry.get("link"):
            continue
        name = entry.get("name") or path.rpartition("node_modules/")[2]
        key = (name, entry["version"])
        found.setdefault(key, Locked(name, entry["version"], entry.get("integrity", ""), bool(entry.get("optional"))))
    return tuple(found[k] for k in sorted(found))


def referenced_only(lock: dict[str, Any]) -> list[str]:
    """Names the lockfile's packages refer to without locking them (optional peers, e.g. eslint's ``jiti``):
    npm asks for their packuments while it resolves, so the registry must have them too."""
    locked = {p.name for p in _locked(lock)}
    found: set[str] = set()
    for path, entry in lock.get("packages", {}).items():
        if path:
            for field in ("dependencies", "optionalDependencies", "peerDependencies"):
                found.update(n for n in entry.get(field, {}) if n not in locked)
    return sorted(found)


STAMP = {"packages": list(TREE), "layout": 2}


def load_tree(root: Path = CACHE) -> Tree | None:
    """The downloaded tree, or None when there is none for ``TREE`` yet."""
    stamp = root / "complete.json"
    if not stamp.exists() or {k: json.loads(stamp.read_text()).get(k) for k in STAMP} != STAMP:
        return None
    manifest = json.loads((root / "package.json").read_text())
    lock = json.loads((root / "package-lock.json").read_text())
    return Tree(root, TREE, manifest.get("dependencies", {}), _locked(lock))


def _npm(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    r = subprocess.run(["npm", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise TreeError(f"npm {' '.join(args)} failed (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def _sri_matches(integrity: str, data: bytes) -> bool:
    for item in integrity.split():
        algorithm, _, b64 = item.partition("-")
        if algorithm in ("sha512", "sha1"):
            return base64.b64decode(b64) == hashlib.new(algorithm, data).digest()
    return False


def download_tree(root: Path = CACHE, say: Any = print) -> Tree:
    """Resolve ``TREE`` and download its packuments and tarballs into ``root`` (see the module's description)."""
    import httpx

    tree = load_tree(root)
    if tree is not None:
        return tree
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coffer-npm-tree-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "package.json").write_text(json.dumps({"name": "coffer-bench-tree", "version": "1.0.0"}))
        env = {**os.environ, "npm_config_cache": str(scratch / "cache"), "npm_config_update_notifier": "false"}
        registry = _npm(["config", "get", "registry"], scratch, env).strip()
        if not registry.endswith("/"):
            registry += "/"
        kept = root / "package.json"  # the resolution of an interrupted download is kept
        if kept.exists() and sorted(json.loads(kept.read_text()).get("dependencies", {})) == sorted(TREE):
            manifest = json.loads(kept.read_text())
            lock_text = (root / "package-lock.json").read_text()
        else:
            npm_args = ["install", "--package-lock-only", "--no-audit", "--no-fund", "--loglevel=error", *TREE]
            _npm(npm_args, scratch, env)
            manifest = json.loads((scratch / "package.json").read_text())
            manifest["private"] = True
            lock_text = (scratch / "package-lock.json").read_text()
            (root / "package-lock.json").write_text(lock_text)
            kept.write_text(json.dumps(manifest, indent=2) + "\n")
    lock = json.loads(lock_text)
    locked = _locked(lock)
    names = sorted({p.name for p in locked})
    extra = referenced_only(lock)
    say(f"  resolved {len(locked)} package versions ({len(names)} packages); downloading them once into {root}")
    tree = Tree(root, TREE, manifest["dependencies"], locked)
    (root / "packuments").mkdir(exist_ok=True)
    with httpx.Client(timeout=120, follow_redirects=True) as client:

        def packument(name: str) -> None:
            path = tree.packument(name)
            if not path.exists():
                r = client.get(registry + file_name(name), headers={"Accept": "application/json"})
                if r.status_code == 404 and name in extra:
                    return
                r.raise_for_status()
                path.write_bytes(r.content)

        def tarball(item: Locked) -> None:
            path = tree.tarball(item.name, item.version)
            if path.exists():
                return
            doc = json.loads(tree.packument(item.name).read_bytes())
            r = client.get(doc["versions"][item.version]["dist"]["tarball"])
            r.raise_for_status()
            if not _sri_matches(item.integrity, r.content):
                raise TreeError(f"{item.name}@{item.version}: the tarball does not match the lockfile's integrity")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(r.content)

        with concurrent.futures.ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            list(pool.map(packument, names + extra))
            list(pool.map(tarball, locked))
    (root / "complete.json").write_text(json.dumps({**STAMP, "extra_packuments": extra, "when": time.time()}) + "\n")
    say(
        f"  downloaded {len(names)} packuments ({tree.packument_bytes() / 1e6:.1f} MB; and {len(extra)} of packages "
        f"only referenced) and {len(locked)} tarballs ({tree.tarball_bytes() / 1e6:.1f} MB) in "
        f"{time.perf_counter() - t0:.1f}s"
    )
    return tree


# ----------------------------------------------------------------------------------------------------------------
# the static registry


class _Registry:
    def __init__(self, root: Path, base: str) -> None:
        self.root = root
        self.base = base  # this server's URL, ending in '/'
        self.requests = 0
        self._rendered: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def packument(self, name: str) -> bytes | None:
        with self._lock:
            kept = self._rendered.get(name)
        if kept is not None:
            return kept
        path = self.root / "packuments" / f"{file_name(name)}.json"
        if not path.is_file():
            return None
        doc = json.loads(path.read_bytes())
        escaped = quote(name, safe="@/")
        for number, manifest in doc.get("versions", {}).items():
            if isinstance(manifest, dict) and isinstance(manifest.get("dist"), dict):
                manifest["dist"]["tarball"] = f"{self.base}{escaped}/-/{unscoped(name)}-{number}.tgz"
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        with self._lock:
            self._rendered[name] = body
        return body

    def tarball(self, name: str, filename: str) -> Path | None:
        path = self.root / "tarballs" / file_name(name) / filename
        return path if "/" not in filename and filename.endswith(".tgz") and path.is_file() else None


def _handler(registry: _Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str, head: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _answer(self, head: bool) -> None:
            path = unquote(self.path.split("?", 1)[0]).lstrip("/")
            if path == "-/bench/requests":
                self._send(200, json.dumps({"requests": registry.requests}).encode(), "application/json", head)
                return
            with registry._lock:
                registry.requests += 1
            name, sep, filename = path.partition("/-/")
            if sep:
                found = registry.tarball(name, filename)
                if found is not None:
                    self._send(200, found.read_bytes(), "application/octet-stream", head)
                    return
            else:
                body = registry.packument(path)
                if body is not None:
                    self._send(200, body, "application/json", head)
                    return
            self._send(404, b'{"error":"not found"}', "application/json", head)

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

    return Handler


def serve(root: Path, host: str, port: int) -> None:
    registry = _Registry(root, f"http://{host}:{port}/")
    server = ThreadingHTTPServer((host, port), _handler(registry))
    server.daemon_threads = True
    print(f"serving {root} on http://{host}:{port}/", flush=True)
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("download")
    serving = sub.add_parser("serve")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, required=True)
    serving.add_argument("--cpus", default="", help="CPUs to run on, e.g. 1")
    serving.add_argument("--root", type=Path, default=CACHE)
    args = parser.parse_args()
    if args.command == "download":
        download_tree()
        return 0
    if args.cpus:
        os.sched_setaffinity(0, [int(c) for c in args.cpus.split(",")])
    serve(args.root, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
