"""What the benchmarks share: output, clean client environments, checked subprocesses, cached virtual environments,
the git revision measured, and the command-line options every benchmark has."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from servers import _cpu_seconds, _descendants

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"  # git-ignored: downloads and tools installed once

console = Console() if sys.stdout.isatty() else Console(width=150)  # full tables in logs and pipes


class BenchError(RuntimeError):
    pass


def say(text: str) -> None:
    console.print(text, highlight=False)


# ----------------------------------------------------------------------------------------------------------------
# processes and environments


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No pip/twine/uv configuration from the machine: no config file, no PIP_* or UV_* variables, no keyring, a
    home and XDG directories of its own."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def run_checked(
    cmd: list[str], what: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> str:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if r.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {r.returncode}): {' '.join(cmd[:6])} ...\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        )
    return r.stdout + r.stderr


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants."""
    return sum(_cpu_seconds(p) for p in _descendants(pid))


def stop_process(process: subprocess.Popen[Any], *files: Any) -> None:
    """Terminate ``process`` (killed after 15 s), then close ``files`` (its log)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for f in files:
        f.close()


def cached_venv(name: str, specs: tuple[str, ...], say_: Any = say) -> Path:
    """``bench/.cache/venvs/<name>``, a virtual environment with ``specs`` installed, created once (again when the
    specs or this Python change). The machine's pip configuration is in effect: it is how this machine reaches
    the package registry."""
    venv = CACHE_DIR / "venvs" / name
    stamp = venv / "bench-specs.json"
    wanted = json.dumps({"python": sys.version, "specs": list(specs)})
    if stamp.exists() and stamp.read_text() == wanted and (venv / "bin" / "python").exists():
        return venv
    t0 = time.perf_counter()
    run_checked([sys.executable, "-m", "venv", "--clear", str(venv)], f"creating the {name} venv")
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", *specs]
    run_checked(cmd, f"pip install {' '.join(specs)}", timeout=900)
    stamp.write_text(wanted)
    say_(f"  installed {', '.join(specs)} into {venv} in {time.perf_counter() - t0:.0f}s")
    return venv


def venv_version(venv: Path, package: str) -> str:
    out = run_checked([str(venv / "bin" / "python"), "-m", "pip", "show", package], f"pip show {package}")
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Version:"))


# ----------------------------------------------------------------------------------------------------------------
# what was measured


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=True).stdout.strip()


def src_digest() -> str:
    """SHA-256 over the paths and contents of src/coffer/**/*.py (first 16 hex digits)."""
    digest = hashlib.sha256()
    root = REPO_DIR / "src"
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def git_state() -> dict[str, Any]:
    """The revision (``git rev-parse --short HEAD``), whether the tree differs from it (``git status --porcelain``:
    any change, untracked files too; ``src_dirty``: tracked files under src/), and the digest of src/."""
    state: dict[str, Any] = {"revision": None, "dirty": None, "src_dirty": None}
    try:
        state["revision"] = git("rev-parse", "--short", "HEAD")
        state["dirty"] = bool(git("status", "--porcelain"))
        state["src_dirty"] = bool(git("status", "--porcelain", "--untracked-files=no", "--", "src"))
    except (OSError, subprocess.CalledProcessError):
        pass
    state["src_digest"] = src_digest()
    return state


# ----------------------------------------------------------------------------------------------------------------
# command line


def bench_parser(doc: str | None, output: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark has: ``--no-pin`` and ``--output`` (default
    ``bench/results/<output>``)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--no-pin", action="store_true", help="do not pin the servers and clients to separate CPUs")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / output, help="JSON results file")
    return parser


def parse_positive(parser: argparse.ArgumentParser, *names: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default the command line), and refuse a value of any option ``names`` that is not positive."""
    args = parser.parse_args(argv)
    bad = [n for n in names if getattr(args, n) is not None and getattr(args, n) <= 0]
    if bad:
        parser.error(", ".join("--" + n.replace("_", "-") for n in bad) + " must be positive")
    return args


def machine(script: str, packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """What every benchmark's JSON records first: when, the command, the CPU, the load average, Python and
    ``packages``' versions, and the code measured (git HEAD, whether src/ differs from it, the digest of src/)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    state = git_state()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([f"bench/{script}", *sys.argv[1:]]),
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "versions": versions,
        "git_head": state["revision"],
        "git_dirty": state["dirty"],
        "src_modified_since_head": state["src_dirty"],
        "src_digest": state["src_digest"],
    }
