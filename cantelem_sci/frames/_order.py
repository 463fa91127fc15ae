"""Frames in time order, each once: what the decode job makes of a day's segments.

The rule (documented in ``docs/fleet-store.md``):

* **Duplicates**: frames equal in every field (time, id, flags, channel, length, payload)
  are one frame; the first copy, in segment order, is kept. A segment ingested twice, or two
  overlapping segments (a logger that re-sent a stretch), so decode to the frames once.
  Different frames at the same time are all kept.
* **Clock steps**: a logger whose clock stepped back wrote times that go down in receive
  order by more than :data:`CLOCK_STEP_NS` (smaller steps are sources interleaving within
  a batch period). Frames are sorted by time (stable: equal times keep their receive order),
  so every message's series is monotonic; each backward step is counted (``clock_steps``)
  with the largest size (``clock_step_max_ns``), so a reader knows the times were corrected
  by sorting. The edge logger counts them in receive order before it sorts a segment, and
  writes them into the segment's manifest.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ArgumentError
from ._schema import FIELDS, FrameBatch

__all__ = ["CLOCK_STEP_NS", "clock_steps", "order_frames"]

#: a step back in time larger than this (100 ms) is a clock step, not interleaving
CLOCK_STEP_NS = 100_000_000


def clock_steps(times: np.ndarray) -> tuple[int, int]:
    """(how many, the largest in ns) steps back by more than :data:`CLOCK_STEP_NS` in
    ``times`` (receive order).

    Example
    -------
    >>> clock_steps(np.array([0, 10, 5, 3_000_000_000, 1_000_000_000]))
    (1, 2000000000)
    """
    if times.shape[0] < 2:
        return 0, 0
    d = np.diff(times)
    back = d < -CLOCK_STEP_NS
    return int(back.sum()), int(-d[back].min()) if back.any() else 0


def order_frames(batches: "FrameBatch | Sequence[FrameBatch]", own: Sequence[bool] | None = None
                 ) -> tuple[FrameBatch, dict[str, Any]]:
    """The frames of ``batches`` (segments, in segment order) as one batch sorted by time
    with exact duplicates removed, and what was done: ``{"duplicates": n, "clock_steps": k,
    "clock_step_max_ns": s}`` (steps back in time within a segment, in receive order; a
    segment that starts before the previous one ends is an overlap, not a clock step).

    With ``own`` (one flag per batch), only the frames whose first copy is in an owned batch
    are returned, and only owned batches are counted: the frames one part of a day holds when
    the other batches are the day's other segments it overlaps (decoded in their own parts).
    Every frame of the day is then in exactly one part, whatever the parts.

    Example
    -------
    >>> s = 10**9
    >>> b = FrameBatch.from_arrays([3 * s, s, s, 2 * s], [0x10, 0x11, 0x11, 0x12],
    ...                            np.zeros((4, 8), np.uint8))
    >>> out, info = order_frames([b])
    >>> (out.time // s).tolist(), info["duplicates"], info["clock_steps"]
    ([1, 2, 3], 1, 1)
    >>> c = FrameBatch.from_arrays([2 * s, 4 * s], [0x12, 0x13], np.zeros((2, 8), np.uint8))
    >>> out, info = order_frames([b, c], own=[False, True])   # c's first frame is b's
    >>> (out.time // s).tolist(), info["duplicates"]
    ([4], 1)
    """
    parts = [batches] if isinstance(batches, FrameBatch) else list(batches)
    mine = [True] * len(parts) if own is None else [bool(o) for o in own]
    if len(mine) != len(parts):
        raise ArgumentError(f"order_frames: {len(mine)} ownership flag(s) for "
                            f"{len(parts)} batch(es)")
    info: dict[str, Any] = {"duplicates": 0, "clock_steps": 0, "clock_step_max_ns": 0}
    for b, m in zip(parts, mine):
        if m:
            k, big = clock_steps(b.time)
            info["clock_steps"] += k
            info["clock_step_max_ns"] = max(info["clock_step_max_ns"], big)
    if not parts:
        return FrameBatch.empty(), info
    batch = parts[0] if len(parts) == 1 else FrameBatch.concat(parts)
    src = None if all(mine) else np.repeat(np.arange(len(parts)), [len(b) for b in parts])
    n = len(batch)
    keep = None
    if n >= 2:
        t = batch.time
        d = np.diff(t)
        if (d < 0).any():
            perm = np.argsort(t, kind="stable")
            batch = batch.take(perm)
            src = None if src is None else src[perm]
            t = batch.time
            d = np.diff(t)
        keep = _first_copies(batch, d)
    owned = np.asarray(mine)
    if src is None:  # every batch owned
        if keep is not None:
            info["duplicates"] = int(n - np.count_nonzero(keep))
            batch = batch.take(np.flatnonzero(keep))
        return batch, info
    if keep is None:
        keep = np.ones(n, bool)
    info["duplicates"] = int(np.count_nonzero(~keep & owned[src]))
    return batch.take(np.flatnonzero(keep & owned[src])), info


def _first_copies(batch: FrameBatch, d: np.ndarray) -> np.ndarray | None:
    """Which rows of a time-sorted batch are the first copy of their frame (None: all);
    ``d`` is ``np.diff`` of its times."""
    n = len(batch)
    same = np.flatnonzero(d == 0) + 1  # rows whose time equals the previous row's
    if same.size == 0:
        return None
    # rows in runs of equal times: one byte key each (time, every field, payload); the first
    # occurrence of each key is kept (np.unique's return_index is the first in input order)
    in_run = np.zeros(n, bool)
    in_run[same] = True
    in_run[same - 1] = True
    idx = np.flatnonzero(in_run)
    t = batch.time
    cols = [t[idx].astype(np.int64)] + [getattr(batch, k)[idx].astype(np.int64)
                                        for k in FIELDS]
    key = np.concatenate([np.stack(cols, axis=1).view(np.uint8),
                          np.ascontiguousarray(batch.data[idx])], axis=1)
    key = np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1]))).ravel()
    _, first = np.unique(key, return_index=True)
    if first.size == idx.size:
        return None
    keep = np.ones(n, bool)
    keep[idx] = False
    keep[idx[first]] = True
    return keep
