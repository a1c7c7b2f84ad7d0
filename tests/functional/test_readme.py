"""The README is code: its shell blocks run, in order, as a new user pastes them, against a fresh data directory.

Every block fenced as ```` ```sh ```` runs, in one bash session (``set -euo pipefail``, so exported variables carry
from block to block), unless the line before its fence is ``<!-- not run: <why> -->`` (it needs the internet,
a hosts entry or another machine). Blocks fenced otherwise (``text``, ``python``, ``json``) are reference, not
steps. The session starts in a fresh copy of the checkout (its ``scripts/``, ``src/``, ``pyproject.toml`` and
``.venv`` linked in) with a fresh ``HOME`` and no ``AWS_*``, ``COFFER_*``, ``PIP_*`` or ``UV_*`` variables, so
``scripts/serve`` makes a new ``coffer-data`` there and the tools' configuration files go into that ``HOME``.
Two things differ from a reader's machine, both said here: the port (``5080`` in the text becomes a free port,
given to ``scripts/serve`` as ``COFFER_PORT``, so the test never meets another server), and ``dist/`` holds a wheel of ``mypkg`` standing in for the reader's
own package.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.functional.dists import build_wheel

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SKIP_MARK = re.compile(r"<!--\s*not run:\s*(?P<why>[^>]+?)\s*-->")
FENCE = re.compile(r"^```(?P<info>\S*)\s*$")


def shell_blocks(text: str) -> tuple[list[str], list[str]]:
    """(blocks to run, reasons of the skipped ones), in README order."""
    run: list[str] = []
    skipped: list[str] = []
    lines = text.splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        info = m.group("info")
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        body = "\n".join(lines[i + 1 : end])
        if info == "sh":
            mark = SKIP_MARK.search(previous)
            if mark:
                skipped.append(mark.group("why"))
            else:
                run.append(body)
        previous = ""
        i = end + 1
    return run, skipped


def test_every_sh_block_is_run_or_says_why_not() -> None:
    run, skipped = shell_blocks(README.read_text("utf-8"))
    assert len(run) >= 6, "the README's steps are fenced as ```sh"
    assert all(why.strip() for why in skipped)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_checkout(where: Path) -> Path:
    checkout = where / "coffer"
    checkout.mkdir()
    for name in ("scripts", "src", "pyproject.toml", "README.md", ".venv"):
        (checkout / name).symlink_to(ROOT / name)
    dist = checkout / "dist"
    dist.mkdir()
    build_wheel(dist, "mypkg", "0.1.0")
    return checkout


def clean_environment(home: Path) -> dict[str, str]:
    dropped = ("AWS_", "COFFER_", "PIP_", "UV_", "PYTHON_KEYRING", "VIRTUAL_ENV", "XDG_", "PYTHONPATH", "TWINE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", UV_NO_PROGRESS="1", NO_COLOR="1")
    return env


def stop_server(checkout: Path) -> None:
    pid_file = checkout / "coffer-data" / "coffer.pid"
    try:
        pid = json.loads(pid_file.read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass


def test_readme_shell_blocks_run_in_order(tmp_path: Path) -> None:
    stamp = ROOT / ".venv" / ".installed-test"
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        # scripts/serve would then reinstall into the shared .venv from the copy of the checkout, writing the
        # copy's path into the console scripts of the real one; scripts/test refreshes .venv first
        pytest.skip("needs a .venv that scripts/test has brought up to date with pyproject.toml")
    port = free_port()
    blocks, _ = shell_blocks(README.read_text("utf-8"))
    steps = []
    for n, block in enumerate(blocks, 1):
        steps.append(f"echo '>>> README shell block {n}' >&2")
        steps.append(block.replace("5080", str(port)))
    script = "set -euo pipefail\n" + "\n".join(steps) + "\n"
    checkout = fresh_checkout(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "readme.sh").write_text(script)
    try:
        result = subprocess.run(
            ["bash", str(tmp_path / "readme.sh")],
            cwd=checkout,
            env={**clean_environment(home), "COFFER_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=280,
        )
    finally:
        stop_server(checkout)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    # the steps did what the README says they do
    assert result.stderr.count(">>> README shell block") == len(blocks)
    assert "Uploading mypkg-0.1.0-py3-none-any.whl" in result.stdout, output  # twine
    assert result.stdout.count("Successfully installed mypkg-0.1.0") == 2, output  # pip: token, then keyring
    assert "+ mypkg==0.1.0" in result.stderr and "~ mypkg==0.1.0" in result.stderr, output  # uv: token, keyring
    assert '"Arn": "arn:aws:sts::' in result.stdout and "assumed-role/build/build-42" in result.stdout, output
    assert result.stdout.count('"authorizationToken": "cf1.') == 2, output
    assert "stopped the Coffer server at http://127.0.0.1:" in result.stdout, output  # the last block
    assert not (checkout / "coffer-data" / "coffer.pid").exists()
