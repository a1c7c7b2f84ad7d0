"""Routing a rest-json request, ``(method, raw path, query)``, to its operation by the model's uri templates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

if TYPE_CHECKING:
    from coffer.aws.restjson_model import OperationSpec

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RouteMatch:
    operation: OperationSpec
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # percent-decoded uri label values
    name: str = field(init=False)  # the operation's (a field, not a property: read on every request)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.operation.name)


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """The path names an operation, but not with this method."""

    allowed: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Template:
    operation: OperationSpec
    regex: re.Pattern[str]
    groups: tuple[tuple[str, str], ...]  # (regex group, label name)
    query: tuple[tuple[str, str | None], ...]  # literal query requirements from "?a=b&c" in the template


def _template_sort_key(template: str) -> tuple[int, int, int, int, str]:
    path, _, query = template.partition("?")
    labels = re.findall(r"\{([^}]*)\}", path)
    greedy = sum(1 for label in labels if label.endswith("+"))
    literal = len(re.sub(r"\{[^}]*\}", "", path))
    query_reqs = len([q for q in query.split("&") if q])
    return (-query_reqs, greedy, len(labels), -literal, template)


def _compile_template(op: OperationSpec) -> _Template:
    path, _, query = op.request_uri.partition("?")
    parts: list[str] = []
    groups: list[tuple[str, str]] = []
    pos = 0
    for match in re.finditer(r"\{([^}]*)\}", path):
        parts.append(re.escape(path[pos : match.start()]))
        label = match.group(1)
        group = f"g{len(groups)}"
        if label.endswith("+"):
            groups.append((group, label[:-1]))
            parts.append(f"(?P<{group}>.+)")
        else:
            groups.append((group, label))
            parts.append(f"(?P<{group}>[^/]+)")
        pos = match.end()
    parts.append(re.escape(path[pos:]))
    reqs: list[tuple[str, str | None]] = []
    for item in query.split("&"):
        if item:
            key, eq, value = item.partition("=")
            reqs.append((key, value if eq else None))
    return _Template(op, re.compile("".join(parts), re.DOTALL), tuple(groups), tuple(reqs))


class Router:
    """Resolves ``(method, path)`` to an operation.

    ``path`` is the raw request path, still percent-encoded (ASGI ``raw_path``): labels are matched on the encoded
    form, so an encoded ``/`` inside a label stays inside it, and decoded afterwards. Templates without labels are a
    single dict lookup; labelled templates are tried most specific first (fewer greedy labels, fewer labels, more
    literal characters). A path that exists with other methods gives :class:`MethodNotAllowed`.
    """

    def __init__(self, operations: Iterable[OperationSpec]) -> None:
        static: dict[str, dict[str, OperationSpec]] = {}
        templated: list[OperationSpec] = []
        for op in operations:
            if "{" in op.request_uri or "?" in op.request_uri:
                templated.append(op)
                continue
            by_method = static.setdefault(op.request_uri, {})
            if op.method in by_method:
                raise ValueError(f"two operations on {op.method} {op.request_uri}")
            by_method[op.method] = op
        self._static: Mapping[str, Mapping[str, OperationSpec]] = {
            path: MappingProxyType(by_method) for path, by_method in static.items()
        }
        # the match of a static route is always the same (no labels): made once, not per request
        self._static_matches: Mapping[tuple[str, str], RouteMatch] = {
            (path, method): RouteMatch(op) for path, by_method in static.items() for method, op in by_method.items()
        }
        templated.sort(key=lambda op: _template_sort_key(op.request_uri))
        self._templates: tuple[_Template, ...] = tuple(_compile_template(op) for op in templated)

    def route(
        self, method: str, path: str, query: Iterable[tuple[str, str]] = ()
    ) -> RouteMatch | MethodNotAllowed | None:
        static = self._static_matches.get((path, method))
        if static is not None:
            return static
        by_method = self._static.get(path)
        if not self._templates:
            return MethodNotAllowed(frozenset(by_method)) if by_method else None
        allowed: set[str] = set(by_method) if by_method else set()
        query_pairs: list[tuple[str, str]] | None = None
        for template in self._templates:
            found = template.regex.fullmatch(path)
            if found is None:
                continue
            if template.query:
                if query_pairs is None:
                    query_pairs = list(query)
                if not _query_satisfies(template.query, query_pairs):
                    continue
            if template.operation.method != method:
                allowed.add(template.operation.method)
                continue
            try:
                labels = {label: unquote(found.group(group), errors="strict") for group, label in template.groups}
            except UnicodeDecodeError:
                return None  # the path names no resource: a label must be UTF-8 once decoded
            return RouteMatch(template.operation, MappingProxyType(labels))
        return MethodNotAllowed(frozenset(allowed)) if allowed else None


def _query_satisfies(required: tuple[tuple[str, str | None], ...], pairs: list[tuple[str, str]]) -> bool:
    return all(any(k == key and (value is None or v == value) for k, v in pairs) for key, value in required)


__all__ = ["MethodNotAllowed", "RouteMatch", "Router"]
