"""Profile a Coffer server under the benchmark's load with py-spy, and print its hottest functions.

    .venv/bin/pip install py-spy     # a profiling tool, deliberately not a project dependency
    .venv/bin/python bench/profile_server.py [--server uvicorn|granian] [--kind token|health] [--seconds N]

Starts one server exactly as bench/run.py does (pinned to one CPU, one worker), loads one endpoint with the same
client, and samples the server with ``py-spy record --gil`` (only the thread holding the GIL is sampled, so the
percentages are shares of the Python work the server does). Writes the collapsed stacks and a speedscope file
to bench/results/ and prints the functions with the largest inclusive and self shares.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from loadgen import Target
from run import DOMAIN, RESULTS_DIR, Clients, check_signing, create_domain
from servers import HOST, SERVERS, Server, bench_lock, start

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+?)(?::(?P<line>\d+))?\)$")


def _python_pid(server: Server) -> int:
    """The process that runs the app: uvicorn's own, granian's (single) worker child."""
    if server.name == "uvicorn":
        return server.process.pid
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    if not children:
        raise SystemExit("granian has no worker process")
    return int(children[0])


def _short(file: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _label(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    return f"{m['func']} ({_short(m['file'])})"


def summarise(collapsed: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_label(f) for f in stack.split(";")]
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        for label in set(frames):
            inclusive[label] += count
        if frames:
            self_time[frames[-1]] += count
    if not total:
        print("no samples")
        return
    print(f"\n{total} samples (GIL holder)\n\nTop inclusive (function and everything it calls):")
    for label, count in inclusive.most_common(top):
        print(f"  {count / total:6.1%}  {label}")
    print("\nTop self (time in the function's own code):")
    for label, count in self_time.most_common(top):
        print(f"  {count / total:6.1%}  {label}")
    print("\nCoffer functions by inclusive share:")
    coffer = [(label, count) for label, count in inclusive.items() if "coffer/" in label]
    for label, count in sorted(coffer, key=lambda lc: -lc[1])[:top]:
        print(f"  {count / total:6.1%}  {label}")


def main() -> int:
    parser = argparse.ArgumentParser(description="py-spy profile of Coffer under the bench load")
    parser.add_argument("--server", choices=SERVERS, default="uvicorn")
    parser.add_argument("--kind", choices=["token", "health"], default="token")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = (cpus[:1], cpus[1:]) if len(cpus) >= 2 else (None, None)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    base = RESULTS_DIR / f"profile-{args.server}-{args.kind}"
    with bench_lock(), tempfile.TemporaryDirectory(prefix="coffer-profile-") as tmp:
        server = start(args.server, Path(tmp) / args.server, server_cpus)
        clients = Clients(1, client_cpus)
        try:
            key = server.credentials()
            create_domain(server, key)
            target = Target(HOST, server.port, DOMAIN, *key)
            check_signing(server, target)
            clients.run(target, args.kind, args.concurrency, 0.2, 1.0)  # warm-up
            pid = _python_pid(server)
            results: list[dict[str, object]] = []
            load = threading.Thread(
                target=lambda: results.extend(clients.run(target, args.kind, args.concurrency, 0.5, args.seconds + 1))
            )
            load.start()
            time.sleep(0.7)
            for fmt, suffix in (("raw", ".collapsed.txt"), ("speedscope", ".speedscope.json")):
                duration = max(1, int(args.seconds / 2))
                subprocess.run(
                    [py_spy, "record", "--pid", str(pid), "--gil", "--rate", str(args.rate), "--duration",
                     str(duration), "--format", fmt, "--output", str(base) + suffix, "--nonblocking"],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )  # fmt: skip
            load.join()
            ok = sum(int(str(r["ok"])) for r in results)
            errors = sum(int(str(r["errors"])) for r in results)
            print(f"{args.server} {args.kind}: {ok / (args.seconds + 1):,.0f} req/s while profiled, {errors} errors")
        finally:
            clients.close()
            server.stop()
    print(f"wrote {base}.collapsed.txt and {base}.speedscope.json (open at https://www.speedscope.app)")
    summarise(Path(str(base) + ".collapsed.txt"), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
