"""The edge logger: sources -> queue -> journal (durable each flush) -> segments -> upload.

Threads: one per source, the uploader, and the main loop (flush, rotate, status). Memory is
bounded whatever the run length: the queue holds at most ``queue_max_frames`` (beyond that
frames from live buses are dropped and counted, file and simulator sources wait), a segment is
built from its journal on disk, and latencies go to fixed-size histograms.

Quota policy (``quota_bytes``, bytes of segments and journals in the spool):

* ``stop`` (default): when over quota the logger stops accepting frames, counts them as
  ``dropped.quota`` and reports an error every second; nothing already stored is deleted;
* ``delete-oldest``: the oldest local segment is deleted to make room; if it was not
  uploaded (no S3, or still offline) this is logged as an error naming the segment and counted
  in ``segments.deleted_not_uploaded``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from cantelem_sci.errors import SpoolError
from cantelem_sci.frames import FrameBatch, clock_steps

from . import __version__
from ._config import EdgeConfig
from ._disk import DiskRecovery, DiskTrouble
from cantelem_sci.io import (JOURNAL_GLOB, JournalWriter, journal_path, read_journal,
                             remove_temporaries, segment_key, write_segment)
from ._lock import SpoolLock
from ._sources import Source, make_source
from ._quota import SpoolQuota
from ._latency import latency_line
from ._status import Counters, logger_status, write_status

log = logging.getLogger("cantelem_edge")


class EdgeLogger(SpoolQuota, DiskRecovery):
    """One vehicle's logger. ``start()``, then ``run()`` until ``stop()`` (or a duration).

    Example
    -------
    >>> import tempfile
    >>> from cantelem_edge import EdgeLogger, load_config
    >>> cfg = load_config(spool=tempfile.mkdtemp(), sources=["sim:fast"], flush_interval=0.2)
    >>> lg = EdgeLogger(cfg)
    >>> lg.start(); lg.run(duration=0.5); lg.stop()
    >>> lg.counters.durable == lg.counters.received > 0
    True
    """

    def __init__(self, cfg: EdgeConfig, sources: list[Source] | None = None) -> None:
        self.cfg = cfg
        self.root = Path(cfg.spool)
        self.state_dir = cfg.state_dir
        self.lock = SpoolLock(self.state_dir)
        self.counters = Counters(cfg.latency_window)
        self.sources: list[Source] = [make_source(s, cfg.vehicle) for s in cfg.sources]
        self.sources += list(sources or [])
        self.live: Any = None
        self.alerts: Any = None
        if cfg.alert_rules:
            from cantelem_sci.alerts import AlertEngine

            self.alerts = AlertEngine(cfg.alert_rules, cfg.vehicle, self.state_dir / "alerts")
        if cfg.live.enabled or self.alerts is not None or cfg.uplink:
            from ._live import LivePublisher

            self.live = LivePublisher(cfg.live, cfg.vehicle, self.counters, self.alerts,
                                      cfg if cfg.uplink else None)
        self.channels: list[str] = []
        self._queue: list[Any] = []
        self._queued_frames = 0
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self.journal: JournalWriter | None = None
        self._journal_opened = 0.0
        self._journal_t0: int | None = None
        self.uploader: Any = None
        self.spool_bytes = 0
        self._segment_bytes = 0
        self.deleted_not_uploaded = 0
        self.deleted_expired = 0  # segments older than spool_max_age_days
        self.recovered_segments = 0  # made at start from the journals a crash left
        self.state = "new"
        self.first_seq: int | None = None
        self.seq: int | None = None
        self._last_status = 0.0
        self._next_flush: float | None = None
        self._quota_full = False
        self.disk = DiskTrouble()
        self._status_failed = False
        self._unfinished: list[Path] = []  # journals whose segment could not be written yet

    # ---- sink interface used by the sources -------------------------------------------------
    def put_can(self, batch: FrameBatch, *, block: bool = False, wall_clock: bool = True
                ) -> None:
        """Take ``batch`` from a source; ``wall_clock``: its frames carry the time they were
        captured (a bus), not the times of a log being replayed as fast as possible."""
        n = len(batch)
        if n == 0:
            return
        self.counters.latency.stamp(batch, wall_clock)
        with self._cv:
            if self._quota_full:
                self.counters.drop("quota", n)
                return
            while self._queued_frames + n > self.cfg.queue_max_frames:
                if block and self._stop.is_set():
                    return  # a file/simulator source being stopped: nothing was received
                if not block:
                    self.counters.drop("queue_full", n)
                    return
                self._cv.wait(0.1)
            self._queue.append(("can", batch))
            self._queued_frames += n
            with self.counters.lock:
                self.counters.received += n
        self.counters.latency.received(batch)
        if self.live is not None:
            self.live.offer(batch)  # bounded, never blocks: drops are counted

    def put_gps(self, fixes: dict[str, np.ndarray]) -> None:
        with self._cv:
            self._queue.append(("gps", fixes))
            with self.counters.lock:
                self.counters.gps_fixes += len(fixes["time"])

    def count_drop(self, cause: str, n: int) -> None:
        self.counters.drop(cause, n)

    # ---- life cycle ---------------------------------------------------------------------------
    def _prepare_spool(self) -> None:
        """Check the spool is writable and take its lock (:class:`SpoolLock`): one process
        per vehicle's spool, or journals the running one writes could be finalized away."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            (self.root / "raw").mkdir(parents=True, exist_ok=True)
            probe = self.state_dir / ".probe"
            with open(probe, "w") as fh:
                fh.write("ok")
                fh.flush()
                os.fsync(fh.fileno())
            probe.unlink()
        except OSError as err:
            raise SpoolError(f"{self.root}: the spool is not writable ({err.strerror}); give a "
                             "writable directory with --spool or CANTELEM_EDGE_SPOOL") from err
        self.lock.acquire()

    def _next_seq(self) -> int:
        path = self.state_dir / "state.json"
        seq = json.loads(path.read_text()).get("next_seq", 1) if path.exists() else 1
        # every journal on disk also counts (state.json may be older than a journal)
        for j in self.state_dir.glob(JOURNAL_GLOB):
            seq = max(seq, int(j.stem.split("-")[1]) + 1)
        tmp = path.with_name(".state.json.tmp")
        tmp.write_text(json.dumps({"next_seq": seq + 1}))
        with open(tmp) as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return seq

    def recover(self) -> list[str]:
        """Turn every journal left by a crash into a segment; remove temporaries. Returns
        the keys written."""
        keys = []
        remove_temporaries(self.root, self.cfg.vehicle)
        for j in sorted(self.state_dir.glob(JOURNAL_GLOB)):
            keys += [k for k in [self._finalize(j)] if k]
        return keys

    def start(self) -> None:
        """Prepare and lock the spool, recover, open the sources, start uploader and sources.
        On an error the lock is given back."""
        self._prepare_spool()
        try:
            self._start_locked()
        except BaseException:
            self.lock.release()
            raise

    def _start_locked(self) -> None:
        recovered = self.recover()
        self.recovered_segments = len(recovered)
        if recovered:
            log.info("recovered %d segment(s) from journals: %s", len(recovered), recovered)
        self.spool_bytes = self._measure_spool()
        self._enforce_age()  # a logger restarted after a long pause deletes at once
        for s in self.sources:
            s.open()  # every device and file is checked before anything starts
        if self.cfg.s3_url:
            from ._upload import Uploader

            self.uploader = Uploader(self.cfg, self._uploaded, self.counters.error)
            self.uploader.start()
        if self.live is not None:
            self.live.start()
        self._open_journal()
        for s in self.sources:
            s.start(self)
        self.state = "running"
        self._write_status()

    def _open_journal(self) -> None:
        seq = self._next_seq()
        if self.first_seq is None:
            self.first_seq = seq
        self.seq = seq
        meta = {"vehicle": self.cfg.vehicle, "seq": seq, "channel_names": list(self.channels),
                "logger_version": __version__}
        self.journal = JournalWriter(journal_path(self.state_dir, seq), meta)
        self._journal_opened = time.monotonic()
        self._journal_t0 = None

    def run(self, duration: float | None = None) -> None:
        """Flush, rotate and report until :meth:`request_stop`, ``duration`` seconds, or every
        finite source (replay) is done."""
        t_end = None if duration is None else time.monotonic() + duration
        tick = min(self.cfg.flush_interval, self.cfg.status_interval, 0.25)
        if self._next_flush is None:
            self._next_flush = time.monotonic() + self.cfg.flush_interval
        while not self._stop.is_set():
            now = time.monotonic()
            if t_end is not None and now >= t_end:
                break
            if self.sources and all(s.finished.is_set() for s in self.sources):
                break
            if now >= self._next_flush:
                self.flush()
                self._next_flush = now + self.cfg.flush_interval
            self._status_if_due()
            self._stop.wait(min(tick, max(0.0, self._next_flush - time.monotonic())))

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, upload_timeout: float = 5.0) -> None:
        """Stop the sources, flush, close the segment, give the uploader a moment, report."""
        self._stop.set()
        for s in self.sources:
            s.stop()
        for s in self.sources:
            s.join(5.0)
        with self._cv:
            self._cv.notify_all()
        self.flush(force_rotate=True)
        lost = self._queued_frames + (self.journal._pending_frames  # type: ignore[attr-defined]
                                      if self.journal is not None else 0)
        if lost:  # the disk refused to the end: counted, and said
            self.counters.drop("not_durable_at_stop", lost)
            log.error("stopping with %d frames not made durable (the spool could not be "
                      "written); segments of the journals on disk are made at the next start",
                      lost)
        if self.live is not None:
            self.live.stop()
        if self.uploader is not None:
            t_end = time.monotonic() + upload_timeout
            self.uploader.kick()
            # a failed try ("offline": a timeout on a busy link, a reset) is retried within
            # the timeout; refused credentials are not going to change before it ends
            while self.uploader.pending() and time.monotonic() < t_end and \
                    self.uploader.state != "refused":
                time.sleep(0.1)
            self.uploader.stop()
        self.state = "stopped"
        self._write_status()
        self.lock.release()

    # ---- the work -----------------------------------------------------------------------------
    def _channel_map(self, names: list[str]) -> np.ndarray:
        grew = False
        for nm in names:
            if nm not in self.channels:
                self.channels.append(nm)
                grew = True
        if grew and self.journal is not None:
            self.journal.set_channels(self.channels)
        return np.array([self.channels.index(nm) for nm in names], np.uint8)

    def flush(self, force_rotate: bool = False) -> int:
        """Make queued frames durable (journal + fsync); rotate the segment when due.

        After a failed write (a full disk) the next attempts back off (:class:`DiskTrouble`);
        what could not be written stays queued, and the queue's bound (frames dropped and
        counted as ``queue_full``) caps the memory held meanwhile."""
        if not force_rotate and self.disk.waiting():
            return 0
        self._retry_unfinished()
        if self.journal is None and not self._reopen():
            return 0
        if self.journal._pending_frames >= self.cfg.queue_max_frames:  # type: ignore[union-attr]
            # a write failed: retry what the journal holds before taking more into memory
            return self._finish_flush([], force_rotate)
        with self._cv:
            items, self._queue = self._queue, []
            self._queued_frames = 0
            self._cv.notify_all()
        assert self.journal is not None
        times = []
        seg_ns = int(self.cfg.segment_seconds * 1e9)
        rotated = 0
        for idx, (kind, obj) in enumerate(items):
            if kind == "can":
                recv = getattr(obj, "received_ns", time.time_ns())
                remap = self._channel_map(obj.channel_names)
                b = FrameBatch(obj.time, obj.arbitration_id, obj.dlc, obj.is_extended, obj.is_fd,
                               obj.is_remote, obj.is_error, remap[obj.channel], obj.data,
                               channel_names=list(self.channels))
                # a segment spans at most segment_seconds of frame time: split the batch
                while len(b):
                    if self._journal_t0 is None:
                        self._journal_t0 = int(b.time[0])
                    k = int(np.searchsorted(b.time, self._journal_t0 + seg_ns, side="left"))
                    if k >= len(b):
                        self.journal.append_can(b)
                        times.append((recv, len(b)))
                        break
                    if k:
                        self.journal.append_can(b.take(slice(0, k)))
                        times.append((recv, k))
                    rotated += self._flush_journal(times)
                    times = []
                    if not self._rotate():  # the disk refused: keep the rest queued
                        rest = b.take(slice(k, None))
                        rest.received_ns = recv  # type: ignore[attr-defined]
                        self._requeue([("can", rest)] + items[idx + 1:])
                        return rotated
                    self._enforce_quota()  # per segment: a backlog may not run past it
                    if self._quota_full and self.cfg.quota_policy == "stop":
                        rest = len(b) - k + sum(len(o) for kd, o in items[idx + 1:]
                                                if kd == "can")
                        self.counters.drop("quota", rest)
                        return rotated
                    # a backlog can span many segments: keep the status fresh meanwhile
                    self._status_if_due()
                    b = b.take(slice(k, None))
            else:
                self.journal.append_gps(obj)
        return rotated + self._finish_flush(times, force_rotate)

    def _requeue(self, items: list[Any]) -> None:
        """Put ``items`` (taken from the queue, not yet in a journal) back at its front."""
        with self._cv:
            self._queue = items + self._queue
            self._queued_frames += sum(len(o) for kind, o in items if kind == "can")

    def _flush_journal(self, times: list) -> int:
        assert self.journal is not None
        n = 0
        try:
            n = self.journal.flush()
        except SpoolError as err:
            self._disk_failed(err)
            return 0
        if not self._unfinished:  # (the episode ends when every pending write is done)
            self._disk_ok()
        if n:
            with self.counters.lock:
                self.counters.durable += n
            self.counters.latency.durable(self.seq, times)
        return n

    def _finish_flush(self, times: list, force_rotate: bool) -> int:
        assert self.journal is not None
        n = self._flush_journal(times)
        if self.disk.failures:
            return n
        self.spool_bytes = self._segment_bytes + self.journal.size
        self._enforce_age()
        self._enforce_quota()
        age = time.monotonic() - self._journal_opened
        if force_rotate or age >= self.cfg.segment_seconds or \
                self.journal.frames >= self.cfg.segment_max_frames:
            self._rotate(reopen=not force_rotate)
        return n

    def _rotate(self, reopen: bool = True) -> bool:
        """Close the journal and turn it into a segment; open the next one (``reopen``).
        False when the disk refused (the journal, or what it still holds, is kept)."""
        j = self.journal
        assert j is not None
        if j._pending:  # type: ignore[attr-defined]
            try:
                j.flush()
            except SpoolError as err:
                self._disk_failed(err)
                return False  # keep the journal; retried at the next flush
        if j.frames == 0 and j.gps == 0:
            if reopen:
                self._journal_opened = time.monotonic()
                self._journal_t0 = None
                return True
            j.close()
            j.path.unlink(missing_ok=True)
            self.journal = None
            return True
        j.close()
        self.journal = None
        try:
            self._finalize(j.path)
        except (SpoolError, OSError) as err:  # durable in its journal: retried later
            self._disk_failed(err)
            self._unfinished.append(j.path)
        self.spool_bytes = self._segment_bytes
        return self._reopen() if reopen else True

    def _reopen(self) -> bool:
        """Open the next journal; False when the disk refused (retried at the next flush)."""
        try:
            self._open_journal()
            return True
        except (SpoolError, OSError) as err:
            self._disk_failed(err)
            self.journal = None
            return False

    def _finalize(self, path: Path) -> str | None:
        """Journal -> segment (idempotent); delete the journal. Returns the segment key."""
        c = read_journal(path)
        for p in c.problems:
            log.error("%s", p)
            self.counters.error(p)
        if c.torn_bytes:
            log.warning("%s: %d bytes after the last complete record (a flush cut short) "
                        "are not used", path, c.torn_bytes)
        frames = c.frames
        if len(frames) == 0 and c.gps is None:
            path.unlink(missing_ok=True)
            return None
        steps, step_max = clock_steps(frames.time)  # in receive order, before sorting
        order = np.argsort(frames.time, kind="stable")
        frames = frames.take(order)
        seq = int(c.meta.get("seq", int(path.stem.split("-")[1])))
        start = int(frames.time[0]) if len(frames) else int(c.gps["time"].min())  # type: ignore[index]
        key = segment_key(self.cfg.vehicle, start, seq)
        meta = {"vehicle": self.cfg.vehicle, "seq": seq,
                "logger_version": c.meta.get("logger_version", __version__),
                "clock_steps": steps, "clock_step_max_ns": step_max}
        if steps:
            log.warning("%s: the clock stepped back %d time(s), by up to %.3f s; frames are "
                        "stored in time order", path.name, steps, step_max / 1e9)
        manifest = write_segment(self.root, key, frames, c.gps, meta, self.cfg.compression_level)
        self.counters.latency.segment(seq, key, keep=self.uploader is not None)
        path.unlink()
        self._segment_bytes += manifest["bytes"]
        with self.counters.lock:
            self.counters.in_segments += manifest["frame_count"]
            self.counters.segments_written += 1
        if self.uploader is not None:
            self.uploader.kick()
        return key

    def _uploaded(self, manifest: dict[str, Any]) -> None:
        with self.counters.lock:
            self.counters.uploaded += manifest["frame_count"]
            self.counters.segments_uploaded += 1
        self.counters.latency.uploaded(manifest["key"])
        self._segment_bytes -= manifest.get("bytes", 0)

    # ---- status -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What the status file says (:func:`._status.logger_status`)."""
        return logger_status(self)

    def _status_if_due(self) -> None:
        if time.monotonic() - self._last_status >= self.cfg.status_interval:
            self._write_status()

    def _write_status(self) -> None:
        status = self.status()
        line = latency_line(status["latency_s"])
        if line:
            log.info("%s", line)
        try:
            write_status(self.cfg.status_file, status)
            self._status_failed = False
        except OSError as err:
            if not self._status_failed:  # reported once per episode, not every second
                log.error("%s: cannot write the status file: %s", self.cfg.status_file,
                          err.strerror)
            self._status_failed = True
        self._last_status = time.monotonic()
