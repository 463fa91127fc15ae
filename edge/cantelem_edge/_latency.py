"""Latency of each stage a frame passes, from the time the logger received it, over a
rolling window.

A replayed log's frames carry the times of the log (years ago), so every stage is measured
from the receive time (when a source handed the frames over), not from the frame time; the
``receive`` stage (frame time -> received) is counted only for sources that stamp frames with
the clock (a bus, the simulator, a real-time replay).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

# log-spaced latency bins: 1 us .. ~28 h, 20 per decade; memory is fixed whatever the run length
_EDGES = np.logspace(-6, 5, 11 * 20 + 1)


class LatencyHistogram:
    """Fixed-size histogram of latencies in seconds; percentiles within 12 % (one bin).

    Example
    -------
    >>> h = LatencyHistogram()
    >>> h.add(np.full(100, 0.5))
    >>> 0.45 < h.percentile(50) < 0.56
    True
    """

    def __init__(self) -> None:
        self.counts = np.zeros(_EDGES.shape[0] + 1, np.int64)
        self.n = 0
        self.max = 0.0

    def add(self, seconds: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count each latency once, or ``weights[i]`` times (frames that share one)."""
        s = np.asarray(seconds, dtype=np.float64)
        if s.size == 0:
            return
        idx = np.searchsorted(_EDGES, np.maximum(s, 0.0), side="right")
        w = None if weights is None else np.asarray(weights, np.int64)
        self.counts += np.bincount(idx, w, minlength=self.counts.shape[0]).astype(np.int64)
        self.n += s.size if w is None else int(w.sum())
        self.max = max(self.max, float(s.max()))

    def percentile(self, q: float) -> float | None:
        if self.n == 0:
            return None
        k = int(np.searchsorted(np.cumsum(self.counts), q / 100.0 * self.n, side="left"))
        if k == 0:
            return float(_EDGES[0])
        if k >= _EDGES.shape[0]:
            return self.max
        # geometric middle of the bin, but never above the largest seen
        return min(float(np.sqrt(_EDGES[k - 1] * _EDGES[k])), self.max)

    def summary(self) -> dict[str, float | None]:
        return {"p50": self.percentile(50), "p95": self.percentile(95),
                "p99": self.percentile(99), "max": self.max if self.n else None, "n": self.n}


#: segments whose receive times are kept for the upload latency (oldest forgotten beyond:
#: about 1 kB each, at most one entry per journal flush)
MAX_SEGMENTS = 1_000


class RollingLatency:
    """Latency percentiles over the last ``window`` seconds: ``slices`` fixed histograms,
    the oldest emptied as time moves on (memory fixed, the window exact to one slice).

    Example
    -------
    >>> t = [0.0]
    >>> r = RollingLatency(window=60, clock=lambda: t[0])
    >>> r.add(np.full(10, 5.0)); t[0] = 30.0; r.add(np.full(10, 0.01))
    >>> r.summary()["n"], r.summary()["max"]
    (20, 5.0)
    >>> t[0] = 75.0  # the 5 s latencies are more than a window old
    >>> r.summary()["n"], r.summary()["max"]
    (10, 0.01)
    """

    def __init__(self, window: float = 60.0, slices: int = 6,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = float(window)
        self.step = self.window / slices
        self.clock = clock
        self.parts = [LatencyHistogram() for _ in range(slices)]
        self.current = int(clock() // self.step)

    def _advance(self) -> LatencyHistogram:
        now = int(self.clock() // self.step)
        for k in range(self.current + 1, min(now, self.current + len(self.parts)) + 1):
            self.parts[k % len(self.parts)] = LatencyHistogram()
        if now - self.current > len(self.parts):
            self.parts = [LatencyHistogram() for _ in self.parts]
        self.current = max(self.current, now)
        return self.parts[self.current % len(self.parts)]

    def add(self, seconds: np.ndarray, weights: np.ndarray | None = None) -> None:
        self._advance().add(seconds, weights)

    def summary(self) -> dict[str, float | None]:
        self._advance()
        total = LatencyHistogram()
        for part in self.parts:
            total.counts += part.counts
            total.n += part.n
            total.max = max(total.max, part.max)
        return total.summary()


#: the stages of a frame whose latency is reported, and what each measures
STAGES = {
    "receive": "frame time -> taken from the source (sources that stamp with the clock)",
    "durable": "received -> in the journal, fsynced",
    "publish": "received -> published live (MQTT)",
    "uploaded": "received -> uploaded and verified (segments of this run)",
}



def latency_line(latency: dict[str, Any]) -> str | None:
    """One log line of the stages' percentiles (None when the window saw nothing).

    Example
    -------
    >>> latency_line({"window_s": 60, "durable": {"p50": 0.012, "p95": 0.03, "p99": 0.04,
    ...               "max": 0.05, "n": 900}, "uploaded": {"n": 0}})
    'latency over 60 s: durable p50 12 ms p95 30 ms p99 40 ms max 50 ms (900 frames)'
    """
    parts = []
    for name, v in latency.items():
        if isinstance(v, dict) and v.get("n"):
            ms = " ".join(f"{q} {v[q] * 1e3:.0f} ms" for q in ("p50", "p95", "p99", "max"))
            parts.append(f"{name} {ms} ({v['n']} frames)")
    if not parts:
        return None
    return f"latency over {latency['window_s']:g} s: " + "; ".join(parts)



class Latencies:
    """Rolling percentiles per stage, and the receive times of frames still on their way
    (per flush of the journal, per segment) for the stages that come later."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = float(window)
        self.stages = {name: RollingLatency(window) for name in STAGES}
        self._journal: dict[int, list[tuple[float, int]]] = {}  # seq -> [(mean ns, frames)]
        self._segment: dict[str, np.ndarray] = {}  # key -> rows (mean received ns, frames)

    @staticmethod
    def stamp(batch: Any, wall_clock: bool) -> int:
        """Mark ``batch`` received now; returns the time (ns)."""
        now = time.time_ns()
        batch.received_ns = now
        batch.wall_clock = wall_clock
        return now

    def received(self, batch: Any) -> None:
        if getattr(batch, "wall_clock", False) and len(batch):
            self.stages["receive"].add((batch.received_ns - batch.time) / 1e9)

    def published(self, batches: list[Any], now_ns: int) -> None:
        """``batches`` (as :meth:`stamp` marked them) were published at ``now_ns``."""
        got = [(b.received_ns, len(b)) for b in batches if hasattr(b, "received_ns")]
        if got:
            recv, n = np.array(got, np.int64).T
            self.stages["publish"].add((now_ns - recv) / 1e9, n)

    def durable(self, seq: int | None, pieces: list[tuple[int, int]]) -> None:
        """``pieces`` ((received ns, frames) per batch) are now durable in journal ``seq``."""
        if not pieces:
            return
        recv = np.array([p[0] for p in pieces], np.float64)
        n = np.array([p[1] for p in pieces], np.int64)
        now = time.time_ns()
        self.stages["durable"].add((now - recv) / 1e9, n)
        if seq is not None and n.sum():
            self._journal.setdefault(seq, []).append((float(np.average(recv, weights=n)),
                                                      int(n.sum())))

    def segment(self, seq: int, key: str, keep: bool = True) -> None:
        """Journal ``seq`` became segment ``key``; ``keep`` its receive times for
        :meth:`uploaded` (only when segments are uploaded)."""
        got = self._journal.pop(seq, None)
        if got and keep:
            self._segment[key] = np.array(got, np.float64)
            while len(self._segment) > MAX_SEGMENTS:
                self._segment.pop(next(iter(self._segment)))

    def uploaded(self, key: str) -> None:
        """Segment ``key`` is uploaded (segments of an earlier run have no receive times)."""
        got = self._segment.pop(key, None)
        if got is not None:
            self.stages["uploaded"].add((time.time_ns() - got[:, 0]) / 1e9,
                                        got[:, 1].astype(np.int64))

    def summary(self) -> dict[str, Any]:
        return {"window_s": self.window,
                **{name: h.summary() for name, h in self.stages.items()}}
