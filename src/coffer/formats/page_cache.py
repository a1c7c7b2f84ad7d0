"""Whether a file's bytes can be read without waiting for the disk: what lets the event loop read (or
``sendfile``) a package file itself, and hand it to a worker thread only when the disk must be read.

Linux's ``preadv`` with ``RWF_NOWAIT`` fails with ``EAGAIN`` instead of waiting when the data is not in the page
cache. :func:`in_memory` probes the first and the last byte of a range that way (one byte each, so the probe costs
two small system calls and no copy): the cache fills by read-ahead, in runs, so a range whose two ends are there
is there. Where the kernel or the file system cannot say (no ``RWF_NOWAIT``), it answers True.
"""

from __future__ import annotations

import errno
import os
from typing import Final

_NOWAIT: Final = getattr(os, "RWF_NOWAIT", 0)


def in_memory(fd: int, offset: int, size: int) -> bool:
    """Whether ``size`` bytes of ``fd`` from ``offset`` are (by their two ends) in the page cache."""
    if not _NOWAIT or size <= 0:
        return True
    probe = bytearray(1)
    try:
        os.preadv(fd, [probe], offset, _NOWAIT)
        if size > 1:
            os.preadv(fd, [probe], offset + size - 1, _NOWAIT)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            return True  # this file system or kernel cannot tell
        raise
    return True


def read_into_cache(fd: int, offset: int, size: int, *, close: bool = False) -> None:
    """Read the range once (blocking: in a worker thread) so that it is in the page cache; ``close``: close ``fd``
    after (a duplicate the caller made for this thread alone)."""
    try:
        buffer = memoryview(bytearray(min(size, 1 << 20)))
        done = 0
        while done < size:
            n = os.preadv(fd, [buffer[: size - done]], offset + done)
            if n <= 0:
                break
            done += n
    finally:
        if close:
            os.close(fd)


__all__ = ["in_memory", "read_into_cache"]
