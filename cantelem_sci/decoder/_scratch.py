"""Scratch memory of the decoder's kernels: per-thread buffers reused from one decode to the
next, and the stand-in for read-only columns."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._memory import empty

#: Scratch buffers of batches up to this many frames are kept per thread and reused: on
#: machines where first touching fresh memory is slow (page faults), the decoder's own
#: temporaries then cost nothing after the first call. Larger batches use fresh memory.
RETAIN_FRAMES = 1 << 22
_scratch_local = threading.local()


def scratch_buffer(name: str, n: int, dtype: Any) -> np.ndarray:
    """Scratch for ``n`` items of ``dtype`` under ``name``: this thread's retained buffer
    (grown when too small), or fresh memory beyond :data:`RETAIN_FRAMES`. Not initialised.

    Example
    -------
    >>> a = scratch_buffer("example", 10, np.int64)
    >>> a.shape, np.shares_memory(a, scratch_buffer("example", 5, np.int64))
    ((10,), True)
    """
    if n > RETAIN_FRAMES:
        return empty(n, dtype)
    bufs = _scratch_local.__dict__.setdefault("bufs", {})
    buf = bufs.get(name)
    if buf is None or buf.shape[0] < n:
        buf = bufs[name] = empty(max(n, 1024), dtype)
    return buf[:n]


def dlc_buffer(name: str, n: int, written: bool) -> np.ndarray:
    """Scratch for ``n`` dlc bytes: to be ``written`` by the caller's kernel, or else all 8
    (every frame full). A retained buffer is filled with 8 only where it is not known to
    hold 8 already, so a job decoding batch after batch of full frames does not refill it
    each time (758 KB for the sample half hour, about 100 us after the kernels have
    flushed the caches)."""
    # (bytes known to be 8, from the start; a buffer grows only for more bytes than that)
    eights = _scratch_local.__dict__.setdefault("eights", {})
    buf = scratch_buffer(name, n, np.uint8)
    if n > RETAIN_FRAMES:  # fresh memory, not retained
        if not written:
            buf.fill(8)
        return buf
    if written:
        eights[name] = 0
    elif eights.get(name, 0) < n:
        buf.fill(8)
        eights[name] = n
    return buf


#: What the kernels get for a column they neither read nor write (its flag is off) when the
#: column itself is read-only zeros (:func:`._memory.zeros`): numba types read-only arrays
#: apart, and would compile every kernel once more for them
NOWHERE = np.empty(0, np.uint8)


def writable(a: np.ndarray) -> np.ndarray:
    """``a``, or :data:`NOWHERE` when it is read-only."""
    return a if a.flags.writeable else NOWHERE


def gid_buffer(n: int, n_grp: int) -> np.ndarray:
    """Scratch for each row's group: int16 when the groups allow (a quarter of the memory
    traffic of int64)."""
    return (scratch_buffer("gid16", n, np.int16) if n_grp < 2**15
            else scratch_buffer("gid64", n, np.int64))
