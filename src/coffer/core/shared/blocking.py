"""Serving a request on the event loop while everything it needs is in memory.

Most package reads and token requests are answered from the services' caches, and handing such a request to a
worker thread costs more than the work (measured in ``bench/``). So the HTTP layer first runs it with
``no_blocking()`` in force; whatever is about to block (a database transaction, an upstream fetch, waiting
for another thread's call) calls ``may_block()`` first, which then raises ``WouldBlock``, and the HTTP layer
runs the whole request again on a worker thread (``run_inline_first``).

What runs before the raise must be safe to repeat: reads, and cache fills of what was read. ``WouldBlock`` is
a ``BaseException`` so that no ``except Exception`` on the way (an upstream failure served from a stale copy,
say) can take it for an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from anyio import to_thread

P = ParamSpec("P")
T = TypeVar("T")

_NO_BLOCKING: ContextVar[bool] = ContextVar("coffer_no_blocking", default=False)


class WouldBlock(BaseException):
    """Work that must not block is about to (see the module's docstring)."""


def on_the_loop() -> bool:
    """Whether this runs under ``no_blocking()`` (a request tried on the event loop)."""
    return _NO_BLOCKING.get()


def may_block() -> None:
    """Called before anything that may block: raises ``WouldBlock`` under ``no_blocking()``."""
    if _NO_BLOCKING.get():
        raise WouldBlock()


@contextmanager
def no_blocking() -> Iterator[None]:
    token = _NO_BLOCKING.set(True)
    try:
        yield
    finally:
        _NO_BLOCKING.reset(token)


async def run_inline_first(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the event loop if it needs nothing that blocks, else on a worker thread."""
    token = _NO_BLOCKING.set(True)  # no_blocking(), without a context manager's cost (this runs per request)
    try:
        return fn(*args, **kwargs)
    except WouldBlock:
        pass
    finally:
        _NO_BLOCKING.reset(token)
    return await to_thread.run_sync(lambda: fn(*args, **kwargs))
