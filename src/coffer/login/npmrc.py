"""The ``.npmrc`` editor of ``coffer login --tool npm|pnpm|yarn``: sets keys the way npm's ``ini`` parser reads them,
keeping every other line (comments, blank lines, other registries and their tokens) as it was.

npm reads ``.npmrc`` with the ``ini`` package: lines split at CR or LF, ``;`` and ``#`` start comments, ``key=value``
split at the first ``=``, keys and values trimmed; a later line of the same key wins; keys after a ``[section]``
header belong to that section. A key set here replaces its first top-level line (later lines of the same key are
dropped, since npm would read the last one) or is added at the end of the top-level part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+\Z")
_SECTION = re.compile(r"^\[([^\]]*)\]\s*$")
_ENTRY = re.compile(r"^([^=]+)(?:=(.*))?$")
_SCOPE = re.compile(r"@[a-z0-9\-~][a-z0-9\-._~]*")


class NpmrcError(ValueError):
    """A value npm could not read back (a line break in it)."""


def scope_of(namespace: str) -> str:
    """``@acme`` for ``acme`` or ``@acme`` (npm's scope; the aws CLI's rule: URL-safe, no leading dot or underscore)."""
    scope = namespace if namespace.startswith("@") else f"@{namespace}"
    if not _SCOPE.fullmatch(scope):
        raise NpmrcError("Invalid scope name, scope must contain URL-safe characters, no leading dots or underscores")
    return scope


def auth_token_key(endpoint: str) -> str:
    """``//host[:port]/path/:_authToken``: the key npm looks the registry's token up by (``aws`` writes this one)."""
    parts = urlsplit(endpoint)
    return f"//{parts.netloc}{parts.path}:_authToken"


def always_auth_key(endpoint: str) -> str:
    """``//host[:port]/path/:always-auth``: yarn 1 sends the token for unscoped packages only with it (npm 9+ has
    dropped the setting: ``aws codeartifact login`` tries to set it and ignores npm's refusal)."""
    return auth_token_key(endpoint).removesuffix(":_authToken") + ":always-auth"


def set_npmrc_values(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each key of ``values`` set (top level), every other line kept byte for byte."""
    lines = _LINE.findall(text)
    first_section = next((i for i, line in enumerate(lines) if _SECTION.match(line.strip())), len(lines))
    pending = dict(values)
    out: list[str] = []
    for i, line in enumerate(lines):
        key = entry_key(line) if i < first_section else None
        if key is not None and key in values:
            if key in pending:
                body = line.rstrip("\r\n")
                out.append(f"{key}={_value(pending.pop(key))}{line[len(body) :] or chr(10)}")
            continue  # a later duplicate: npm would have read it instead of ours
        out.append(line)
    insert_at = len(out) - (len(lines) - first_section)
    added = [f"{key}={_value(value)}\n" for key, value in pending.items()]
    if added and insert_at > 0 and not out[insert_at - 1].endswith(("\n", "\r")):
        out[insert_at - 1] += "\n"
    out[insert_at:insert_at] = added
    return "".join(out)


def get_npmrc_value(text: str, key: str) -> str | None:
    """The value npm reads for a top-level ``key`` (the last line of it), or None."""
    found: str | None = None
    for line in _LINE.findall(text):
        if _SECTION.match(line.strip()):
            break
        m = _ENTRY.match(line.strip())
        if m and not line.strip().startswith((";", "#")) and _unsafe(m.group(1)) == key:
            found = _unsafe(m.group(2) or "")
    return found


def entry_key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith((";", "#")):
        return None
    m = _ENTRY.match(stripped)
    return _unsafe(m.group(1)) if m else None


def _unsafe(raw: str) -> str:
    """The ``ini`` package's reading of a key or value: quoted JSON, else escapes undone and a comment cut off."""
    val = raw.strip()
    if len(val) >= 2 and val[0] == val[-1] and val[0] in "\"'":
        if val[0] == "'":
            return val[1:-1]
        try:
            loaded = json.loads(val)
        except ValueError:
            pass
        else:
            if isinstance(loaded, str):
                return loaded
    out: list[str] = []
    escaped = False
    for ch in val:
        if escaped:
            out.append(ch if ch in "\\;#" else "\\" + ch)
            escaped = False
        elif ch in ";#":
            break
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out).strip()


def _value(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise NpmrcError("an .npmrc value cannot hold a line break")
    if value != value.strip() or value[:1] in ("'", '"'):
        return json.dumps(value)
    return re.sub(r"([\\;#])", r"\\\1", value)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


__all__ = ["NpmrcError", "always_auth_key", "auth_token_key", "get_npmrc_value", "scope_of", "set_npmrc_values"]
