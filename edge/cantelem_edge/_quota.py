"""The spool's size, its quota and its age limit: what the logger's segments and journals
take on disk, what happens when they exceed ``quota_bytes`` (``quota_policy``: ``stop``
drops new frames, counted; ``delete-oldest`` deletes the oldest segments not yet uploaded,
said), and the segments older than ``spool_max_age_days`` (deleted, said and counted)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from pathlib import Path

from cantelem_sci.io import JOURNAL_GLOB

log = logging.getLogger("cantelem_edge")


class SpoolQuota:
    """Spool accounting for :class:`~._logger.EdgeLogger` (a mixin: it uses the logger's
    ``cfg``, ``root``, ``state_dir``, ``counters`` and spool byte counts)."""

    def _measure_spool(self) -> int:
        """Bytes of local segments (from their manifests) and journals; done at start and
        after deletions, otherwise kept up to date incrementally."""
        seg = 0
        for m in self._local_segments():
            try:
                seg += json.loads(m.read_text()).get("bytes", 0)
            except (OSError, ValueError):
                pass
        self._segment_bytes = seg
        return seg + sum(j.stat().st_size for j in self.state_dir.glob(JOURNAL_GLOB))

    def _local_segments(self) -> list[Path]:
        base = self.root / "raw" / f"vehicle={self.cfg.vehicle}"
        return sorted(base.glob("date=*/*.zarr.manifest.json"),
                      key=lambda p: (p.parent.name, p.name)) if base.exists() else []

    def _enforce_quota(self) -> None:
        q = self.cfg.quota_bytes
        if not q:
            return
        if self.spool_bytes <= q:
            if self._quota_full:
                log.warning("spool back under quota (%d <= %d bytes): accepting frames again",
                            self.spool_bytes, q)
            self._quota_full = False
            return
        if self.cfg.quota_policy == "delete-oldest":
            for man in self._local_segments():
                if self.spool_bytes <= q:
                    break
                key = json.loads(man.read_text())["key"]
                msg = (f"quota {q} bytes exceeded: deleting segment {key} that was NOT uploaded "
                       "(quota_policy = delete-oldest)")
                log.error("%s", msg)
                self.counters.error(msg)
                shutil.rmtree(self.root / key, ignore_errors=True)
                man.unlink(missing_ok=True)
                self.deleted_not_uploaded += 1
                self.spool_bytes = self._measure_spool()
            return
        if not self._quota_full:
            msg = (f"spool over quota ({self.spool_bytes} > {q} bytes): new frames are dropped "
                   "(quota_policy = stop); nothing stored is deleted")
            log.error("%s", msg)
            self.counters.error(msg)
        self._quota_full = True

    def _enforce_age(self, every_s: float = 60.0) -> None:
        """Delete the local segments of days older than ``spool_max_age_days`` (whole date
        folders, as the store's retention does; journals are never touched). Checked at most
        every ``every_s`` seconds."""
        days = self.cfg.spool_max_age_days
        now = time.monotonic()
        if not days or now - getattr(self, "_age_checked", -every_s) < every_s:
            return
        self._age_checked = now
        cutoff = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).date().isoformat()
        base = self.root / "raw" / f"vehicle={self.cfg.vehicle}"
        gone = 0
        for folder in sorted(base.glob("date=*")) if base.exists() else []:
            if folder.name[len("date="):] >= cutoff:
                break
            for man in sorted(folder.glob("*.zarr.manifest.json")):
                key = man.name[: -len(".manifest.json")]
                man.unlink(missing_ok=True)  # first: no uploader or reader takes it any more
                shutil.rmtree(folder / key, ignore_errors=True)
                gone += 1
            shutil.rmtree(folder, ignore_errors=True)
            msg = (f"spool_max_age_days = {days:g}: deleted {folder.name} of the spool "
                   "(segments not uploaded)")
            log.error("%s", msg)
            self.counters.error(msg)
        if gone:
            self.deleted_expired += gone
            self.spool_bytes = self._measure_spool()

