"""What ``coffer login`` writes for each tool: pip, twine and npm exactly as ``aws codeartifact login``; uv, poetry,
pnpm and yarn in their own configuration files.

Each ``plan_*`` function only computes (commands to run, files to write, notes to print); :func:`apply` carries a plan
out. TOML files are edited in place by ``toml_edit``.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from coffer.atomic_files import atomic_write
from coffer.login import npmrc, yarnrc
from coffer.login.errors import LoginError
from coffer.login.toml_edit import loads_or_empty, read_toml_text, set_array_entry, set_table_values

INDEX_NAME = "codeartifact"  # the name aws uses in .pypirc; the same for the uv index and the poetry repository
USERNAME = "aws"


@dataclass(frozen=True)
class FileChange:
    path: Path
    content: str
    mode: int | None  # None: keep the existing file's mode (0o644 for a new file)


@dataclass
class ToolPlan:
    tool: str
    commands: list[list[str]] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def index_url(endpoint: str, token: str | None = None) -> str:
    """``{endpoint}simple/``, with ``aws:{token}@`` in it when a token is given (pip's form)."""
    parts = urlsplit(endpoint)
    auth = f"{USERNAME}:{token}@" if token is not None else ""
    return f"{parts.scheme}://{auth}{parts.netloc}{parts.path}simple/"


# ---------------------------------------------------------------------------------------------------------------------
# pip and twine: exactly what aws codeartifact login does


def plan_pip(endpoint: str, token: str) -> ToolPlan:
    return ToolPlan("pip", commands=[["pip", "config", "set", "global.index-url", index_url(endpoint, token)]])


def pypirc_path() -> Path:
    return Path(os.path.expanduser("~")) / ".pypirc"


_DEFAULT_PYPIRC = """\
[distutils]
index-servers=
    pypi
    codeartifact

[codeartifact]
"""


def plan_twine(endpoint: str, token: str, path: Path | None = None) -> ToolPlan:
    path = path or pypirc_path()
    parser = configparser.RawConfigParser()
    if path.exists():
        try:
            parser.read(path)
            if not parser.has_section("distutils"):
                parser.add_section("distutils")
            servers = [
                s.strip() for s in parser.get("distutils", "index-servers", fallback="").split("\n") if s.strip()
            ]
            if INDEX_NAME not in servers:
                servers.append(INDEX_NAME)
                parser.set("distutils", "index-servers", "\n" + "\n".join(servers))
            if not parser.has_section(INDEX_NAME):
                parser.add_section(INDEX_NAME)
        except configparser.Error as exc:
            raise LoginError(f"{path} is in an invalid state: {exc}") from exc
    else:
        parser.read_string(_DEFAULT_PYPIRC)
    parser.set(INDEX_NAME, "repository", endpoint)
    parser.set(INDEX_NAME, "username", USERNAME)
    parser.set(INDEX_NAME, "password", token)
    out = io.StringIO()
    parser.write(out)
    return ToolPlan("twine", files=[FileChange(path, out.getvalue(), 0o600)])


# ---------------------------------------------------------------------------------------------------------------------
# uv: an [[index]] in uv.toml


def uv_config_path() -> Path:
    """uv's user configuration file: ``UV_CONFIG_FILE`` if set (uv then reads only it), else
    ``$XDG_CONFIG_HOME/uv/uv.toml`` / ``~/.config/uv/uv.toml`` (``%APPDATA%\\uv\\uv.toml`` on Windows)."""
    explicit = os.environ.get("UV_CONFIG_FILE")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "uv" / "uv.toml"
    return _xdg_config_home() / "uv" / "uv.toml"


def plan_uv(endpoint: str, token: str, path: Path | None = None) -> ToolPlan:
    path = path or uv_config_path()
    text = read_toml_text(path)
    url = index_url(endpoint, token)
    content, others = set_array_entry(
        text, ("index",), ("name", INDEX_NAME), {"url": url, "default": True}, others={"default": (True, False)}
    )
    plan = ToolPlan("uv", files=[FileChange(path, content, 0o600)])
    plan.notes.append(
        f"uv reads the credentials from the index URL in {path} (user {USERNAME}, the token as password); "
        f"UV_INDEX_CODEARTIFACT_USERNAME / UV_INDEX_CODEARTIFACT_PASSWORD override them."
    )
    if others:
        plan.notes.append(f"Index(es) {', '.join(others)} in {path} are no longer the default (default = false).")
    if "index-url" in loads_or_empty(content):
        plan.notes.append(f"{path} also sets index-url, which takes precedence over the default [[index]]: remove it.")
    return plan


# ---------------------------------------------------------------------------------------------------------------------
# poetry: repositories.codeartifact in config.toml, http-basic.codeartifact in auth.toml


def poetry_config_dir() -> Path:
    """``POETRY_CONFIG_DIR``, else poetry's platform directory (platformdirs ``user_config_dir("pypoetry")``)."""
    explicit = os.environ.get("POETRY_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "pypoetry"
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~")) / "Library" / "Application Support" / "pypoetry"
    return _xdg_config_home() / "pypoetry"


def plan_poetry(endpoint: str, token: str, config_dir: Path | None = None) -> ToolPlan:
    config_dir = config_dir or poetry_config_dir()
    config_path = config_dir / "config.toml"
    auth_path = config_dir / "auth.toml"
    config = set_table_values(read_toml_text(config_path), ("repositories", INDEX_NAME), {"url": endpoint})
    auth = set_table_values(
        read_toml_text(auth_path), ("http-basic", INDEX_NAME), {"username": USERNAME, "password": token}
    )
    plan = ToolPlan("poetry", files=[FileChange(config_path, config, None), FileChange(auth_path, auth, 0o600)])
    plan.notes.append(
        f"Same as `poetry config repositories.{INDEX_NAME} {endpoint}` and "
        f"`poetry config http-basic.{INDEX_NAME} {USERNAME} <token>` (stored in auth.toml, not in a keyring). "
        f"Publish with `poetry publish -r {INDEX_NAME}`; install from it with a source in pyproject.toml: "
        f'[[tool.poetry.source]] name = "{INDEX_NAME}", url = "{index_url(endpoint)}", priority = "primary".'
    )
    return plan


# ---------------------------------------------------------------------------------------------------------------------
# npm and pnpm: the user's .npmrc, as aws codeartifact login --tool npm leaves it; yarn: .yarnrc.yml and .npmrc


def npmrc_path() -> Path:
    """npm's user configuration: ``npm_config_userconfig`` (npm reads its variables in either case), else
    ``~/.npmrc``."""
    for name in ("npm_config_userconfig", "NPM_CONFIG_USERCONFIG"):
        explicit = os.environ.get(name)
        if explicit:
            return Path(explicit).expanduser()
    return Path(os.path.expanduser("~")) / ".npmrc"


def yarnrc_path() -> Path:
    """yarn 2+'s user configuration: ``~/.yarnrc.yml`` (``YARN_RC_FILENAME`` renames it, in the home folder too)."""
    return Path(os.path.expanduser("~")) / (os.environ.get("YARN_RC_FILENAME") or ".yarnrc.yml")


def _npmrc_change(
    endpoint: str, token: str, scope: str | None, path: Path | None, *, always_auth: bool = False
) -> FileChange:
    path = path or npmrc_path()
    values = {f"{scope}:registry" if scope else "registry": endpoint, npmrc.auth_token_key(endpoint): token}
    if always_auth:
        values[npmrc.always_auth_key(endpoint)] = "true"
    try:
        content = npmrc.set_npmrc_values(npmrc.read_text(path), values)
    except npmrc.NpmrcError as exc:
        raise LoginError(f"{path}: {exc}") from exc
    return FileChange(path, content, 0o600)


def plan_npm(endpoint: str, token: str, namespace: str | None = None, path: Path | None = None) -> ToolPlan:
    """``registry=<endpoint>`` (``@scope:registry=`` with a namespace) and ``//host/path/:_authToken=<token>`` in the
    user's .npmrc, what ``aws codeartifact login --tool npm`` leaves there (it runs ``npm config set`` for the
    registry; this writes the line itself, so npm need not be installed)."""
    scope = _scope(namespace)
    return ToolPlan("npm", files=[_npmrc_change(endpoint, token, scope, path)])


def plan_pnpm(endpoint: str, token: str, namespace: str | None = None, path: Path | None = None) -> ToolPlan:
    """pnpm reads the registry and its token from the same user .npmrc as npm: the same lines."""
    scope = _scope(namespace)
    plan = ToolPlan("pnpm", files=[_npmrc_change(endpoint, token, scope, path)])
    plan.notes.append("pnpm reads the registry and the token from the user .npmrc, as npm does (npm uses them too).")
    return plan


def plan_yarn(
    endpoint: str,
    token: str,
    namespace: str | None = None,
    yarnrc_file: Path | None = None,
    npmrc_file: Path | None = None,
) -> ToolPlan:
    """yarn 2+ (berry): ``~/.yarnrc.yml`` gets ``npmRegistryServer`` and, under ``npmRegistries``, the registry's
    ``npmAuthToken`` and ``npmAlwaysAuth`` (with a namespace: all three under ``npmScopes.<scope>``); an ``http``
    endpoint's host is added to ``unsafeHttpWhitelist``, which yarn otherwise refuses. yarn 1 (classic) reads .npmrc
    like npm: the lines of ``--tool npm`` are written there too, with ``//host/path/:always-auth=true`` (what the aws
    CLI tries to set too), without which yarn 1 sends no token for unscoped packages; so either yarn works."""
    scope = _scope(namespace)
    yarnrc_file = yarnrc_file or yarnrc_path()
    parts = urlsplit(endpoint)
    auth: dict[str, yarnrc.Scalar] = {"npmAuthToken": token, "npmAlwaysAuth": True}
    text = npmrc.read_text(yarnrc_file)
    plan = ToolPlan("yarn")
    try:
        if scope:
            existing = yarnrc.keys(text, ("npmScopes",))
            key = scope if scope in existing and scope[1:] not in existing else scope[1:]
            text = yarnrc.set_values(text, ("npmScopes", key), {"npmRegistryServer": endpoint, **auth})
        else:
            text = yarnrc.set_values(text, (), {"npmRegistryServer": endpoint})
            text = yarnrc.set_values(text, ("npmRegistries", _yarn_registry_key(text, endpoint)), auth)
        if parts.scheme == "http" and parts.hostname:
            text, added = yarnrc.add_to_list(text, "unsafeHttpWhitelist", parts.hostname)
            if added:
                plan.notes.append(
                    f"{parts.hostname} was added to unsafeHttpWhitelist in {yarnrc_file}: the endpoint is plain http "
                    f"(the token travels unencrypted), which yarn 2+ refuses otherwise."
                )
    except yarnrc.YamlLayoutError as exc:
        raise LoginError(_yarnrc_refusal(yarnrc_file, str(exc), endpoint, scope)) from exc
    plan.files.append(FileChange(yarnrc_file, text, 0o600))
    plan.files.append(_npmrc_change(endpoint, token, scope, npmrc_file, always_auth=scope is None))
    plan.notes.append(
        f"yarn 2+ reads {yarnrc_file}; yarn 1 reads the registry and the token from {plan.files[1].path} "
        f"(npm's file: npm uses them too)."
    )
    if scope is None:
        plan.notes.append(
            "yarn 1 sends the token for unscoped packages only with always-auth, so that is set for the registry "
            "(npm 11 warns that it does not know always-auth, and ignores it)."
        )
    return plan


def _yarn_registry_key(text: str, endpoint: str) -> str:
    """The key of ``npmRegistries`` that yarn reads the endpoint's settings from: an existing one, with the protocol
    (yarn looks that up first) or without, trailing slash or not; else ``//host/path/``."""
    bare = endpoint.rstrip("/")
    existing = yarnrc.keys(text, ("npmRegistries",))
    for wanted in (bare, re.sub(r"^[a-z]+:", "", bare)):
        for key in existing:
            if key.rstrip("/") == wanted:
                return key
    return re.sub(r"^[a-z]+:", "", bare) + "/"


def _scope(namespace: str | None) -> str | None:
    if namespace is None:
        return None
    try:
        return npmrc.scope_of(namespace)
    except npmrc.NpmrcError as exc:
        raise LoginError(str(exc)) from exc


def _yarnrc_refusal(path: Path, reason: str, endpoint: str, scope: str | None) -> str:
    parts = urlsplit(endpoint)
    if scope:
        wanted = (
            f"npmScopes:\n  {yarnrc.key_text(scope[1:])}:\n    npmRegistryServer: {yarnrc.value_text(endpoint)}\n"
            f'    npmAuthToken: "${{CODEARTIFACT_AUTH_TOKEN}}"\n    npmAlwaysAuth: true'
        )
    else:
        wanted = (
            f"npmRegistryServer: {yarnrc.value_text(endpoint)}\nnpmRegistries:\n"
            f"  {yarnrc.value_text(f'//{parts.netloc}{parts.path}')}:\n"
            f'    npmAuthToken: "${{CODEARTIFACT_AUTH_TOKEN}}"\n    npmAlwaysAuth: true'
        )
    if parts.scheme == "http" and parts.hostname:
        wanted += f"\nunsafeHttpWhitelist:\n  - {yarnrc.value_text(parts.hostname)}"
    return (
        f"{path} was left unchanged: {reason}, which coffer login does not edit. Add these settings to it yourself "
        f"(yarn reads the token from the environment: export CODEARTIFACT_AUTH_TOKEN=$(aws codeartifact "
        f"get-authorization-token --domain ... --query authorizationToken --output text)):\n{wanted}"
    )


# ---------------------------------------------------------------------------------------------------------------------
# Carrying a plan out


def apply(plan: ToolPlan, token: str) -> list[str]:
    """Run the plan's commands (as the aws CLI runs them) and write its files; return what was done, one line each."""
    done: list[str] = []
    for command in plan.commands:
        try:
            result = subprocess.run(command, capture_output=True, check=True)  # noqa: S603 - fixed argv, no shell
        except FileNotFoundError as exc:
            raise LoginError(f"{command[0]} was not found. Please verify installation.") from exc
        except subprocess.CalledProcessError as exc:
            stderr = (exc.stderr or b"").decode(errors="replace")
            message = f"{exc} Stderr from command:\n{stderr}"
            raise LoginError(message.replace(token, "******")) from exc
        output = (result.stdout or b"").decode(errors="replace") + (result.stderr or b"").decode(errors="replace")
        done.extend(line.strip().replace(token, "******") for line in output.splitlines() if line.strip())
    for change in plan.files:
        write_file(change)
        done.append(f"Wrote {change.path}" + (f" (mode {change.mode:04o})" if change.mode is not None else ""))
    return done


def write_file(change: FileChange) -> None:
    """Write atomically (a temporary file in the same directory, then rename), creating the directory; through a
    symbolic link to its target."""
    path = Path(os.path.realpath(change.path))
    mode = change.mode
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    atomic_write(path, change.content.encode("utf-8"), mode, private_dir=False)


def _xdg_config_home() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path(os.path.expanduser("~")) / ".config"


# ---------------------------------------------------------------------------------------------------------------------
# Messages


def relative_expiration(expiration: datetime, now: datetime | None = None) -> str:
    """``12 hours``, ``11 hours and 59 minutes``, ``15 minutes`` (the aws CLI's wording; +30 s as it does)."""
    seconds = int((expiration - (now or datetime.now(UTC))).total_seconds()) + 30
    minutes_total = max(seconds // 60, 0)
    days, rest = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    values: list[str] = []
    for i, (value, unit) in enumerate(parts):
        if value:
            values.append(f"{value} {unit}{'' if value == 1 else 's'}")
            if i + 1 < len(parts) and parts[i + 1][0]:
                nxt, nunit = parts[i + 1]
                values.append(f"and {nxt} {nunit}{'' if nxt == 1 else 's'}")
            break
    return " ".join(values) or "less than a minute"


def expiration_line(expiration: datetime) -> str:
    local = expiration.astimezone()
    utc = expiration.astimezone(UTC)
    return (
        f"Login expires in {relative_expiration(expiration)} at {local:%Y-%m-%d %H:%M:%S %Z} "
        f"({utc:%Y-%m-%d %H:%M:%S} UTC)"
    )


def dry_run_lines(plan: ToolPlan) -> list[str]:
    """What a plan would do, printed the way ``aws codeartifact login --dry-run`` prints (tokens unredacted, as aws)."""
    lines: list[str] = []
    for command in plan.commands:
        lines.extend([" ".join(command), ""])
    for change in plan.files:
        lines.extend(
            [
                f"Dryrun mode is enabled, not writing to {change.path}.",
                f"{change.path} would have been set to the following:",
                "",
                change.content.rstrip("\n"),
                "",
            ]
        )
    return lines


__all__ = [
    "INDEX_NAME",
    "FileChange",
    "LoginError",
    "ToolPlan",
    "apply",
    "dry_run_lines",
    "expiration_line",
    "index_url",
    "npmrc_path",
    "plan_npm",
    "plan_pip",
    "plan_pnpm",
    "plan_poetry",
    "plan_twine",
    "plan_uv",
    "plan_yarn",
    "yarnrc_path",
]
