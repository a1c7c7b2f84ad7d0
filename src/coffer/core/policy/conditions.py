"""Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators").

Semantics implemented here, all from that page and "Single-valued vs. multivalued context keys":

- keys in one operator block AND together, the values of one key OR together; a negated operator
  (``StringNotEquals``, ``NotIpAddress``, ...) is true when the context value matches *none* of the values (NOR);
- a key absent from the request: the condition is false, except that negated operators are true, ``...IfExists``
  is true, and ``Null`` tests exactly that;
- ``ForAnyValue:`` is true if at least one context value satisfies the operator (false for an absent or empty key),
  ``ForAllValues:`` if every one does (true for an absent or empty key);
- without a set prefix a multivalued context key is satisfied when any of its values matches (for negated
  operators: when none does);
- a context value that cannot be read as the operator's type (a number, a date, an IP address) never matches.

``ArnEquals`` honours wildcards exactly like ``ArnLike``, as AWS's implementation does.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from coffer.core.policy import variables
from coffer.core.policy.policy_errors import MalformedPolicyDocumentError
from coffer.core.policy.wildcards import match_any, match_parts

Family = Literal["string", "numeric", "date", "bool", "binary", "ip", "arn", "null"]
SetOperator = Literal["ForAllValues", "ForAnyValue"]

# base operator -> (family, relation, negated)
_BASES: dict[str, tuple[Family, str, bool]] = {
    "StringEquals": ("string", "eq", False),
    "StringNotEquals": ("string", "eq", True),
    "StringEqualsIgnoreCase": ("string", "ieq", False),
    "StringNotEqualsIgnoreCase": ("string", "ieq", True),
    "StringLike": ("string", "like", False),
    "StringNotLike": ("string", "like", True),
    "NumericEquals": ("numeric", "eq", False),
    "NumericNotEquals": ("numeric", "eq", True),
    "NumericLessThan": ("numeric", "lt", False),
    "NumericLessThanEquals": ("numeric", "le", False),
    "NumericGreaterThan": ("numeric", "gt", False),
    "NumericGreaterThanEquals": ("numeric", "ge", False),
    "DateEquals": ("date", "eq", False),
    "DateNotEquals": ("date", "eq", True),
    "DateLessThan": ("date", "lt", False),
    "DateLessThanEquals": ("date", "le", False),
    "DateGreaterThan": ("date", "gt", False),
    "DateGreaterThanEquals": ("date", "ge", False),
    "Bool": ("bool", "eq", False),
    "BinaryEquals": ("binary", "eq", False),
    "IpAddress": ("ip", "in", False),
    "NotIpAddress": ("ip", "in", True),
    "ArnEquals": ("arn", "like", False),
    "ArnLike": ("arn", "like", False),
    "ArnNotEquals": ("arn", "like", True),
    "ArnNotLike": ("arn", "like", True),
    "Null": ("null", "eq", False),
}
_VARIABLE_FAMILIES = frozenset({"string", "arn"})
_RELATIONS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


@dataclass(frozen=True)
class Operator:
    """A parsed condition operator name such as ``ForAnyValue:StringNotLikeIfExists``."""

    name: str
    base: str
    family: Family
    relation: str
    negated: bool
    if_exists: bool
    set_operator: SetOperator | None


@lru_cache(maxsize=512)
def parse_operator(name: str) -> Operator:
    """Parse and validate an operator name (cached); raises MalformedPolicyDocumentError if unknown."""
    rest = name
    set_operator: SetOperator | None = None
    for prefix in ("ForAllValues", "ForAnyValue"):
        if rest.startswith(prefix + ":"):
            set_operator = "ForAllValues" if prefix == "ForAllValues" else "ForAnyValue"
            rest = rest[len(prefix) + 1 :]
            break
    if_exists = rest.endswith("IfExists")
    base = rest.removesuffix("IfExists")
    spec = _BASES.get(base)
    if spec is None or (if_exists and base == "Null"):
        raise MalformedPolicyDocumentError(f"Invalid Condition type : {name}")
    family, relation, negated = spec
    return Operator(name, base, family, relation, negated, if_exists, set_operator)


# --- typed readings of values, cached: the same few values recur on every request ---

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,6})?")
_EPOCH = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,9})?")


@lru_cache(maxsize=4096)
def _number(text: str) -> Decimal | None:
    return Decimal(text) if len(text) <= 100 and _NUMBER.fullmatch(text) else None


@lru_cache(maxsize=4096)
def _date(text: str) -> float | None:
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=1024)
def _lowered(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(value.lower() for value in values)


_VALIDATORS: Mapping[str, Callable[[str], object]] = {
    "numeric": _number,
    "date": _date,
    "ip": _network,
    "binary": _binary,
    "bool": lambda text: text if text.lower() in ("true", "false") else None,
    "null": lambda text: text if text.lower() in ("true", "false") else None,
}


@dataclass(frozen=True)
class Condition:
    """One ``operator: {key: values}`` test. ``policy_variables`` is set when the values contain ``${...}`` and
    the policy version honours variables."""

    operator: str
    key: str
    values: tuple[str, ...]
    policy_variables: bool = False
    _op: Operator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_op", parse_operator(self.operator))


def _value_text(value: object, name: str, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    raise MalformedPolicyDocumentError(f"Syntax errors in policy. Condition {name} {key} has a bad value.")


def parse_conditions(block: object, allow_variables: bool) -> tuple[Condition, ...]:
    """Validate a statement's ``Condition`` object and flatten it into Condition tests."""
    if not isinstance(block, dict):
        raise MalformedPolicyDocumentError("Syntax errors in policy. Condition must be an object.")
    out: list[Condition] = []
    for name, tests in block.items():
        op = parse_operator(name)
        if not isinstance(tests, dict):
            raise MalformedPolicyDocumentError(f"Syntax errors in policy. Condition {name} must be an object.")
        for key, raw in tests.items():
            if ":" not in key or key.startswith(":") or key.endswith(":"):
                raise MalformedPolicyDocumentError(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                raise MalformedPolicyDocumentError(f"Syntax errors in policy. Condition {name} {key} has no value.")
            values = tuple(_value_text(item, name, key) for item in items)
            check = _VALIDATORS.get(op.family)
            bad = [value for value in values if check is not None and check(value) is None]
            if bad:
                raise MalformedPolicyDocumentError(f"Invalid Condition value for {name} {key}: {bad[0]}")
            uses_variables = (
                allow_variables
                and op.family in _VARIABLE_FAMILIES
                and any(variables.has_variables(value) for value in values)
            )
            out.append(Condition(name, key, values, uses_variables))
    return tuple(out)


def _positive(op: Operator, cond: Condition, value: str, lookup: variables.Lookup) -> bool | None:
    """Does one context value match any policy value (before negation)? None if it is of the wrong type."""
    family = op.family
    if family in _VARIABLE_FAMILIES:
        arn = family == "arn"
        if not cond.policy_variables:
            if op.relation == "eq":
                return value in cond.values
            if op.relation == "ieq":
                return value.lower() in _lowered(cond.values)
            return match_any(cond.values, value, arn=arn)
        for policy_value in cond.values:
            parts = variables.resolve(policy_value, lookup)
            if parts is None:
                continue
            if op.relation == "like":
                if match_parts(parts, value, arn=arn):
                    return True
                continue
            text = "".join(chunk for chunk, _ in parts)
            if text == value or (op.relation == "ieq" and text.lower() == value.lower()):
                return True
        return False
    if family == "bool":
        return value.lower() in _lowered(cond.values)
    if family == "binary":
        data = _binary(value)
        if data is None:
            return value in cond.values
        return any(_binary(v) == data for v in cond.values)
    if family == "ip":
        address = _address(value)
        if address is None:
            return None
        return any(address in network for v in cond.values if (network := _network(v)) is not None)
    reader = _number if family == "numeric" else _date
    reading = reader(value)
    if reading is None:
        return None
    relation = _RELATIONS[op.relation]
    return any(relation(reading, policy) for v in cond.values if (policy := reader(v)) is not None)


def condition_matches(cond: Condition, lookup: variables.Lookup) -> bool:
    """Evaluate one condition test against the request context (``lookup`` is case-insensitive)."""
    op = cond._op
    found = lookup(cond.key)
    present = bool(found)
    if op.family == "null":
        return any((v.lower() == "true") != present for v in cond.values)
    if not found:
        if op.if_exists or op.set_operator == "ForAllValues":
            return True
        if op.set_operator == "ForAnyValue":
            return False
        return op.negated
    results = [_positive(op, cond, value, lookup) for value in found]
    if op.set_operator is None:
        return all(r is False for r in results) if op.negated else any(r is True for r in results)
    satisfied = [r is not None and r != op.negated for r in results]
    return all(satisfied) if op.set_operator == "ForAllValues" else any(satisfied)


def conditions_match(conds: tuple[Condition, ...], lookup: variables.Lookup) -> bool:
    """All of a statement's condition tests hold (AND)."""
    return all(condition_matches(cond, lookup) for cond in conds)
