"""An exclusive ``flock`` on a file, the holder written into it: the edge logger's spool lock
and a local store's job lease. The kernel releases the lock when the holder exits, however it
exits (``kill -9`` included), so a stale lock cannot outlive its process."""

from __future__ import annotations

import fcntl
import os

__all__ = ["try_flock", "release_flock"]


def try_flock(path: str | os.PathLike[str], holder: str) -> tuple[int | None, str]:
    """Take the lock on ``path`` without waiting: ``(fd, "")`` with ``holder`` written into
    the file, or ``(None, what the holder wrote)`` when another process has it. Raises
    ``OSError`` when the file cannot be opened.

    Example
    -------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "lock")
    >>> fd, _ = try_flock(p, "pid 1")
    >>> try_flock(p, "pid 2")
    (None, 'pid 1')
    >>> release_flock(fd)
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        os.close(fd)
        return None, text
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.encode(), 0)
    return fd, ""


def release_flock(fd: int) -> None:
    """Give the lock up (the file stays, emptied: its content is only informative)."""
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
