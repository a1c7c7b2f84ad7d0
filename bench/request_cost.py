"""The server's own cost of one request, without a network or a load client: uvicorn's HTTP protocol (Coffer's
guarded subclass, with the access log) and the whole app, driven in this process on an in-memory transport.

    .venv/bin/python bench/request_cost.py [--requests 3000] [--rounds 7] [--callgrind]

One command, nothing to prepare: a fresh data directory (bootstrapped as ``coffer serve`` does), a domain made with
a signed CreateDomain through the same path, then ``GET /health`` and a SigV4-signed GetAuthorizationToken (signed
by botocore, replayed: the server caches nothing keyed on a signature, so each one is verified in full) in
alternating rounds. Prints the best round's microseconds per request of each and their ratio (the issue's
"GetAuthorizationToken / /health" without the kernel's share, which both pay alike). Every response is checked
(200, and a token in the body).

On these shared machines wall time moves by several percent from one minute to the next; the ratio of two
measures taken in alternating rounds of one process moves much less, and ``--callgrind`` (the same run under
``valgrind --tool=callgrind``, instructions counted only inside the measured loop) is deterministic: use it to
compare two revisions. Valgrind hides CPU extensions such as SHA-NI, so hashing weighs more there than natively.
"""

from __future__ import annotations

import argparse
import asyncio
import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ACCOUNT_ID = "111122223333"
DOMAIN = "bench"
REGION = "us-east-1"
HOST = "127.0.0.1:8080"


def signed(method: str, target: str, access_key: str, secret: str) -> bytes:
    """The raw HTTP/1.1 request ``method target`` with an empty body, signed now by botocore as boto3 signs."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {"User-Agent": "Boto3/bench", "Content-Length": "0"}
    request = AWSRequest(method=method, url=f"http://{HOST}{target}", data=b"", headers=headers)
    SigV4Auth(Credentials(access_key, secret), "codeartifact", REGION).add_auth(request)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Transport(asyncio.Transport):
    """What uvicorn's protocol writes to, kept in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.out.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


class Driver:
    """One keep-alive connection of uvicorn's protocol to the app, one request at a time."""

    def __init__(self, config: Any, lifespan: Any) -> None:
        loop = asyncio.get_running_loop()
        from uvicorn.server import ServerState

        self.protocol = config.http_protocol_class(
            config=config, server_state=ServerState(), app_state=lifespan.state, _loop=loop
        )
        self.transport = Transport()
        self.protocol.connection_made(self.transport)

    async def one(self, request: bytes) -> bytes:
        """Feed one request and run the loop until its response is complete (a cache miss may go to a thread)."""
        self.transport.out.clear()
        self.protocol.data_received(request)
        for turn in range(50_000):
            await asyncio.sleep(0 if turn < 1000 else 0.001)
            cycle = self.protocol.cycle
            if (cycle is None or cycle.response_complete) and self.transport.out:
                break
        return b"".join(self.transport.out)


def _check(response: bytes, what: str, needle: bytes) -> None:
    if not response.startswith(b"HTTP/1.1 200") or needle not in response:
        raise SystemExit(f"{what}: unexpected response {response[:400]!r}")


async def _measure(data_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    from uvicorn.lifespan.on import LifespanOn

    from coffer.app.bootstrap import open_data
    from coffer.app.factory import create_app
    from coffer.app.server import _uvicorn_config, http_limits
    from coffer.app.uvicorn_fence import install_reason_phrases
    from coffer.http.access_log import AccessLogWriter
    from coffer.settings import Settings

    settings = Settings.from_env(data_dir=data_dir, account_id=ACCOUNT_ID, workers=1, region=REGION)
    boot = open_data(settings, create=True)
    install_reason_phrases()
    app = create_app(settings, bound_port=8080, boot=boot)
    config = _uvicorn_config(app, http_limits(settings.http_limits), AccessLogWriter("text", sink=lambda _: None))
    config.load()
    lifespan = LifespanOn(config)
    await lifespan.startup()
    try:
        driver = Driver(config, lifespan)
        parser = configparser.ConfigParser()
        parser.read(data_dir / "credentials")
        key, secret = parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]
        _check(await driver.one(signed("POST", f"/v1/domain?domain={DOMAIN}", key, secret)), "CreateDomain", b"arn")
        requests = {
            "health": f"GET /health HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: bench\r\n\r\n".encode(),
            "token": signed("POST", f"/v1/authorization-token?domain={DOMAIN}&duration=3600", key, secret),
        }
        needles = {"health": b'"status":"ok"', "token": b'"authorizationToken":"cf1.'}
        for name, request in requests.items():  # warm: caches filled, code specialised
            for _ in range(300):
                _check(await driver.one(request), name, needles[name])
        toggle: Callable[[str], None] = _callgrind_toggle if args.callgrind else (lambda _: None)
        best = {name: float("inf") for name in requests}
        for _ in range(args.rounds):
            for name, request in requests.items():
                toggle("on")
                t0 = time.perf_counter()
                for _ in range(args.requests):
                    await driver.one(request)
                seconds = time.perf_counter() - t0
                toggle("off")
                toggle("dump")  # one part of the callgrind output per measured loop, in order
                best[name] = min(best[name], seconds / args.requests * 1e6)
            _check(await driver.one(requests["token"]), "token", needles["token"])  # still verified in full
        return best
    finally:
        await lifespan.shutdown()


def _callgrind_toggle(state: str) -> None:
    what = ["-d"] if state == "dump" else ["-i", state]
    subprocess.run(["callgrind_control", *what, str(os.getpid())], capture_output=True, check=False)


def _under_callgrind(args: argparse.Namespace) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="coffer-cost-") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [valgrind, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable]
        cmd += [__file__, "--requests", str(args.requests), "--rounds", "1", "--inside-callgrind"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"the run under callgrind failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        print(result.stdout, end="")
        counts = []
        for part in sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:])):
            totals = [line for line in part.read_text().splitlines() if line.startswith("totals:")]
            counts.append(int(totals[0].split()[1]) if totals else 0)
        if len(counts) < 2:
            raise SystemExit("callgrind wrote no per-loop parts (callgrind_control missing?)")
        health, token = counts[0] / args.requests, counts[1] / args.requests
        print(f"instructions a request: GET /health {health:,.0f}, GetAuthorizationToken {token:,.0f}; "
              f"ratio {health / token:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests of each kind per round")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (the best is kept)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument("--inside-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.inside_callgrind:
        from servers import bench_lock  # one benchmark at a time on this machine

        with bench_lock():
            if args.callgrind:
                _under_callgrind(args)
            else:
                _run(args)
        return
    args.callgrind = True
    _run(args)


def _run(args: argparse.Namespace) -> None:
    os.environ.setdefault("COFFER_CACHE_TTL", "3600")  # no reload of the caches inside a measured round
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's code
    try:
        import uvloop
    except ImportError:  # uvicorn's default loop then is asyncio's, as here
        uvloop = None
    with tempfile.TemporaryDirectory(prefix="coffer-cost-") as tmp:
        run = uvloop.run if uvloop is not None else asyncio.run
        best = run(_measure(Path(tmp) / "data", args))
    health, token = best["health"], best["token"]
    print(f"GET /health {health:.1f} us, GetAuthorizationToken {token:.1f} us a request (best of {args.rounds}"
          f" rounds of {args.requests}); GetAuthorizationToken / /health in req/s: {health / token:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
