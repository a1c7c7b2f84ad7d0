"""``coffer serve --background`` returns once the server answers; ``coffer stop`` ends it (README: Quick start)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

COFFER = [sys.executable, "-m", "coffer"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COFFER, *args], capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not a running server
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


@pytest.fixture()
def data_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    yield d
    pid_file = d / "coffer.pid"
    if pid_file.exists():  # a failed test must not leave a server behind
        pid = json.loads(pid_file.read_text())["pid"]
        if alive(pid):
            os.kill(pid, 15)


def test_background_start_returns_once_the_server_answers_and_stop_ends_it(data_dir: Path) -> None:
    port = free_port()
    started = run("serve", "--background", "--port", str(port), "--data-dir", str(data_dir))
    assert started.returncode == 0, started.stderr
    # the banner, with the pid, the log and the command that stops it
    assert f"Coffer listening on http://127.0.0.1:{port}" in started.stdout
    assert f"log {data_dir.resolve() / 'coffer.log'}" in started.stdout
    assert f"stop --data-dir {data_dir.resolve()}" in started.stdout
    # ready when the command returns: no retry needed, the credentials are written
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    assert (data_dir / "credentials").is_file()
    record = json.loads((data_dir / "coffer.pid").read_text())
    assert record["url"] == f"http://127.0.0.1:{port}"
    assert f"pid {record['pid']}" in started.stdout
    assert alive(record["pid"])
    for name in ("coffer.pid", "coffer.log"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600

    again = run("serve", "--background", "--port", str(free_port()), "--data-dir", str(data_dir))
    assert again.returncode == 1
    assert again.stderr.startswith(f"coffer: a Coffer server (pid {record['pid']}) already runs on")

    stopped = run("stop", "--data-dir", str(data_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"stopped the Coffer server at http://127.0.0.1:{port} (pid {record['pid']})"
    assert not alive(record["pid"])
    assert not (data_dir / "coffer.pid").exists()
    assert "Coffer stopped." in (data_dir / "coffer.log").read_text()

    none = run("stop", "--data-dir", str(data_dir))
    assert none.returncode == 1
    assert none.stderr == f"coffer: no background Coffer server is recorded in {data_dir.resolve()}/coffer.pid\n"


def test_a_server_that_cannot_start_is_reported_with_its_log(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        t0 = time.monotonic()
        result = run("serve", "--background", "--port", str(port), "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert time.monotonic() - t0 < 60  # not the start timeout
    assert "coffer: the server exited before it was ready (status 1)" in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert not (data_dir / "coffer.pid").exists()


def test_a_stale_pid_file_does_not_block_a_start(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (data_dir / "coffer.pid").write_text(json.dumps({"pid": dead.pid, "url": "http://127.0.0.1:1"}))
    none = run("stop", "--data-dir", str(data_dir))
    assert none.returncode == 1 and "no background Coffer server" in none.stderr
    assert not (data_dir / "coffer.pid").exists()
    port = free_port()
    started = run("serve", "--background", "--port", str(port), "--data-dir", str(data_dir))
    assert started.returncode == 0, started.stderr
    assert run("stop", "--data-dir", str(data_dir)).returncode == 0


def test_a_pid_file_naming_another_program_is_not_signalled(data_dir: Path, tmp_path: Path) -> None:
    # the pid a crashed background server left behind, now another program's: here even another coffer serve
    from tests.functional.server import running_server

    data_dir.mkdir(mode=0o700)
    with running_server(tmp_path / "other") as other:
        (data_dir / "coffer.pid").write_text(json.dumps({"pid": other.process.pid, "url": "http://127.0.0.1:1"}))
        result = run("stop", "--data-dir", str(data_dir))
        assert result.returncode == 1 and "no background Coffer server" in result.stderr
        assert other.process.poll() is None  # not signalled
        assert httpx.get(other.url + "/health", timeout=5).status_code == 200


def test_two_background_starts_at_once_leave_one_server(data_dir: Path) -> None:
    ports = [free_port(), free_port()]
    starts = [
        subprocess.Popen(
            [*COFFER, "serve", "--background", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    results = [(p.wait(timeout=150), p.stdout.read(), p.stderr.read()) for p in starts]  # type: ignore[union-attr]
    assert sorted(rc for rc, _, _ in results) == [0, 1], results
    loser = next(err for rc, _, err in results if rc == 1)
    assert "already runs" in loser or "is starting" in loser, loser
    winner = ports[[rc for rc, _, _ in results].index(0)]
    assert httpx.get(f"http://127.0.0.1:{winner}/health", timeout=5).status_code == 200
    assert run("stop", "--data-dir", str(data_dir)).returncode == 0
    for port in ports:  # neither is left serving
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            continue
        raise AssertionError(f"a server still answers on port {port}")


def test_options_given_to_serve_reach_the_background_server(data_dir: Path) -> None:
    port = free_port()
    started = run(
        "serve",
        "--background",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--no-access-log",
        "--account-id",
        "444455556666",
    )
    assert started.returncode == 0, started.stderr
    try:
        assert "account 444455556666" in started.stdout
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        time.sleep(0.3)  # the access log is written within 0.1 s
        assert "GET /health" not in (data_dir / "coffer.log").read_text()
    finally:
        run("stop", "--data-dir", str(data_dir))
