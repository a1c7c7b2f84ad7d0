"""Package groups (CodeArtifact's domain-level package groups): patterns, matching, the hierarchy and origin
restrictions. Pure: no SQL, no HTTP.

A pattern is a package path ``/format/namespace/name`` with its unspecified components left out and a suffix:
``$`` matches the full coordinate, ``~`` a prefix of the last component given, ``*`` (after a ``/``) every value of
the next component. The allowed shapes (AWS's list):

- ``/*``: every package (the root group, which every domain has)
- ``/npm/*``: a format
- ``/maven/com.anycompany~``: a format and a namespace prefix
- ``/npm/space/*``: a format and a namespace
- ``/npm/space/anycompany-ui~``: a format, a namespace and a name prefix
- ``/maven/org.apache.logging.log4j/log4j-core$``: one package

Formats without namespaces (pypi, nuget, ...) use an empty namespace component (``/pypi//requests$``); formats
whose packages always have one (maven, generic, swift) need it when a name is given. Names are normalized as the
format compares them (pypi: PEP 503, through ``package_names``), so ``/pypi//My_Pkg$`` is ``/pypi//my-pkg$``.

Matching: a package belongs to the single most specific group whose pattern it matches (``most_specific``). A
match is STRONG when the package's coordinates match the pattern as written, WEAK when they match only a variation
of it: ignoring ASCII case and treating each run of ``-``, ``.`` and ``_`` as one ``-`` (``/npm//react$`` weakly
matches the package ``/npm//React``, ``/npm/acme/ui-kit~`` weakly matches ``/npm/acme/UI_Kit.core``). What a weak
association does to origin controls is in ``package_group_origins``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar, get_args

from coffer.core.packages.package_names import normalize_name
from coffer.core.shared.errors import ValidationError

AssociationType = Literal["STRONG", "WEAK"]
RestrictionType = Literal["PUBLISH", "EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM"]
RestrictionMode = Literal["ALLOW", "BLOCK", "ALLOW_SPECIFIC_REPOSITORIES", "INHERIT"]

RESTRICTION_TYPES: Final[tuple[RestrictionType, ...]] = get_args(RestrictionType)
RESTRICTION_MODES: Final[tuple[RestrictionMode, ...]] = get_args(RestrictionMode)

ROOT_PATTERN: Final = "/*"

#: the formats CodeArtifact knows (its PackageFormat enum)
FORMATS: Final = frozenset({"npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"})
#: formats whose packages have no namespace: a pattern's namespace component must be empty
NO_NAMESPACE_FORMATS: Final = frozenset({"pypi", "nuget", "ruby", "cargo"})
#: formats whose packages always have a namespace: a pattern with a name must give one
NAMESPACE_REQUIRED_FORMATS: Final = frozenset({"maven", "generic", "swift"})

MAX_PATTERN_LENGTH: Final = 520
_FORBIDDEN_IN_COMPONENT = re.compile(r"[\s#*~$]")
_SEPARATOR_RUNS = re.compile(r"[-._]+")


def _invalid(pattern: str, why: str) -> ValidationError:
    return ValidationError(f"Invalid package group pattern {pattern!r}: {why}")


def variation_key(text: str) -> str:
    """The spelling two names share when they differ only by a variation (a WEAK match): ASCII case folded, each
    run of ``-``, ``.`` and ``_`` one ``-``."""
    return _SEPARATOR_RUNS.sub("-", text.lower())


@dataclass(frozen=True, order=False)
class GroupPattern:
    """A parsed, normalized pattern.

    ``format`` None is the root ``/*``. ``namespace`` None: every namespace (``/fmt/*``). ``name`` None: every
    name. ``prefix``: the last component given (the name if there is one, else the namespace) is a prefix (``~``).
    ``/fmt/ns~`` is (fmt, ns, None, prefix=True); ``/fmt/ns/*`` is (fmt, ns, None, prefix=False).
    """

    format: str | None = None
    namespace: str | None = None
    name: str | None = None
    prefix: bool = False

    @property
    def text(self) -> str:
        """The canonical pattern string (the group's identifier)."""
        if self.format is None:
            return ROOT_PATTERN
        if self.namespace is None:
            return f"/{self.format}/*"
        if self.name is None:
            return f"/{self.format}/{self.namespace}~" if self.prefix else f"/{self.format}/{self.namespace}/*"
        return f"/{self.format}/{self.namespace}/{self.name}{'~' if self.prefix else '$'}"

    @property
    def is_root(self) -> bool:
        return self.format is None

    @property
    def specificity(self) -> tuple[int, int, int, int, int]:
        """Orders patterns from least to most specific: any format < a format < a namespace prefix (longer is more
        specific) < a namespace < a name prefix (longer is more specific) < a name."""
        if self.format is None:
            return (0, 0, 0, 0, 0)
        if self.namespace is None:
            return (1, 0, 0, 0, 0)
        if self.name is None:
            return (1, 1, len(self.namespace), 0, 0) if self.prefix else (1, 2, 0, 0, 0)
        return (1, 2, 0, 1, len(self.name)) if self.prefix else (1, 2, 0, 2, 0)

    def match(self, fmt: str, namespace: str | None, name: str) -> AssociationType | None:
        """How the package (coordinates as stored: normalized name, namespace None for none) matches: STRONG,
        WEAK (only a variation matches) or None."""
        if self.format is None:
            return "STRONG"
        if fmt != self.format:
            return None
        if self.namespace is None:
            return "STRONG"
        ns = namespace or ""
        ns_match = _component(self.namespace, ns, self.prefix and self.name is None)
        if ns_match is None or self.name is None:
            return ns_match
        name_match = _component(self.name, name, self.prefix)
        if name_match is None:
            return None
        return "STRONG" if ns_match == name_match == "STRONG" else "WEAK"

    def contains(self, other: GroupPattern) -> bool:
        """Whether every package ``other`` matches is one this (different, less specific) pattern matches: the
        relation a group's parent is chosen by."""
        if other == self or (self.name is not None and not self.prefix):
            return False
        if self.format is None:
            return True
        if other.format != self.format or other.namespace is None:
            return False
        if self.namespace is None:
            return True
        if self.name is None:
            if self.prefix:  # /f/p~ holds the longer prefixes and every pattern below a namespace starting with p
                return other.namespace.startswith(self.namespace)
            return other.namespace == self.namespace and other.name is not None  # /f/n/* holds names in n
        # a name prefix /f/n/p~ holds longer prefixes and the names starting with p
        return other.namespace == self.namespace and other.name is not None and other.name.startswith(self.name)


def _component(pattern: str, value: str, prefix: bool) -> AssociationType | None:
    if value == pattern if not prefix else value.startswith(pattern):
        return "STRONG"
    key, wanted = variation_key(value), variation_key(pattern)
    if key == wanted if not prefix else key.startswith(wanted):
        return "WEAK"
    return None


ROOT: Final = GroupPattern()


def _check_component(pattern: str, what: str, value: str) -> None:
    if _FORBIDDEN_IN_COMPONENT.search(value):
        allowed = "whitespace, #, *, ~ and $ are not allowed in a component"
        raise _invalid(pattern, f"the {what} {value!r} contains a character that is not allowed ({allowed})")


def _normalized(fmt: str, value: str) -> str:
    return normalize_name(fmt, value)


@functools.lru_cache(maxsize=4096)
def parse_pattern(pattern: str) -> GroupPattern:
    """Parse and normalize a package group pattern; ValidationException (naming what is wrong) if it is not one.
    Memoized: matching re-reads the stored patterns of a domain on every publish and fetch."""
    if not 2 <= len(pattern) <= MAX_PATTERN_LENGTH:
        raise _invalid(pattern, f"a pattern is 2 to {MAX_PATTERN_LENGTH} characters long")
    if not pattern.startswith("/"):
        raise _invalid(pattern, "a pattern starts with '/'")
    suffix = pattern[-1]
    if suffix not in "$~*":
        raise _invalid(pattern, "a pattern ends with '$' (exact), '~' (prefix) or '*' (every value)")
    if pattern == ROOT_PATTERN:
        return ROOT
    body = pattern[1:-1]
    if suffix == "*":
        if not body.endswith("/"):
            raise _invalid(pattern, "'*' stands for a whole component and must follow a '/' (as in '/npm/*')")
        parts = body[:-1].split("/")
        if len(parts) > 2:
            raise _invalid(pattern, "'*' may follow the format or the namespace only ('/npm/*', '/npm/space/*')")
    else:
        parts = body.split("/")
        if len(parts) > 3:
            raise _invalid(pattern, "a pattern has at most three components: format, namespace and name")
        if len(parts) == 1:
            raise _invalid(pattern, "a format is matched with '*' ('/npm/*'); '$' and '~' follow a namespace or name")
        if suffix == "$" and len(parts) == 2:
            raise _invalid(pattern, "'$' needs a name: '/format/namespace/name$' (an empty namespace: '/pypi//name$')")
        if parts[-1] == "":
            raise _invalid(pattern, f"'{suffix}' must follow a non-empty {'name' if len(parts) == 3 else 'namespace'}")
    fmt = parts[0]
    if fmt not in FORMATS:
        raise _invalid(pattern, f"unknown package format {fmt!r} (one of {', '.join(sorted(FORMATS))})")
    if len(parts) == 1:
        return GroupPattern(format=fmt)
    namespace = parts[1]
    _check_component(pattern, "namespace", namespace)
    if fmt in NO_NAMESPACE_FORMATS and namespace:
        raise _invalid(pattern, f"{fmt} packages have no namespace: leave it empty ('/{fmt}//name$')")
    name = parts[2] if len(parts) == 3 else None
    if name is not None:
        _check_component(pattern, "name", name)
        if fmt in NAMESPACE_REQUIRED_FORMATS and not namespace:
            raise _invalid(pattern, f"{fmt} packages have a namespace: a pattern with a name must include it")
        return GroupPattern(fmt, namespace, _normalized(fmt, name), prefix=suffix == "~")
    return GroupPattern(fmt, namespace, None, prefix=suffix == "~")


# --- groups ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageGroup:
    """A package group as stored. ``modes`` has a mode per restriction type; ``allowed`` the allowed-repository
    list of each restriction type that has one (sorted names), kept whatever the mode."""

    domain_owner: str
    domain_name: str
    pattern: str
    arn: str
    created_time: float
    description: str = ""
    contact_info: str = ""
    modes: Mapping[RestrictionType, RestrictionMode] = field(default_factory=dict, hash=False)
    allowed: Mapping[RestrictionType, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def parsed(self) -> GroupPattern:
        return parse_pattern(self.pattern)

    def mode(self, restriction: RestrictionType) -> RestrictionMode:
        return self.modes.get(restriction, "ALLOW" if self.pattern == ROOT_PATTERN else "INHERIT")

    def allowed_repositories(self, restriction: RestrictionType) -> tuple[str, ...]:
        return self.allowed.get(restriction, ())


ROOT_MODES: Final[Mapping[RestrictionType, RestrictionMode]] = dict.fromkeys(RESTRICTION_TYPES, "ALLOW")
NEW_GROUP_MODES: Final[Mapping[RestrictionType, RestrictionMode]] = dict.fromkeys(RESTRICTION_TYPES, "INHERIT")

G = TypeVar("G", bound=PackageGroup)


def _parsed_all(groups: Iterable[G]) -> list[tuple[GroupPattern, G]]:
    return [(g.parsed, g) for g in groups]


def most_specific(groups: Iterable[G], fmt: str, namespace: str | None, name: str) -> tuple[G, AssociationType] | None:
    """The group the package belongs to, and how: the most specific matching pattern (a strong match wins a tie
    between equally specific patterns); None if nothing matches (a domain always has the root, which matches all)."""
    best: tuple[tuple[tuple[int, ...], int], G, AssociationType] | None = None
    for parsed, group in _parsed_all(groups):
        kind = parsed.match(fmt, namespace, name)
        if kind is None:
            continue
        rank = (parsed.specificity, 1 if kind == "STRONG" else 0)
        if best is None or rank > best[0]:
            best = (rank, group, kind)
    return None if best is None else (best[1], best[2])


def parent_of(groups: Iterable[G], pattern: str) -> G | None:
    """The group's parent: the most specific other group whose pattern contains it (None for the root)."""
    target = parse_pattern(pattern)
    containers = [(p, g) for p, g in _parsed_all(groups) if p.contains(target)]
    if not containers:
        return None
    return max(containers, key=lambda pg: pg[0].specificity)[1]


def children_of(groups: Iterable[G], pattern: str) -> list[G]:
    """The direct sub-groups: the groups whose parent is ``pattern``'s group, ordered by pattern."""
    everything = list(groups)
    out = []
    for g in everything:
        parent = parent_of(everything, g.pattern) if g.pattern != pattern else None
        if parent is not None and parent.pattern == pattern:
            out.append(g)
    return sorted(out, key=lambda g: g.pattern)


def ancestors(groups: Iterable[G], pattern: str) -> list[G]:
    """The chain of parents from the group's parent up to the root."""
    everything = list(groups)
    chain: list[G] = []
    current = parent_of(everything, pattern)
    while current is not None and current not in chain:
        chain.append(current)
        current = parent_of(everything, current.pattern)
    return chain
