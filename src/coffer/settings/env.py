"""Reading ``COFFER_*`` environment variables: numbers and yes/no values, each refusal naming its variable."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping


class SettingsError(ValueError):
    """A setting has a value Coffer cannot run with."""


def env_number(
    env: Mapping[str, str],
    name: str,
    kind: type[int] | type[float],
    what: str,
    valid: Callable[[float], bool] = lambda value: True,
) -> float | None:
    """The number in variable ``name`` (None when it is unset or empty). ``SettingsError`` (a ValueError) reads
    ``<name> must be <what>, got '<text>'`` for text that is not a finite ``kind`` or fails ``valid``."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value: float = kind(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not valid(value):
        raise SettingsError(f"{name} must be {what}, got {raw!r}")
    return value


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The yes/no in variable ``name`` (``default`` when it is unset or empty), spelt as click's booleans are
    (1/0, true/false, yes/no, on/off, any case); ``SettingsError`` for anything else."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise SettingsError(f"{name} must be a yes/no value (1/0, true/false, yes/no, on/off), got {env[name]!r}")
