"""A minimal, careful editor of ``.yarnrc.yml`` for ``coffer login --tool yarn`` (Coffer has no YAML dependency).

It edits YAML only where the layout is plain block style, the layout ``yarn config set`` writes and people write by
hand: nested block mappings with simple (plain or quoted) keys, one-line scalars or flow values, block scalars
(``|``, ``>``), block sequences and comments. Scalars it sets go in as one line each, strings double-quoted; every
other line is kept byte for byte. Whatever it does not understand in the part it has to read (a multi-document
file, a directive, a tab in the indentation, a quoted scalar or flow collection running over several lines,
``? `` complex keys, ``<<`` merge keys, anchors, aliases or tags on the mappings it walks into, an inline value where
it needs a mapping) makes it refuse with :class:`YamlLayoutError`, saying why: the file is then left alone, never
half understood. Each edit is checked by reading the values back.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

Scalar = str | bool

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+\Z")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})
_BLOCK_SCALAR = re.compile(r"[|>][0-9+\-]*(?:[ \t]+#.*)?")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_INDICATORS = "[]{},#&*!|>'\"%@`"


class YamlLayoutError(ValueError):
    """The file holds YAML this editor does not edit (the message says what)."""


@dataclass
class _Line:
    text: str  # without its line break
    eol: str
    kind: str  # "content", "body" (inside a block scalar: never parsed) or "blank" (blank or a comment)
    indent: int


@dataclass
class _Entry:
    key: str
    raw_key: str  # as written
    line: int
    indent: int
    rest: str  # the value after the colon, its comment removed
    end: int  # one past the entry's last line (its value's lines included)
    last: int  # its last content (or body) line


@dataclass
class _Region:
    start: int
    end: int
    indent: int | None  # of its keys; None: no entries yet
    insert_at: int  # where a new entry goes
    parent: _Entry | None


# --- reading ---------------------------------------------------------------------------------------------------


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    block_indent: int | None = None
    for raw in _LINE.findall(text):
        body = raw.rstrip("\r\n")
        eol = raw[len(body) :]
        stripped = body.lstrip(" ")
        indent = len(body) - len(stripped)
        if block_indent is not None:
            if not stripped.strip() or indent > block_indent:
                out.append(_Line(body, eol, "body", indent))
                continue
            block_indent = None
        if not stripped.strip() or stripped.startswith("#"):
            out.append(_Line(body, eol, "blank", indent))
            continue
        if stripped[0] == "\t":
            raise YamlLayoutError(f"line {len(out) + 1} is indented with a tab")
        if indent == 0 and (stripped.startswith("%") or _is_marker(stripped, "...")):
            raise YamlLayoutError(f"line {len(out) + 1} is a YAML directive or document end marker")
        if indent == 0 and _is_marker(stripped, "---"):
            if any(line.kind == "content" for line in out) or stripped.strip() != "---":
                raise YamlLayoutError("the file holds more than one YAML document")
            out.append(_Line(body, eol, "blank", indent))  # a leading document start marker changes nothing
            continue
        value = _node_value(stripped)
        if _BLOCK_SCALAR.fullmatch(value):
            block_indent = indent
        else:
            _check_one_line(value, len(out) + 1)
        out.append(_Line(body, eol, "content", indent))
    return out


def _is_marker(stripped: str, marker: str) -> bool:
    return stripped.startswith(marker) and (len(stripped) == 3 or stripped[3] in " \t")


def _node_value(stripped: str) -> str:
    """The value part of a content line: after any ``- `` sequence markers and after a key's colon."""
    while stripped == "-" or stripped.startswith("- "):
        stripped = stripped[1:].lstrip(" ")
    split = _split_key(stripped)
    return split[2] if split is not None else _strip_comment(stripped)


def _check_one_line(value: str, number: int) -> None:
    """Refuse a quoted scalar or a flow collection that does not end on its line."""
    if not value or value[0] not in "\"'[{":
        return
    depth = 0
    quote = ""
    i = 0
    while i < len(value):
        ch = value[i]
        if quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = ""
        elif quote == "'":
            if ch == "'":
                if value[i + 1 : i + 2] == "'":
                    i += 1
                else:
                    quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "#" and i > 0 and value[i - 1] in " \t":
            break
        i += 1
        if not quote and depth == 0 and value[0] in "\"'":
            break  # the quoted scalar ended
    if quote or depth > 0:
        raise YamlLayoutError(f"line {number} starts a quoted value or flow collection that goes on over lines")


def _split_key(stripped: str) -> tuple[str, str, str] | None:
    """(key, the key as written, the value after ``:`` without its comment) of ``key: value``; None if the line is
    no simple mapping entry."""
    if not stripped:
        return None
    if stripped[0] in "\"'":
        end = _quoted_end(stripped)
        if end is None:
            return None
        raw = stripped[:end]
        after = stripped[end:].lstrip(" \t")
        if not after.startswith(":") or (len(after) > 1 and after[1] not in " \t"):
            return None
        return _unquote(raw), raw, _strip_comment(after[1:].strip())
    if stripped[0] in _INDICATORS or (stripped[0] in "-?:" and (len(stripped) == 1 or stripped[1] in " \t")):
        return None
    m = re.search(r":(?:[ \t]|$)", stripped)
    if m is None:
        return None
    raw = stripped[: m.start()].rstrip(" \t")
    if not raw or re.search(r"[ \t]#", raw):
        return None
    return raw, raw, _strip_comment(stripped[m.end() :].strip())


def _quoted_end(text: str) -> int | None:
    quote = text[0]
    i = 1
    while i < len(text):
        ch = text[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return None


def _unquote(raw: str) -> str:
    if raw[0] == "'":
        return raw[1:-1].replace("''", "'")
    try:
        value = json.loads(raw)
    except ValueError:
        raise YamlLayoutError(f"cannot read the quoted key {raw} (an escape JSON does not have)") from None
    if not isinstance(value, str):
        raise YamlLayoutError(f"cannot read the quoted key {raw}")
    return value


def _strip_comment(value: str) -> str:
    """``value`` without a trailing `` # comment`` (outside quotes)."""
    quote = ""
    i = 0
    while i < len(value):
        ch = value[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or value[i - 1] in " \t"):
            return value[:i].rstrip(" \t")
        i += 1
    return value.strip()


def _root(lines: list[_Line]) -> _Region:
    first = next((i for i, line in enumerate(lines) if line.kind == "content"), None)
    if first is None:
        return _Region(0, len(lines), None, len(lines), None)
    last = max(i for i, line in enumerate(lines) if line.kind != "blank")
    return _Region(0, len(lines), lines[first].indent, last + 1, None)  # before the comments that end the file


def _entries(lines: list[_Line], region: _Region) -> list[_Entry]:
    entries: list[_Entry] = []
    for i in range(region.start, region.end):
        line = lines[i]
        if line.kind == "blank":
            continue
        if line.kind == "body" or line.indent != region.indent:
            if not entries or (line.kind != "body" and line.indent < (region.indent or 0)):
                raise YamlLayoutError(f"line {i + 1} is not where a mapping entry can be")
            previous = entries[-1]
            if (
                line.kind == "content"
                and previous.rest
                and previous.rest[0] not in "&!"  # an anchor or a tag, then the block it names
                and _split_key(line.text.lstrip(" ")) is not None
            ):
                raise YamlLayoutError(f"line {i + 1} is not where a mapping entry can be")  # under a scalar
            previous.last = i
            continue
        stripped = line.text.lstrip(" ")
        if entries and entries[-1].rest == "" and (stripped == "-" or stripped.startswith("- ")):
            entries[-1].last = i  # a block sequence at the key's own indentation
            continue
        split = _split_key(stripped)
        if split is None:
            raise YamlLayoutError(f"line {i + 1} is not a simple `key: value` mapping entry")
        key, raw, rest = split
        if key == "<<":
            raise YamlLayoutError(f"line {i + 1} is a merge key (<<)")
        if entries:
            entries[-1].end = i
        entries.append(_Entry(key, raw, i, line.indent, rest, region.end, i))
    return entries


def _find(lines: list[_Line], region: _Region, key: str) -> _Entry | None:
    for entry in _entries(lines, region):
        if entry.key == key:
            return entry
    return None


def _child(lines: list[_Line], entry: _Entry) -> _Region:
    """The block mapping that ``entry``'s value is (empty if the value is null or ``{}``)."""
    if entry.rest not in _NULLS and entry.rest != "{}":
        raise YamlLayoutError(f"the value of {entry.raw_key} (line {entry.line + 1}) is not a block mapping")
    first = next((i for i in range(entry.line + 1, entry.end) if lines[i].kind != "blank"), None)
    if first is None:
        return _Region(entry.line + 1, entry.end, None, entry.line + 1, entry)
    if entry.rest == "{}" or lines[first].indent <= entry.indent or lines[first].kind == "body":
        raise YamlLayoutError(f"the value of {entry.raw_key} (line {entry.line + 1}) is not a block mapping")
    return _Region(entry.line + 1, entry.end, lines[first].indent, entry.last + 1, entry)


def _indent_unit(lines: list[_Line]) -> int:
    content = [line for line in lines if line.kind == "content"]
    for a, b in itertools.pairwise(content):
        if b.indent > a.indent:
            return b.indent - a.indent
    return 2


def _scalar(rest: str) -> str | None:
    if not rest or rest[0] in "[{|>&*!":
        return None
    if rest[0] in "\"'":
        return _unquote(rest) if _quoted_end(rest) == len(rest) else None
    return rest


# --- writing ---------------------------------------------------------------------------------------------------


def key_text(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) and key.lower() not in _RESERVED else json.dumps(key)


def value_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar (ASCII: no line separators in it)


def _join(lines: list[_Line]) -> str:
    return "".join(line.text + line.eol for line in lines)


def _eol(lines: list[_Line]) -> str:
    return next((line.eol for line in lines if line.eol), "\n")


def _insert(lines: list[_Line], at: int, new: list[str]) -> str:
    eol = _eol(lines)
    if at > 0 and not lines[at - 1].eol:
        lines[at - 1].eol = eol
    made = [_Line(text, eol, "content", 0) for text in new]
    return _join([*lines[:at], *made, *lines[at:]])


def _set_one(text: str, path: tuple[str, ...], value: Scalar) -> str:
    lines = _lines(text)
    unit = _indent_unit(lines)
    region = _root(lines)
    for depth, key in enumerate(path):
        entry = _find(lines, region, key)
        if entry is None:
            if region.indent is not None:
                indent = region.indent
            else:
                indent = 0 if region.parent is None else region.parent.indent + unit
            new = [f"{' ' * (indent + unit * j)}{key_text(k)}:" for j, k in enumerate(path[depth:-1])]
            last = f"{' ' * (indent + unit * (len(path) - depth - 1))}{key_text(path[-1])}: {value_text(value)}"
            return _insert(lines, region.insert_at, [*new, last])
        if depth == len(path) - 1:
            # the entry's lines give way to one; comments among its old value's lines stay, after it
            replaced = _Line(f"{' ' * entry.indent}{entry.raw_key}: {value_text(value)}", _eol(lines), "", 0)
            comments = [line for line in lines[entry.line + 1 : entry.last + 1] if line.kind == "blank"]
            if not lines[entry.last].eol and not comments:
                replaced.eol = ""
            return _join([*lines[: entry.line], replaced, *comments, *lines[entry.last + 1 :]])
        if entry.rest == "{}" or (entry.rest in _NULLS and entry.rest):
            lines[entry.line].text = f"{' ' * entry.indent}{entry.raw_key}:"  # an empty mapping written inline
            return _set_one(_join(lines), path, value)
        region = _child(lines, entry)
    raise AssertionError("unreachable")


def get_value(text: str, path: tuple[str, ...]) -> str | None:
    """The scalar at ``path`` as written (a string; booleans as ``true``/``false``), None if absent or not a scalar
    on its line."""
    lines = _lines(text)
    region = _root(lines)
    for depth, key in enumerate(path):
        entry = _find(lines, region, key)
        if entry is None:
            return None
        if depth == len(path) - 1:
            return _scalar(entry.rest)
        if entry.rest in _NULLS or entry.rest == "{}":
            if entry.rest:
                return None
            region = _child(lines, entry)
        else:
            return None
    return None


def keys(text: str, path: tuple[str, ...]) -> list[str]:
    """The keys of the block mapping at ``path`` ([] if there is none)."""
    lines = _lines(text)
    region = _root(lines)
    for key in path:
        entry = _find(lines, region, key)
        if entry is None or entry.rest:  # absent, or written inline (null, {} or anything else)
            return []
        region = _child(lines, entry)
    return [entry.key for entry in _entries(lines, region)]


def set_values(text: str, path: tuple[str, ...], values: Mapping[str, Scalar]) -> str:
    """``text`` with ``values`` set in the block mapping at ``path`` (made if absent), the rest kept."""
    for key, value in values.items():
        text = _set_one(text, (*path, key), value)
    for key, value in values.items():
        expected = value_text(value) if isinstance(value, bool) else value
        if get_value(text, (*path, key)) != expected:
            raise YamlLayoutError(f"setting {'.'.join((*path, key))} did not read back")  # pragma: no cover
    return text


def add_to_list(text: str, key: str, item: str) -> tuple[str, bool]:
    """``text`` with the string ``item`` in the top-level sequence ``key`` (made if absent); whether it was added."""
    lines = _lines(text)
    unit = _indent_unit(lines)
    region = _root(lines)
    entry = _find(lines, region, key)
    if entry is None:
        indent = region.indent or 0
        return _insert(
            lines, region.insert_at, [f"{' ' * indent}{key_text(key)}:", f"{' ' * (indent + unit)}- {value_text(item)}"]
        ), True
    rest = entry.rest
    if rest.startswith("[") and rest.endswith("]"):
        inner = rest[1:-1]
        if any(c in inner for c in "[]{}\"'#"):
            raise YamlLayoutError(
                f"{entry.raw_key} (line {entry.line + 1}) is a flow sequence with quoted or nested items"
            )
        items = [s.strip() for s in inner.split(",") if s.strip()]
        if item in items:
            return text, False
        line = lines[entry.line]
        line.text = f"{' ' * entry.indent}{entry.raw_key}: [{', '.join([*items, value_text(item)])}]"
        return _join(lines), True
    if rest not in _NULLS:
        raise YamlLayoutError(f"the value of {entry.raw_key} (line {entry.line + 1}) is not a sequence")
    items_at: int | None = None
    existing: list[str] = []
    for i in range(entry.line + 1, entry.last + 1):
        line = lines[i]
        stripped = line.text.lstrip(" ")
        if line.kind != "content":
            continue
        if items_at is None:
            items_at = line.indent
        if line.indent == items_at:
            if not (stripped == "-" or stripped.startswith("- ")):
                raise YamlLayoutError(f"the value of {entry.raw_key} (line {entry.line + 1}) is not a block sequence")
            found = _scalar(_strip_comment(stripped[1:].strip()))
            if found is not None:
                existing.append(found)
    if item in existing:
        return text, False
    if rest:  # null written out: the sequence replaces it
        lines[entry.line].text = f"{' ' * entry.indent}{entry.raw_key}:"
    indent = items_at if items_at is not None else entry.indent + unit
    return _insert(lines, entry.last + 1, [f"{' ' * indent}- {value_text(item)}"]), True


__all__ = ["Scalar", "YamlLayoutError", "add_to_list", "get_value", "key_text", "keys", "set_values", "value_text"]
