"""One fleet job of a kind at a time per store: a lease.

Two decode jobs on one store would decode the same days twice and, worse, one would remove
the other's output while it is being written. The job takes the store's lease first; a
second job refuses naming the holder (or waits ``wait`` seconds for it).

* A local store: ``flock`` on ``<store>/.locks/<job>.lock``. The kernel releases it when the
  holder exits, however it exits, so a stale lease cannot outlive its process.
* An object store: ``locks/<job>.json`` naming the holder (host, pid, start) and an expiry,
  renewed every ``ttl / 3`` while the job runs; an expired lease (a job killed without
  releasing) is taken over. Object stores have no compare-and-swap here, so two jobs started
  within the same second can both get it: the decode job's writes are safe anyway (each day
  is written and published as a whole, see :mod:`._job`); the lease only saves the work.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any

from ..errors import StoreBusyError
from ..io import release_flock, try_flock
from ._store import Store

__all__ = ["JobLease"]

TTL_S = 600.0


class JobLease:
    """The lease of job ``name`` on ``store`` (see the module docstring).

    Example
    -------
    >>> import tempfile
    >>> st = Store(tempfile.mkdtemp())
    >>> with JobLease(st, "decode"):
    ...     try:
    ...         JobLease(st, "decode").acquire()
    ...     except StoreBusyError as err:
    ...         "in use by" in str(err)
    True
    """

    def __init__(self, store: Store, name: str, *, wait: float = 0.0, ttl: float = TTL_S
                 ) -> None:
        self.store = store
        self.name = name
        self.wait = wait
        self.ttl = ttl
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(),
                       "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "token": uuid.uuid4().hex[:12]}
        self._fd: int | None = None
        self._stop = threading.Event()
        self._renew: threading.Thread | None = None

    def __enter__(self) -> "JobLease":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    @property
    def key(self) -> str:
        return f"locks/{self.name}.json"

    def acquire(self) -> None:
        """Take the lease, waiting up to ``wait`` seconds; else raise :class:`StoreBusyError`
        naming the holder."""
        t_end = time.monotonic() + self.wait
        while True:
            holder = self._try()
            if holder is None:
                return
            if time.monotonic() >= t_end:
                raise StoreBusyError(
                    f"{self.store.url}: the {self.name} job's lease is in use by {holder}; "
                    f"wait for it (--wait SECONDS) or stop it") from None
            time.sleep(min(1.0, max(0.05, t_end - time.monotonic())))

    def _try(self) -> str | None:
        """None when taken, else a description of the holder."""
        if self.store.local:
            d = os.path.join(self.store.root, ".locks")
            os.makedirs(d, exist_ok=True)
            fd, held_by = try_flock(os.path.join(d, f"{self.name}.lock"),
                                    _describe(self.holder))
            if fd is None:
                return held_by or "another process"
            self._fd = fd
            return None
        now = time.time()
        try:
            cur = self.store.read_json(self.key)
        except FileNotFoundError:
            cur = None
        if cur and cur.get("expires", 0) > now and cur.get("holder") != self.holder:
            until = time.strftime("%H:%M:%S", time.gmtime(cur["expires"]))
            return f"{_describe(cur['holder'])} (lease until {until} UTC)"
        self._write()
        self._renew = threading.Thread(target=self._renewing, name=f"lease-{self.name}",
                                       daemon=True)
        self._renew.start()
        return None

    def _write(self) -> None:
        self.store.write_json(self.key, {"holder": self.holder,
                                         "expires": time.time() + self.ttl})

    def _renewing(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._write()
            except OSError:  # the next renewal tries again; the lease lasts ttl
                pass

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            release_flock(fd)
            return
        if self._renew is not None:
            self._stop.set()
            self._renew.join(5)
            self._renew = None
            try:
                cur = self.store.read_json(self.key)
                if cur.get("holder") == self.holder:
                    self.store.rm(self.key)
            except (FileNotFoundError, OSError):
                pass


def _describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')} (since {holder.get('started')})"
