"""Write failures of the spool (a full disk, an I/O error): when to try again and what to
report.

A full disk must not turn the logger into a busy loop that floods its log and ignores
SIGTERM: after a failed write the next tries back off (0.1 s doubling to 5 s), and the
failure is reported once, then at most every 10 s with a count, and once more when writes
succeed again.
"""

from __future__ import annotations

import time

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
