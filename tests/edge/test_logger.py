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


def test_latency_of_a_fast_replay_is_measured_from_the_receive_time(tmp_path):
    """Frames of a log replayed as fast as possible carry times of years ago: every stage is
    measured from when the logger received them, so no latency exceeds the run itself, the
    receive stage (frame time -> received) is not counted, and the log carries the line."""
    import logging
    import time

    from cantelem_edge._sources import BatchSource

    old = _batch(5000, 10.0)
    old.time = old.time - 6 * 365 * 86400 * 10**9  # six years ago
    cfg = load_config(spool=str(tmp_path), environ={}, flush_interval=0.1,
                      status_interval=0.1)
    t0 = time.monotonic()
    lg = EdgeLogger(cfg, sources=[BatchSource(old, realtime=False)])
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("cantelem_edge")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        lg.start()
        lg.run(duration=2.0)
        lg.stop()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    ran = time.monotonic() - t0
    lat = lg.status()["latency_s"]
    assert lat["durable"]["n"] == 5000
    assert 0 <= lat["durable"]["max"] <= ran
    assert lat["receive"]["n"] == 0
    lines = [x for x in lines if x.startswith("latency")]
    assert lines and lines[-1].startswith("latency over 60 s: durable p50 ")
    assert "(5000 frames)" in lines[-1]


def test_latency_percentiles_cover_a_rolling_window():
    """Per stage, the percentiles are those of the last window: slow frames a window old no
    longer count (a fixed clock here: the window is about time, not about the host)."""
    from cantelem_edge._latency import RollingLatency

    now = [1000.0]
    r = RollingLatency(window=60.0, clock=lambda: now[0])
    r.add(np.full(100, 30.0))      # a slow start (an upload backlog)
    now[0] += 20
    r.add(np.full(900, 0.02))
    assert r.summary()["n"] == 1000 and r.summary()["p99"] > 20
    now[0] += 50                   # 70 s after the slow ones, 50 s after the fast ones
    s = r.summary()
    assert s["n"] == 900 and s["max"] == 0.02 and 0.017 < s["p99"] <= 0.02
    now[0] += 3600                 # nothing for an hour: an empty window
    assert r.summary()["n"] == 0 and r.summary()["p50"] is None


def test_segments_older_than_the_spool_age_limit_are_deleted_and_counted(tmp_path):
    """spool_max_age_days: the spool keeps the segments of recent days (not yet uploaded
    here: no S3), deletes older days' segments when the logger starts, says so and counts
    them; journals and newer segments are untouched."""
    import datetime as dt

    import cantelem_sci as ct
    from cantelem_edge import ingest

    today = dt.datetime.now(dt.timezone.utc).replace(hour=6, minute=0, second=0, microsecond=0)
    for days_ago in (45, 31, 2):
        start = (today - dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S")
        ingest(ct.simulate_vehicle("EV0001", duration_s=20, start=start), "EV0001",
               str(tmp_path))
    base = tmp_path / "raw" / "vehicle=EV0001"
    dates = sorted(p.name for p in base.glob("date=*"))
    assert len(dates) == 3
    recent = (today - dt.timedelta(days=2)).strftime("date=%Y-%m-%d")
    st = ingest(ct.simulate_vehicle("EV0001", duration_s=5, start=today.strftime(
        "%Y-%m-%dT%H:%M:%S")), "EV0001", str(tmp_path), spool_max_age_days=30)
    assert sorted(p.name for p in base.glob("date=*")) == sorted(
        {recent, today.strftime("date=%Y-%m-%d")})
    assert st["segments"]["deleted_expired"] == 2
    assert sum("spool_max_age_days = 30: deleted date=" in e for e in st["errors"]) == 2
    assert st["frames"]["durable"] == st["frames"]["in_segments"] > 0
    from cantelem_sci.io import read_segment

    left = list(base.glob("date=*/*.manifest.json"))
    assert left and all(len(read_segment(str(m)[: -len(".manifest.json")])) > 0 for m in left)
