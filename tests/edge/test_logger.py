"""The logger's main loop in process: a backlog that spans many segments."""

from __future__ import annotations

import json

import numpy as np

from cantelem_edge import EdgeLogger, load_config
from cantelem_sci.frames import FrameBatch


def _batch(n: int, span_s: float) -> FrameBatch:
    t = 1_767_225_600_000_000_000 + np.linspace(0, span_s * 1e9, n).astype(np.int64)
    z = np.zeros(n, bool)
    return FrameBatch(t, np.full(n, 0x123, np.uint32), np.full(n, 8, np.uint8), z, z, z, z,
                      np.zeros(n, np.uint8), np.arange(n * 8, dtype=np.uint64).astype(np.uint8)
                      .reshape(n, 8), channel_names=["can0"])


class _Recording(EdgeLogger):
    def _write_status(self) -> None:
        super()._write_status()
        self.seen.append(json.loads(self.cfg.status_file.read_text()))


def test_status_stays_fresh_while_a_backlog_is_flushed(tmp_path):
    """A backlog of 12 segments' worth of frames is flushed at once: the status file is
    rewritten between the segments, not only once the whole backlog is stored."""
    cfg = load_config(spool=str(tmp_path), environ={}, segment_seconds=0.5, status_interval=1e-9)
    lg = _Recording(cfg)
    lg.seen = []
    lg.start()
    lg.put_can(_batch(1200, 6.0))
    lg.seen.clear()
    lg.flush()
    written = [s["segments"]["written"] for s in lg.seen]
    durable = [s["frames"]["durable"] for s in lg.seen]
    assert written == sorted(written) and durable == sorted(durable)
    assert len(set(written)) >= 10, written  # one fresh status per stored segment
    assert 0 < durable[0] < 1200
    lg.stop()
    st = lg.status()
    assert st["frames"]["durable"] == st["frames"]["in_segments"] == 1200


def test_quota_stop_holds_within_a_backlog(tmp_path):
    """A backlog of 12 segments flushed at once against a quota the first segments already
    fill: the quota is checked per segment, so the spool ends within the quota plus one
    segment, and every frame not stored is counted as dropped (quota)."""
    cfg = load_config(spool=str(tmp_path), environ={}, segment_seconds=0.5,
                      quota_bytes=1, quota_policy="stop")
    lg = EdgeLogger(cfg)
    lg.start()
    lg.put_can(_batch(1200, 6.0))
    lg.flush()
    st = lg.status()
    lg.stop()
    sizes = [json.loads(m.read_text())["bytes"]
             for m in tmp_path.glob("raw/vehicle=*/date=*/*.manifest.json")]
    assert len(sizes) == 1  # the first segment reached the quota; nothing more was stored
    assert st["state"] == "quota-full"
    assert st["frames"]["durable"] + st["dropped"]["quota"] == 1200
