r"""Java regular expressions (as found in AWS models) translated to Python's ``re``.

Python's ``re`` has no ``\p{..}``/``\P{..}``. Character classes using them are expanded into explicit, positive
code point ranges (a positive class of ranges is fast in ``re``; a negated one is scanned linearly). The pattern is
compiled with ``re.ASCII`` because Java's ``\s``, ``\d``, ``\w`` and ``\b`` are ASCII-only by default, as is
its case-insensitive matching. Anything this translator does not understand raises ``ValueError`` at load time
rather than silently matching differently.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

_Ranges = tuple[tuple[int, int], ...]

_MAX_CP: Final = 0x10FFFF
_WHITE_SPACE: Final[_Ranges] = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_ASCII_SETS: Final[Mapping[str, _Ranges]] = {
    "s": ((0x09, 0x0D), (0x20, 0x20)),  # Java: [ \t\n\x0B\f\r]
    "d": ((0x30, 0x39),),
    "w": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "h": (
        (0x09, 0x09),
        (0x20, 0x20),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x180E, 0x180E),
        (0x2000, 0x200A),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
    ),
    "v": ((0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029)),
}
_PUNCT: Final[_Ranges] = ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E))
_POSIX: Final[Mapping[str, _Ranges]] = {
    "lower": ((0x61, 0x7A),),
    "upper": ((0x41, 0x5A),),
    "ascii": ((0x00, 0x7F),),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "digit": ((0x30, 0x39),),
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "punct": _PUNCT,
    "graph": ((0x21, 0x7E),),
    "print": ((0x20, 0x7E),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
}
_BINARY_TO_CATEGORY: Final[Mapping[str, str]] = {
    "letter": "L",
    "digit": "Nd",
    "punctuation": "P",
    "control": "Cc",
    "uppercase": "Lu",
    "lowercase": "Ll",
    "titlecase": "Lt",
}


@functools.cache
def _category_ranges() -> Mapping[str, _Ranges]:
    """Code point ranges of every Unicode general category (and its one-letter group). Computed once, ~0.3 s."""
    runs: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    start = 0
    current = category(chr(0))
    for cp in range(1, _MAX_CP + 1):
        cat = category(chr(cp))
        if cat != current:
            runs.setdefault(current, []).append((start, cp - 1))
            start, current = cp, cat
    runs.setdefault(current, []).append((start, _MAX_CP))
    out: dict[str, _Ranges] = {cat: _normalize(r) for cat, r in runs.items()}
    for group in {cat[0] for cat in runs}:
        out[group] = _normalize([r for cat, rs in runs.items() if cat[0] == group for r in rs])
    out["LC"] = _normalize([*out.get("Lu", ()), *out.get("Ll", ()), *out.get("Lt", ())])
    return MappingProxyType(out)


def _normalize(ranges: Iterable[tuple[int, int]]) -> _Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _complement(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_CP:
        out.append((nxt, _MAX_CP))
    return tuple(out)


def _cp_source(cp: int) -> str:
    char = chr(cp)
    if char.isascii() and char.isalnum():
        return char
    return f"\\U{cp:08X}"


def _class_source(ranges: _Ranges) -> str:
    if not ranges:
        return "(?!)"
    body = "".join(_cp_source(lo) if lo == hi else f"{_cp_source(lo)}-{_cp_source(hi)}" for lo, hi in ranges)
    return f"[{body}]"


def _property_ranges(name: str) -> _Ranges:
    raw = name.strip()
    for prefix in ("general_category=", "gc="):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    categories = _category_ranges()
    candidates = [raw, raw[2:]] if raw.startswith("Is") else [raw]
    for candidate in candidates:
        if candidate == "L&":
            candidate = "LC"
        if candidate in categories:
            return categories[candidate]
    key = raw.removeprefix("Is").replace("_", "").replace(" ", "").lower()
    if key in ("whitespace", "whitespaces"):
        return _WHITE_SPACE
    if key in _BINARY_TO_CATEGORY:
        return categories[_BINARY_TO_CATEGORY[key]]
    if key == "assigned":
        return _complement(categories.get("Cn", ()))
    if not raw.startswith("Is") and key in _POSIX:
        return _POSIX[key]
    raise ValueError(f"unsupported Unicode property \\p{{{name}}}")


_SIMPLE_ESCAPES: Final[Mapping[str, int]] = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}


def _read_escape(src: str, i: int) -> tuple[str, Any, int]:
    """Read the escape starting at ``src[i] == '\\'``.

    Returns ``(kind, value, next_index)`` where kind is ``"prop"`` (value: ranges Python cannot express as an
    escape), ``"ascii"`` (value: ranges of ``\\s \\d \\w`` and their negations, which Python writes the same way under
    ``re.ASCII``), ``"char"`` (value: code point) or ``"raw"`` (value: Python regex text, only outside classes).
    """
    if i + 1 >= len(src):
        raise ValueError("pattern ends with a backslash")
    c = src[i + 1]
    if c in "pP":
        if i + 2 < len(src) and src[i + 2] == "{":
            end = src.find("}", i + 3)
            if end < 0:
                raise ValueError("unclosed \\p{")
            name, nxt = src[i + 3 : end], end + 1
        elif i + 2 < len(src):
            name, nxt = src[i + 2], i + 3
        else:
            raise ValueError("dangling \\p")
        ranges = _property_ranges(name)
        return "prop", (ranges if c == "p" else _complement(ranges)), nxt
    lower = c.lower()
    if lower in _ASCII_SETS:
        ranges = _ASCII_SETS[lower]
        kind = "ascii" if lower in "sdw" else "prop"
        return kind, (ranges if c == lower else _complement(ranges)), i + 2
    if c in _SIMPLE_ESCAPES:
        return "char", _SIMPLE_ESCAPES[c], i + 2
    if c == "x":
        if src.startswith("{", i + 2):
            end = src.find("}", i + 3)
            if end < 0:
                raise ValueError("unclosed \\x{")
            return "char", int(src[i + 3 : end], 16), end + 1
        return "char", int(src[i + 2 : i + 4], 16), i + 4
    if c == "u":
        return "char", int(src[i + 2 : i + 6], 16), i + 6
    if c == "0":
        j = i + 2
        while j < len(src) and j < i + 5 and src[j] in "01234567":
            j += 1
        if j == i + 2:
            raise ValueError("\\0 needs octal digits")
        return "char", int(src[i + 2 : j], 8), j
    if c == "c" and i + 2 < len(src):
        return "char", ord(src[i + 2]) ^ 0x40, i + 3
    if c == "z":
        return "raw", r"\Z", i + 2
    if c == "Z":
        return "raw", r"(?=\n?\Z)", i + 2
    if c in "bBA" or c.isdigit():
        return "raw", "\\" + c, i + 2
    if c.isascii() and c.isalnum():
        raise ValueError(f"unsupported escape \\{c}")
    return "char", ord(c), i + 2


def _translate_class(src: str, i: int) -> tuple[str, int]:
    """Translate the class starting at ``src[i] == '['``; returns (python source, index after ``]``)."""
    start = i
    i += 1
    negated = src.startswith("^", i)
    if negated:
        i += 1
    items: list[tuple[int, int]] = []
    uses_property = False
    first = True
    while True:
        if i >= len(src):
            raise ValueError("unclosed character class")
        c = src[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[" or src.startswith("&&", i):
            raise ValueError("nested classes and intersections are not supported")
        if c == "\\":
            kind, value, i = _read_escape(src, i)
            if kind in ("prop", "ascii"):
                items.extend(value)
                uses_property = uses_property or kind == "prop"
                continue
            if kind == "raw":
                raise ValueError(f"escape not allowed in a class: {src[i - 2 : i]}")
            lo = int(value)
        else:
            lo = ord(c)
            i += 1
        if src.startswith("-", i) and i + 1 < len(src) and src[i + 1] != "]":
            if src[i + 1] == "\\":
                kind, value, j = _read_escape(src, i + 1)
                if kind != "char":
                    raise ValueError("class range ends with a set")
                hi = int(value)
            else:
                hi, j = ord(src[i + 1]), i + 2
            if hi < lo:
                raise ValueError("bad class range")
            items.append((lo, hi))
            i = j
        else:
            items.append((lo, lo))
    if not uses_property:
        return src[start:i], i  # plain class: Java and Python agree (with re.ASCII for \s \d \w)
    ranges = _normalize(items)
    return _class_source(_complement(ranges) if negated else ranges), i


def java_pattern_to_python(pattern: str) -> str:
    """Translate a Java regular expression (as used in AWS service models) into Python ``re`` syntax."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            kind, value, nxt = _read_escape(pattern, i)
            if kind == "prop":
                out.append(_class_source(value))
            elif kind == "ascii":
                out.append(pattern[i:nxt])
            elif kind == "char":
                out.append(re.escape(chr(value)))
            else:
                out.append(value)
            i = nxt
        elif c == "[":
            source, i = _translate_class(pattern, i)
            out.append(source)
        elif pattern.startswith("(?<", i) and i + 3 < len(pattern) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def compile_java_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern for ``fullmatch`` use. Raises ``ValueError`` when it cannot be translated."""
    try:
        return re.compile(java_pattern_to_python(pattern), re.ASCII)
    except re.error as exc:
        raise ValueError(f"cannot compile model pattern {pattern!r}: {exc}") from exc


__all__ = ["compile_java_pattern", "java_pattern_to_python"]
