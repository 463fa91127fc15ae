"""An exclusive lock on one vehicle's spool state (journals, sequence numbers, status).

Only one process may append to a vehicle's journals, turn them into segments or delete
them: a ``recover`` or a second ``run`` on the spool of a running logger would otherwise
finalize or delete the journal the logger is writing, losing frames it already reported
durable. The lock is ``flock`` on ``<spool>/.edge/<vehicle>/lock``: the kernel releases it
when the holder exits, however it exits (``kill -9`` included), so a stale lock cannot
outlive its process. The holder's pid is written into the file for the refusal message.
"""

from __future__ import annotations

import os
from pathlib import Path

from cantelem_sci.errors import SpoolError
from cantelem_sci.io import release_flock, try_flock

__all__ = ["SpoolLock"]


class SpoolLock:
    """Hold the exclusive lock of a spool state directory, or refuse naming the holder.

    Example
    -------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> a = SpoolLock(d); a.acquire()
    >>> try:
    ...     SpoolLock(d).acquire()
    ... except SpoolError as err:
    ...     "in use by pid" in str(err)
    True
    >>> a.release()
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / "lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without waiting; raise :class:`SpoolError` naming the holder's pid."""
        if self._fd is not None:
            return
        try:
            fd, holder = try_flock(self.path, f"{os.getpid()}\n")
        except OSError as err:
            raise SpoolError(f"{self.path}: cannot open the spool lock: {err.strerror}") from err
        if fd is None:
            raise SpoolError(
                f"{self.path.parent}: the spool is in use by pid {holder or 'unknown'} (a "
                "running cantelem-edge run or recover); stop that process first, or give "
                "another --spool or --vehicle")
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the file stays; its content is only informative)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            release_flock(fd)
