"""Minimal TOML for ``coffer login``: in-place editing of tables and array-of-tables entries (other settings,
comments and layout are kept; each edit is checked by parsing the result), and a small writer for the fallback
when an unusual layout defeats the in-place edit."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from coffer.login.errors import LoginError


def set_table_values(text: str, path: tuple[str, ...], values: Mapping[str, Any]) -> str:
    """Set ``values`` in the table at ``path`` (created if absent), keeping the rest of the document."""
    expected = _loads(text)
    table = expected
    for key in path:
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise LoginError(f"cannot set {'.'.join(path)}: {key} is not a table")
    table.update(values)
    blocks = _blocks(text)
    for block in blocks:
        if _header(block[0]) == (path, False):
            _set_keys(block, values)
            break
    else:
        blocks.append(_new_block(f"[{'.'.join(_key(k) for k in path)}]", values))
    return _checked(_join_blocks(blocks), expected)


def set_array_entry(
    text: str,
    path: tuple[str, ...],
    match: tuple[str, Any],
    values: Mapping[str, Any],
    others: Mapping[str, tuple[Any, Any]] | None = None,
) -> tuple[str, list[str]]:
    """Set ``values`` in the entry of the array of tables at ``path`` whose ``match[0]`` is ``match[1]`` (appended if
    absent). ``others`` maps a key to (old, new): other entries with that key set to old get new. Returns the text and
    the changed other entries (their ``match[0]`` values)."""
    expected = _loads(text)
    parent = expected
    for key in path[:-1]:
        parent = parent.setdefault(key, {})
    entries = parent.setdefault(path[-1], [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LoginError(f"cannot set [[{'.'.join(path)}]]: it is not an array of tables")
    changed: list[str] = []
    found = False
    for entry in entries:
        if entry.get(match[0]) == match[1]:
            entry.update(values)
            found = True
        else:
            for key, (old, new) in (others or {}).items():
                if key in entry and entry[key] == old:
                    entry[key] = new
                    changed.append(str(entry.get(match[0], "?")))
    if not found:
        entries.append({match[0]: match[1], **values})
    blocks = _blocks(text)
    found = False
    for block in blocks:
        if _header(block[0]) != (path, True):
            continue
        entry = _entry_of(block, path)
        if entry is None:
            continue
        if entry.get(match[0]) == match[1]:
            _set_keys(block, values)
            found = True
        else:
            _set_keys(block, {k: new for k, (old, new) in (others or {}).items() if k in entry and entry[k] == old})
    if not found:
        blocks.append(_new_block(f"[[{'.'.join(_key(k) for k in path)}]]", {match[0]: match[1], **values}))
    return _checked(_join_blocks(blocks), expected), changed


def dumps(data: Mapping[str, Any]) -> str:
    """A small TOML writer: scalars, arrays, inline tables inside arrays, tables and arrays of tables."""
    lines: list[str] = []
    _dump_table(lines, (), data, array=False)
    return "\n".join(lines).lstrip("\n") + "\n"


def _dump_table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], *, array: bool) -> None:
    scalars = {k: v for k, v in table.items() if not _is_table(v) and not _is_table_array(v)}
    tables = {k: v for k, v in table.items() if _is_table(v)}
    arrays = {k: v for k, v in table.items() if _is_table_array(v)}
    if path and (array or scalars or not (tables or arrays)):
        header = ".".join(_key(k) for k in path)
        lines.extend(["", f"[[{header}]]" if array else f"[{header}]"])
    lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
    for k, v in tables.items():
        _dump_table(lines, (*path, k), v, array=False)
    for k, items in arrays.items():
        for item in items:
            _dump_table(lines, (*path, k), item, array=True)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise LoginError(f"cannot write {type(value).__name__} as TOML")


def read_toml_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _loads(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LoginError(f"not valid TOML ({exc}); fix or remove the file") from exc


def loads_or_empty(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _checked(edited: str, expected: dict[str, Any]) -> str:
    """The in-place edit if it parses to exactly the expected data, else the expected data rewritten whole."""
    if loads_or_empty(edited) == expected and (edited.strip() or not expected):
        return edited
    return dumps(expected)


_HEADER_START = re.compile(r"^[ \t]*\[")
_TOML_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def _blocks(text: str) -> list[list[str]]:
    """Split into blocks, each starting at a table header line (the first block is the root table, header "")."""
    blocks: list[list[str]] = [[""]]
    # TOML ends lines with LF (or CRLF) only: str.splitlines would also split at U+2028, U+0085 or a form feed
    # inside a string value
    for line in _TOML_LINE.findall(text):
        if _HEADER_START.match(line):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return blocks


def _join_blocks(blocks: list[list[str]]) -> str:
    out: list[str] = []
    for block in blocks:
        if out and out[-1] and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.extend(block)
    text = "".join(out)
    return text.lstrip("\n") if not "".join(blocks[0]).strip() and len(blocks) > 1 and blocks[1][0] == "\n" else text


def _header(line: str) -> tuple[tuple[str, ...], bool] | None:
    """The key path of a header line and whether it is an array-of-tables header."""
    if not line.strip():
        return None
    try:
        data: Any = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key, data = next(iter(data.items()))
        path.append(key)
        if isinstance(data, list):
            data = data[-1] if data else {}
    return tuple(path), line.lstrip().startswith("[[")


def _entry_of(block: list[str], path: tuple[str, ...]) -> dict[str, Any] | None:
    data: Any = loads_or_empty("".join(block))
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    if isinstance(data, list) and data and isinstance(data[-1], dict):
        return data[-1]
    return None


def _set_keys(block: list[str], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        line = f"{_key(key)} = {_value(value)}\n"
        pattern = re.compile(rf"^[ \t]*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')[ \t]*=")
        for i in range(1, len(block)):
            if pattern.match(block[i]):
                block[i] = line
                break
        else:
            last = 0
            for i in range(1, len(block)):
                stripped = block[i].strip()
                if stripped and not stripped.startswith("#"):
                    last = i
            if not block[last].endswith("\n"):
                block[last] += "\n"
            block.insert(last + 1, line)


def _new_block(header: str, values: Mapping[str, Any]) -> list[str]:
    return ["\n", f"{header}\n", *(f"{_key(k)} = {_value(v)}\n" for k, v in values.items())]
