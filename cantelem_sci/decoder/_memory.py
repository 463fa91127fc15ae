"""Output memory of the decoder: large arrays in huge pages, recycled once they are dead.

A decode writes tens of megabytes of fresh columns. Fresh memory costs the kernel a page
fault and a zeroing per page: with 4 KiB pages (what glibc hands out when it reuses its own
heap) that was half of a decode's time on the development machine, and scattered writes
into 4 KiB pages also miss the TLB more. So arrays of at least :data:`MIN_BYTES` are carved
from anonymous mappings advised for transparent huge pages (``MADV_HUGEPAGE``), aligned to
2 MiB. When the last array of a mapping is garbage collected, the mapping goes back to a
pool and the next decode reuses it without any fault. The pool keeps at most
``decode_pool_bytes`` idle (configuration key, default 256 MiB; ``CANTELEM_DECODE_POOL_BYTES``
in the environment; read once, at the first large array; 0 returns every mapping to the
system at once). Like every ``numpy.empty``, the arrays are not initialised. Where huge
pages or ``madvise`` are not available, the mappings are plain; where anonymous mappings are
not, arrays come from ``numpy.empty``.
"""

from __future__ import annotations

import mmap
import threading
import weakref
from typing import Any

import numpy as np

from .. import _config

#: Arrays smaller than this come from ``numpy.empty``.
MIN_BYTES = 1 << 20
HUGE_PAGE = 2 << 20

_lock = threading.Lock()
#: idle mappings, each with the offset of its first huge-page boundary
_idle: list[tuple[mmap.mmap, int]] = []
_stats = {"mapped": 0, "reused": 0}
_limit: int | None = None
_MMAP_ANON = hasattr(mmap, "MAP_ANONYMOUS") and hasattr(mmap, "MAP_PRIVATE")


def _round(n: int) -> int:
    return -(-n // HUGE_PAGE) * HUGE_PAGE


def _take(nbytes: int) -> tuple[mmap.mmap, int]:
    """An idle mapping of at least ``nbytes`` (and not more than twice that), or a new one,
    with the offset of its first huge-page boundary."""
    need = _round(nbytes) + HUGE_PAGE  # room to align the start to a huge page
    with _lock:
        best = -1
        size = 0
        for i, (mm, _) in enumerate(_idle):
            n = len(mm)
            if need <= n <= 2 * need and (best < 0 or n < size):
                best, size = i, n
        if best >= 0:
            _stats["reused"] += 1
            return _idle.pop(best)
        _stats["mapped"] += 1
    mm = mmap.mmap(-1, need, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            mm.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # pragma: no cover - kernels without transparent huge pages
            pass
    # the address once per mapping: ``ndarray.ctypes`` is slow, and a decode takes several
    # arrays right after its kernels have flushed the interpreter's data from the caches
    return mm, (-np.frombuffer(mm, np.uint8, 1).ctypes.data) % HUGE_PAGE


def _pool_limit() -> int:
    """``decode_pool_bytes``, read from the configuration once per process."""
    global _limit
    if _limit is None:
        _limit = int(_config.get("decode_pool_bytes"))
    return _limit


def _give_back(mm: mmap.mmap, off: int) -> None:
    """Keep ``mm`` for reuse; the oldest idle mappings go when the pool is over its limit."""
    limit = _pool_limit()
    with _lock:
        if len(mm) > limit:
            return
        _idle.append((mm, off))
        while sum(len(m) for m, _ in _idle) > limit:
            _idle.pop(0)  # unmapped once no one refers to it


def empty(n: int, dtype: Any) -> np.ndarray:
    """An uninitialised 1-D array, in huge pages and pooled when large (see the module).

    Example
    -------
    >>> a = empty(1 << 18, np.float64)
    >>> a.shape, a.dtype, a.ctypes.data % 64
    ((262144,), dtype('float64'), 0)
    """
    dt = np.dtype(dtype)
    nbytes = int(n) * dt.itemsize
    if nbytes < MIN_BYTES or not _MMAP_ANON:
        return np.empty(n, dt)
    mm, off = _take(nbytes)
    a = np.frombuffer(mm, dt, int(n), off)
    # views of ``a`` keep it alive: when the last one dies, the mapping goes back
    weakref.finalize(a, _give_back, mm, off)
    return a


_zero_map: mmap.mmap | None = None


def zeros(n: int, dtype: Any) -> np.ndarray:
    """A read-only 1-D array of ``n`` zeros that costs no memory and no time: a view of one
    read-only anonymous mapping (grown when a larger one is asked for), whose pages the OS
    maps to its shared zero page on first read.

    ``numpy.zeros`` of the same size reuses glibc's heap when it can and then writes every
    byte: 758 KB took about 100 us after a decode's kernels had flushed the caches, for
    columns that are zero because a batch has one channel, no J1939 message or no unknown
    frame.

    Example
    -------
    >>> z = zeros(5, np.uint8)
    >>> z.tolist(), z.flags.writeable
    ([0, 0, 0, 0, 0], False)
    """
    global _zero_map
    dt = np.dtype(dtype)
    nbytes = int(n) * dt.itemsize
    if not _MMAP_ANON:  # pragma: no cover - platforms without anonymous mappings
        a = np.zeros(n, dt)
    else:
        with _lock:
            mm = _zero_map
            if mm is None or len(mm) < nbytes:
                # mapped read-only: no view of it can be made writeable again
                mm = _zero_map = mmap.mmap(-1, max(_round(nbytes), HUGE_PAGE),
                                           flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                                           prot=mmap.PROT_READ)
        a = np.frombuffer(mm, dt, int(n))
    a.flags.writeable = False
    return a


def column(n: int, dtype: Any, written: bool) -> np.ndarray:
    """A column of ``n`` items that a kernel will write (``written``: uninitialised, from
    :func:`empty`), or else one that stays zero (read-only, from :func:`zeros`).

    Example
    -------
    >>> column(3, np.uint8, False).tolist(), column(3, np.uint8, True).flags.writeable
    ([0, 0, 0], True)
    """
    return empty(n, dtype) if written else zeros(n, dtype)


def pool_stats() -> dict[str, int]:
    """Mappings made and reused so far, and the bytes idle in the pool (for tests)."""
    with _lock:
        return {**_stats, "idle_bytes": sum(len(m) for m, _ in _idle)}
