"""Counters, latency percentiles and the status file (written atomically, at least 1/s)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


from ._latency import Latencies, LatencyHistogram

__all__ = ["Counters", "LatencyHistogram", "logger_status", "read_status", "write_status"]


class Counters:
    """Thread-safe counters of the logger, plus latency histograms."""

    def __init__(self, latency_window: float = 60.0) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.durable = 0
        self.in_segments = 0
        self.uploaded = 0
        self.gps_fixes = 0
        self.segments_written = 0
        self.segments_uploaded = 0
        self.dropped: dict[str, int] = {}
        self.errors: list[str] = []
        self.latency = Latencies(latency_window)

    def drop(self, cause: str, n: int) -> None:
        with self.lock:
            self.dropped[cause] = self.dropped.get(cause, 0) + int(n)

    def error(self, msg: str) -> None:
        with self.lock:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.errors = (self.errors + [f"{stamp} {msg}"])[-20:]


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Write ``status`` as JSON to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(status, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any]:
    """The last status written (for tests, ``cantelem-edge status`` and dashboards)."""
    return json.loads(Path(path).read_text())


def logger_status(lg: Any) -> dict[str, Any]:
    """The status of an :class:`~._logger.EdgeLogger` (what its status file says)."""
    from . import __version__

    c = lg.counters
    with c.lock:
        up = lg.uploader
        return {
            "vehicle": lg.cfg.vehicle,
            "logger_version": __version__,
            "pid": os.getpid(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "time_ns": time.time_ns(),
            "state": ("disk-error" if lg.disk.failures else
                      "quota-full" if lg._quota_full else lg.state),
            "disk": {"failed_writes": lg.disk.failures,
                     "retry_every_s": lg.disk.delay,
                     "segments_waiting": len(lg._unfinished)},
            "frames": {"received": c.received, "durable": c.durable,
                       "in_segments": c.in_segments, "uploaded": c.uploaded},
            "dropped": dict(c.dropped),
            "queue_depth": lg._queued_frames,
            "seq": {"first": lg.first_seq, "current": lg.seq},
            "spool_bytes": lg.spool_bytes,
            "gps_fixes": c.gps_fixes,
            "segments": {"written": c.segments_written,
                         "recovered_at_start": lg.recovered_segments,
                         "uploaded": c.segments_uploaded,
                         "deleted_not_uploaded": lg.deleted_not_uploaded,
                         "deleted_expired": lg.deleted_expired},
            "latency_s": c.latency.summary(),
            "live": None if lg.live is None else lg.live.status(),
            "alerts": None if lg.alerts is None else lg.alerts.status(),
            "uplink": (None if lg.live is None or lg.live.uplink is None
                       else lg.live.uplink.status()),
            "upload": None if up is None else {
                "target": lg.cfg.s3_url, "state": up.state, "attempt": up.attempt,
                "next_try": up.next_try, "resumed_by_probe": up.resumed_by_probe},
            "sources": [{"name": s.name, "running": not s.finished.is_set(),
                         "error": None if s.error is None else str(s.error), **s.status()}
                        for s in lg.sources],
            "errors": list(c.errors),
        }
