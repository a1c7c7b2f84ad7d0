"""In-process timings of what a warm packument request costs Coffer when its view is rebuilt (bench/npm_bench.py).

    PYTHONPATH=src .venv/bin/python bench/npm_packument_micro.py [NAME ...]   # default: the four largest

For a package of the downloaded tree (bench/.cache/npm-tree/, see npm_tree.py) as its external connection lists
it (``parse_packument`` of the saved full packument), best of ``--repeat``:

- ``view``: the versions and assets of the external source as ``PackageReads._load_view`` builds them each time
  the one-second view cache expires (``ExternalPackages.versions``/``assets``: a ``PackageVersion`` per version,
  ``dataclasses.replace`` of the cached fields, a new ``Asset`` per file); without the SQL reads of the stored
  versions, which the real view adds;
- ``document``: ``packument.document(abbreviated=True)``, of which ``manifest_of`` (``json.loads`` of every
  version's manifest) is shown apart, and ``json.dumps`` of it: ``render`` is the two;
- ``fragments``: the same bytes joined from one JSON fragment per version kept across renders (keyed by the
  version's manifest and dist), the change proposed in bench/README.md; checked byte-identical to ``render``.

Nothing here touches a server or the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from npm_tree import load_tree

from coffer.core.packages.external_sources import ExternalPackages
from coffer.core.packages.npm_manifest import ABBREVIATED_FIELDS, manifest_of
from coffer.core.packages.package_models import PackageRef, PackageView, RepoRef, ResolvedVersion
from coffer.formats.npm import packument
from coffer.upstreams.npm_registry import parse_packument

BASE = "http://127.0.0.1:5080/npm/d/bench-111122223333/app/"


class _OneProject:
    def __init__(self, project: Any) -> None:
        self._project = project

    def get(self, name: str) -> Any:
        return self._project


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def build_view(source: ExternalPackages, ref: PackageRef) -> PackageView:
    shown = [
        ResolvedVersion(version=v, assets=tuple(source.assets(ref, v)), source=source.repo)
        for v in source.versions(ref)
    ]
    shown.sort(key=lambda r: (r.version.published_time, r.version.version))
    numbers = {r.version.version for r in shown}
    return PackageView(versions=tuple(shown), tags={t: v for t, v in source.tags(ref).items() if v in numbers})


_FRAGMENTS: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}


def render_fragments(view: PackageView, name: str, base: str) -> bytes:
    """``packument.render(abbreviated=True)``'s bytes from per-version fragments kept across renders."""
    parts = []
    for resolved in view.versions:
        asset = packument._tarball(resolved)
        if asset is None:
            continue
        dist = packument._dist(asset, base)
        raw = resolved.version.extra.get("npm:manifest", "") + "\0" + resolved.version.extra.get("npm:deprecated", "")
        key = (raw, tuple(dist.items()))
        fragment = _FRAGMENTS.get(key)
        if fragment is None:
            manifest = manifest_of(resolved.version)
            entry = {k: manifest[k] for k in ABBREVIATED_FIELDS if k in manifest}
            entry["dist"] = dist
            fragment = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
            _FRAGMENTS[key] = fragment
        parts.append(json.dumps(resolved.version.version, ensure_ascii=False) + ":" + fragment)
    numbers = {r.version.version for r in view.versions if packument._tarball(r) is not None}
    tags = {t: v for t, v in packument.tags_of(view).items() if v in numbers}
    modified = packument.iso(max((r.version.published_time for r in view.versions), default=0.0))
    head = json.dumps(
        {"name": name, "modified": modified, "dist-tags": tags}, separators=(",", ":"), ensure_ascii=False
    )
    return (head[:-1] + ',"versions":{' + ",".join(parts) + "}}").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tree = load_tree()
    if tree is None:
        raise SystemExit("no tree downloaded yet: run bench/npm_tree.py download (or bench/npm_bench.py)")
    names = args.names or sorted(tree.names, key=lambda n: -tree.packument(n).stat().st_size)[:4]
    repo = RepoRef(domain_owner="111122223333", domain="bench", name="npm-store")
    print(f"{'package':16} {'versions':>8} {'MB':>5} {'view':>7} {'manifest_of':>11} {'document':>8} "
          f"{'dumps':>7} {'render':>7} {'fragments':>9}   (ms, best of {args.repeat})")  # fmt: skip
    for name in names:
        project = parse_packument(name, "http://127.0.0.1:1/", tree.packument(name).read_bytes())
        source = ExternalPackages(repo, "public:npmjs", "npm", _OneProject(project))  # type: ignore[arg-type]
        scope, _, bare = name[1:].partition("/") if name.startswith("@") else (None, "", name)
        ref = PackageRef(repo=repo, format="npm", namespace=scope, name=bare)
        t_view, view = best(lambda: build_view(source, ref), args.repeat)  # noqa: B023
        t_manifests, _ = best(lambda: [manifest_of(r.version) for r in view.versions], args.repeat)  # noqa: B023
        t_doc, doc = best(lambda: packument.document(view, name, BASE, abbreviated=True), args.repeat)  # noqa: B023
        t_dumps, _ = best(lambda: json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(), args.repeat)  # noqa: B023
        t_render, body = best(lambda: packument.render(view, name, BASE, abbreviated=True), args.repeat)  # noqa: B023
        render_fragments(view, name, BASE)  # fills the fragments
        t_frag, joined = best(lambda: render_fragments(view, name, BASE), args.repeat)  # noqa: B023
        if joined != body:
            raise SystemExit(f"{name}: the fragments' bytes differ from render()'s")
        ms = [x * 1000 for x in (t_view, t_manifests, t_doc, t_dumps, t_render, t_frag)]
        print(f"{name:16} {len(view.versions):8} {len(body) / 1e6:5.2f} {ms[0]:7.1f} {ms[1]:11.1f} {ms[2]:8.1f} "
              f"{ms[3]:7.1f} {ms[4]:7.1f} {ms[5]:9.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
