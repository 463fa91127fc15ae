"""Write failures of the spool (a full disk, an I/O error): when to try again and what to
report.

A full disk must not turn the logger into a busy loop that floods its log and ignores
SIGTERM: after a failed write the next tries back off (0.1 s doubling to 5 s), and the
failure is reported once, then at most every 10 s with a count, and once more when writes
succeed again.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from cantelem_sci.errors import SpoolError

log = logging.getLogger("cantelem_edge")

#: Seconds before the first retry; doubled per failure up to :data:`BACKOFF_MAX`.
BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0
#: Seconds between two reports of an ongoing failure.
REPORT_EVERY = 10.0


class DiskTrouble:
    """The state of an episode of write failures.

    Example
    -------
    >>> d = DiskTrouble()
    >>> d.failed(OSError("No space left on device")).startswith("No space left")
    True
    >>> d.waiting(), d.failed(OSError("again")) is None
    (True, True)
    >>> d.ok().startswith("spool writable again after 2 failed writes")
    True
    """

    def __init__(self) -> None:
        self.failures = 0
        self.since: float | None = None
        self.delay = 0.0
        self._next_try = 0.0
        self._reported = 0.0

    def waiting(self) -> bool:
        """Whether a retry is not due yet."""
        return bool(self.failures) and time.monotonic() < self._next_try

    def failed(self, err: BaseException) -> str | None:
        """Count a failure; the message to report, or None when it is not due."""
        now = time.monotonic()
        self.failures += 1
        if self.since is None:
            self.since = now
        self.delay = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** min(self.failures - 1, 10))
        self._next_try = now + self.delay
        if self.failures > 1 and now - self._reported < REPORT_EVERY:
            return None
        self._reported = now
        if self.failures == 1:
            return f"{err} (retrying in {self.delay:.1f} s)"
        return (f"{err} ({self.failures} failed writes in {now - self.since:.0f} s; retrying "
                f"every {self.delay:.1f} s)")

    def ok(self) -> str | None:
        """A write succeeded: the message that ends an episode (None when there was none)."""
        if not self.failures:
            return None
        msg = (f"spool writable again after {self.failures} failed writes over "
               f"{time.monotonic() - (self.since or 0.0):.0f} s")
        self.failures, self.since, self.delay = 0, None, 0.0
        return msg


class DiskRecovery:
    """The logger's side of an episode (a mixin of :class:`~._logger.EdgeLogger`): report a
    failure, report the recovery, and write the segments a failure held back, in order."""

    disk: DiskTrouble
    counters: Any
    _unfinished: list[Path]
    _finalize: Any  # journal path -> segment (the logger's)

    def _retry_unfinished(self) -> None:
        """Segments that could not be written (a full disk) from their journals, in order."""
        while self._unfinished:
            try:
                self._finalize(self._unfinished[0])
            except (SpoolError, OSError) as err:
                self._disk_failed(err)
                return
            self._unfinished.pop(0)
            if not self._unfinished:
                self._disk_ok()

    def _disk_failed(self, err: Exception) -> None:
        msg = self.disk.failed(err)
        if msg:
            log.error("%s", msg)
            self.counters.error(msg)

    def _disk_ok(self) -> None:
        msg = self.disk.ok()
        if msg:
            log.warning("%s", msg)
