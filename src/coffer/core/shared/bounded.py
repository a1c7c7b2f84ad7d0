"""Memos bounded the cheapest way: emptied whole when full.

What the request path remembers (verified tokens, policy decisions, callers per source IP, clean log targets,
cached entries) is a plain dict read without a lock or any bookkeeping; :func:`remember` bounds it by forgetting
everything once it holds ``most`` entries, which a working set smaller than the bound never meets.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(kept: MutableMapping[K, V], key: K, value: V, most: int) -> V:
    """``kept[key] = value`` (returned), after forgetting every entry when ``most`` are kept already."""
    if len(kept) >= most:
        kept.clear()
    kept[key] = value
    return value


__all__ = ["remember"]
