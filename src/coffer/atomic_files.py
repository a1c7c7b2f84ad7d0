"""Small files written atomically (temp file, fsync, rename) with the mode secrets need, and private directories:
the one atomic file writer, for the server (its data directory) and for ``coffer.login`` (client configuration).

Everything Coffer creates under its data directory is private to the user it runs as: directories 0700, files
0600, whatever the umask (modes are set explicitly, not left to ``mkdir``/``open`` and the umask).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Final

PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600
PRIVATE_UMASK: Final = 0o077
"""The umask Coffer's commands run under, so that whatever a library creates on their behalf is private too."""


def set_private_umask() -> int:
    """Make files and directories this process creates from now on private (0600/0700); returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each with mode exactly 0700 (whatever the umask). Existing
    directories are left as they are (one the user made is theirs to set)."""
    missing: list[Path] = []
    path = Path(directory)
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue  # made by someone else in the meantime: theirs
        os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask; chmod's is not


def tighten_mode(path: Path, mode: int) -> bool:
    """Take group and other permissions off ``path`` (a file or directory this user owns; not followed if a
    symlink) so that its mode is at most ``mode``. True if it changed something."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    current = st.st_mode & 0o7777
    if st.st_uid != os.geteuid() or os.path.islink(path) or current & ~mode == 0:
        return False
    os.chmod(path, current & mode)
    return True


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_FILE_MODE, *, private_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` (a file of mode ``mode``); a crash leaves either the old or the new content,
    never a mix. Missing directories are made private (``make_private_dir``), or with ``private_dir=False`` as
    ``mkdir`` makes them (for files of other programs, e.g. a client's configuration)."""
    if private_dir:
        make_private_dir(path.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or new file in ``directory`` durable (best effort where the OS refuses)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
