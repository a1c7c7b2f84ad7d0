"""Start a real ``coffer serve`` process for functional tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class RunningServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str]  # stdout and stderr, line by line: the banner, then (read on) the access log and the rest

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials"

    def lines_after(self, start: int, predicate: Callable[[list[str]], bool], timeout: float = 10.0) -> list[str]:
        """The output lines from index ``start`` on, once ``predicate`` holds for them (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.output[start:]
            if predicate(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)


def coffer_command() -> list[str]:
    return [sys.executable, "-m", "coffer"]


@contextmanager
def running_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    cmd = [*coffer_command(), "serve", "--port", "0", "--data-dir", str(data_dir), *extra]
    # caches of 0 s: what a test changes through another process (coffer admin, a second server) shows at once;
    # one worker process, which starts fastest (tests/functional/test_workers.py runs several: --workers wins)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COFFER_CACHE_TTL": "0", "COFFER_WORKERS": "1", **(env or {})}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env)
    output: list[str] = []
    url = None
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            url = m.group(1)
        if url and "Ctrl-C stops" in line:  # the end of the banner
            break
    if url is None:
        proc.kill()
        rest = proc.stdout.read()
        raise RuntimeError("coffer serve did not start:\n" + "".join(output) + rest)
    server = RunningServer(url=url, data_dir=data_dir, process=proc, output=output)
    # keep reading: a server writing to a pipe nobody reads (its access log) would block once the pipe is full
    reader = threading.Thread(target=_read_on, args=(proc, output), daemon=True)
    reader.start()
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)


def _read_on(proc: subprocess.Popen[str], output: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)
