"""Downsampling kernels: LTTB (Steinarsson's original bucket rule), MinMax, M4, MinMax-LTTB.

Every function returns int64 indices into the input, sorted, so one selection can index
every variable of a dataset. ``x`` may be datetime64[ns], int64 or float64 and must be
non-decreasing; ``n_out >= len(x)`` or ``n_out < 3`` returns every index.

Integer (and datetime) ``x`` is averaged exactly in integers relative to the bucket's first
point; float ``x`` is summed left to right like the original (its JavaScript cannot hold ns
timestamps exactly anyway). ``y`` is always summed left to right.

Bucket rule of :func:`lttb` (the original ``largestTriangleThreeBuckets`` of
flot-downsample): ``every = (n - 2) / (n_out - 2)``; bucket ``i`` holds indices
``floor(i * every) + 1`` up to ``floor((i + 1) * every) + 1`` (exclusive); ties keep the first
point with the largest area; the first and last points are always kept.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

from ..errors import ArgumentError


def _prepare(x, y, n_out, check=True):
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ArgumentError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    xi = as_x(x)
    n = x.shape[0]
    if not isinstance(n_out, (int, np.integer)) or isinstance(n_out, bool):
        raise ArgumentError(f"n_out must be an integer, got {type(n_out).__name__}")
    if check:
        _check_increasing(xi)
    # kernels read x relative to x[0] as float64 (ns resolution for spans up to ~104 days)
    return xi, y, n, int(n_out)


def as_x(x) -> np.ndarray:
    """``x`` as int64 (datetime64 as ns, integers) or float64, without a copy when possible."""
    x = np.asarray(x)
    if x.dtype.kind == "M":
        return x.astype("datetime64[ns]", copy=False).view(np.int64)
    if x.dtype.kind in "iu":
        return x.astype(np.int64, copy=False)
    if x.dtype.kind == "f":
        return x.astype(np.float64, copy=False)
    raise ArgumentError(f"x: expected datetime64, integer or float, got {x.dtype}")


def _check_increasing(xi, parallel=False) -> None:
    i = _first_decrease_parallel(xi) if parallel else _first_decrease(xi)
    if i >= 0:
        raise ArgumentError(f"x must be non-decreasing; x[{i + 1}] < x[{i}]")


@njit(cache=True, nogil=True)
def _first_decrease(x):
    return _first_decrease_in(x, 0, x.shape[0] - 1)


@njit(cache=True, nogil=True)
def _first_decrease_in(x, s, e):
    """First i in [s, e) with ``x[i + 1] < x[i]``, or -1 (a vectorised test per block)."""
    for bs in range(s, e, 4096):
        be = min(bs + 4096, e)
        if _any_decrease(x[bs:be], x[bs + 1:be + 1]):
            for i in range(bs, be):
                if x[i + 1] < x[i]:
                    return i
    return -1


@njit(cache=True, nogil=True, inline="always")
def _bucket_mean(x, y, s, e, xint, x0):
    """Mean x (relative to x[0]) and mean y of points [s, e), and the smallest step
    ``x[j] - x[j - 1]`` for j in [s, e) (negative when x decreases). y is summed left to
    right as the original; integer x exactly in integers relative to x[s] (float x left to
    right)."""
    xs = x[s]
    cnt = e - s
    ay = 0.0
    dm = x[s] - x[s - 1]
    if xint and (x[e - 1] - xs) < _INT_SUM_LIMIT // cnt:
        ai = xs - xs
        for j in range(s, e):
            ay += y[j]
            ai += x[j] - xs
            dm = min(dm, x[j] - x[j - 1])
        return np.float64(xs - x0) + np.float64(ai) / cnt, ay / cnt, dm
    ax = 0.0
    for j in range(s, e):
        ay += y[j]
        ax += np.float64(x[j] - x0)
        dm = min(dm, x[j] - x[j - 1])
    return ax / cnt, ay / cnt, dm


_INT_SUM_LIMIT = 2**62


@njit(cache=True, nogil=True, inline="always")
def _bucket(i, every):
    """Index range ``[start, stop)`` of LTTB bucket ``i`` (the original's rule; the last
    "next bucket" is clipped to the series by the caller)."""
    return int(np.floor(i * every)) + 1, int(np.floor((i + 1) * every)) + 1


@njit(cache=True, nogil=True)
def _lttb_select(x, y, n_out, every, xint):
    """Serial LTTB, the original loop: the next bucket's means, then the current bucket's
    largest triangle. Returns the indices and whether x decreases somewhere after index
    ``floor(every)``."""
    n = x.shape[0]
    out = np.empty(n_out, np.int64)
    x0 = x[0]
    a = 0
    out[0] = 0
    bad = False
    for i in range(n_out - 2):
        s, e = _bucket(i + 1, every)
        if e > n:
            e = n
        ax, ay, dm = _bucket_mean(x, y, s, e, xint, x[0])
        if dm < 0:
            bad = True
        r0, r1 = _bucket(i, every)
        pax = np.float64(x[a] - x0)
        pay = y[a]
        dax = pax - ax
        day = ay - pay
        best = -1.0
        nxt = r0
        for j in range(r0, r1):
            # the original's area without its exact factor 0.5 (same comparisons)
            area = abs(dax * (y[j] - pay) - (pax - np.float64(x[j] - x0)) * day)
            if area > best:
                best = area
                nxt = j
        out[i + 1] = nxt
        a = nxt
    out[n_out - 1] = n - 1
    return out, bad


def _lttb_block(every: float) -> int:
    """Points per block of the parallel LTTB's block summaries (see :func:`_bucket_scan`):
    about ``sqrt(2 * bucket size)`` as a power of two, so bounding the blocks and scanning
    the few that may hold the pick cost about the same (measured: 32 best at 500 points per
    bucket, 128 at 5,000)."""
    b = 16
    while b < 1024 and b * b < 2 * every:
        b *= 2
    return b


@njit(cache=True, nogil=True, parallel=True)
def _bucket_scan(x, y, n_out, every, xint, block):
    """One parallel pass over every bucket ``b`` of LTTB (``0 .. n_out - 2``; the last one
    is the clipped "next bucket" of the last selection): its means (as :func:`_bucket_mean`,
    the same sums in the same order), whether x decreases in it, and the smallest and
    largest y (NaN ignored) of each block of ``block`` points counted from its start."""
    n = x.shape[0]
    nb = n_out - 1
    nblk = (int(np.ceil(every)) + 1 + block - 1) // block + 1
    mx = np.empty(nb)
    my = np.empty(nb)
    bad = np.zeros(nb, np.bool_)
    lo = np.full((nb, nblk), np.inf)
    hi = np.full((nb, nblk), -np.inf)
    x0 = x[0]
    for b in prange(nb):
        s, e = _bucket(b, every)
        if e > n:
            e = n
        if e <= s:
            mx[b] = np.nan
            my[b] = np.nan
            continue
        xs = x[s]
        cnt = e - s
        ay = 0.0
        ax = 0.0
        ai = xs - xs
        dm = x[s] - x[s - 1]
        exact = xint and (x[e - 1] - xs) < _INT_SUM_LIMIT // cnt
        k = 0
        for bs in range(s, e, block):
            be = min(bs + block, e)
            vlo = np.inf
            vhi = -np.inf
            for j in range(bs, be):
                v = y[j]
                ay += v
                if exact:
                    ai += x[j] - xs
                else:
                    ax += np.float64(x[j] - x0)
                dm = min(dm, x[j] - x[j - 1])
                if v < vlo:
                    vlo = v
                if v > vhi:
                    vhi = v
            lo[b, k] = vlo
            hi[b, k] = vhi
            k += 1
        if exact:
            mx[b] = np.float64(xs - x0) + np.float64(ai) / cnt
        else:
            mx[b] = ax / cnt
        my[b] = ay / cnt
        bad[b] = dm < 0
    return mx, my, bad, lo, hi


@njit(cache=True, nogil=True)
def _lttb_select_blocks(x, y, n_out, every, mx, my, lo, hi, block):
    """Sequential pass of LTTB that skips the blocks which cannot hold the bucket's pick.

    The doubled triangle area of point j is ``|dax * y_j + day * x_j + c|``, linear in
    ``(x_j, y_j)`` inside the absolute value, so over a block it is at most its value at the
    corners of the block's box ``[x_first, x_last] x [lo, hi]``. A block whose bound (with a
    margin far above rounding) is below the best area found so far cannot hold the first
    point of largest area, and is skipped; the others are scanned with the original's
    arithmetic. The block with the largest bound is scanned first, then the rest in order;
    ties keep the smallest index, so the pick is the original's."""
    n = x.shape[0]
    out = np.empty(n_out, np.int64)
    x0 = x[0]
    a = 0
    out[0] = 0
    nblk = lo.shape[1]
    bound = np.empty(nblk)
    for i in range(n_out - 2):
        ax = mx[i + 1]
        ay = my[i + 1]
        r0, r1 = _bucket(i, every)
        pax = np.float64(x[a] - x0)
        pay = y[a]
        dax = pax - ax
        day = ay - pay
        k = 0
        top = 0
        for bs in range(r0, r1, block):
            be = min(bs + block, r1)
            ylo = lo[i, k]
            yhi = hi[i, k]
            if ylo > yhi:  # only NaN: no point of it can win
                bound[k] = -np.inf
            else:
                xa = pax - np.float64(x[bs] - x0)
                xb = pax - np.float64(x[be - 1] - x0)
                ua = dax * (ylo - pay)
                ub = dax * (yhi - pay)
                va = xa * day
                vb = xb * day
                m = max(abs(ua - va), abs(ua - vb), abs(ub - va), abs(ub - vb))
                scale = max(abs(ua), abs(ub)) + max(abs(va), abs(vb))
                bound[k] = m + 1e-9 * scale + 1e-300
                if not bound[k] <= bound[top]:  # NaN bounds are scanned first
                    top = k
            k += 1
        best = -1.0
        nxt = r0
        for t in range(-1, k):
            if t == top:
                continue
            kk = top if t < 0 else t
            if bound[kk] < best:
                continue
            bs = r0 + kk * block
            be = min(bs + block, r1)
            for j in range(bs, be):
                area = abs(dax * (y[j] - pay) - (pax - np.float64(x[j] - x0)) * day)
                if area > best or (area == best and j < nxt):
                    best = area
                    nxt = j
        out[i + 1] = nxt
        a = nxt
    out[n_out - 1] = n - 1
    return out


@njit(cache=True, nogil=True)
def _lttb_stream(xb, yb, off, n, n_out, every, x0, xint, i, pax, pay, out):
    """Resumable LTTB over a buffer ``xb, yb`` holding the points ``off .. off + len(xb)``
    of a longer series of ``n`` points (for out-of-core inputs). Selects buckets from ``i``
    while the next bucket lies wholly in the buffer; ``pax, pay`` are the previous pick's
    x (relative to ``x0``) and y. Sums and comparisons are those of the in-memory kernel, so
    the indices are the same. Returns the next bucket, ``pax, pay`` and whether x decreases
    in a summed bucket."""
    end = off + xb.shape[0]
    bad = False
    while i < n_out - 2:
        s, e = _bucket(i + 1, every)
        if e > n:
            e = n
        if e > end:
            break
        ax, ay, dm = _bucket_mean(xb, yb, s - off, e - off, xint, x0)
        if dm < 0:
            bad = True
        r0, r1 = _bucket(i, every)
        dax = pax - ax
        day = ay - pay
        best = -1.0
        nxt = r0
        for j in range(r0, r1):
            area = abs(dax * (yb[j - off] - pay) - (pax - np.float64(xb[j - off] - x0)) * day)
            if area > best:
                best = area
                nxt = j
        out[i + 1] = nxt
        pax = np.float64(xb[nxt - off] - x0)
        pay = yb[nxt - off]
        i += 1
    return i, pax, pay, bad


def _use_parallel(parallel, n) -> bool:
    # numba's workqueue layer must not be entered from several threads at once: parallel
    # kernels run by default only from the main thread (dask workers run tasks elsewhere)
    if parallel is None:
        return n >= PARALLEL_MIN and threading.current_thread() is threading.main_thread()
    return bool(parallel)


#: Inputs shorter than this run serially when ``parallel=None``.
PARALLEL_MIN = 200_000


def _lttb_kernel(x, y, n_out, parallel=False, block=None):
    n = x.shape[0]
    every = (n - 2) / (n_out - 2)
    xint = x.dtype.kind == "i"
    if parallel:
        block = block or _lttb_block(every)
        mx, my, bads, lo, hi = _bucket_scan(x, y, n_out, every, xint, block)
        out = _lttb_select_blocks(x, y, n_out, every, mx, my, lo, hi, block)
        bad = bads.any()  # the scan covers every bucket, the first one included
    else:
        out, bad = _lttb_select(x, y, n_out, every, xint)
        # its means cover the steps from index floor(every) on; the first bucket is checked here
        bad = bad or _first_decrease(x[: int(every) + 2]) >= 0
    if bad:
        _check_increasing(x)
    return out



def lttb(x, y, n_out: int, *, parallel: bool | None = None) -> np.ndarray:
    """Largest-Triangle-Three-Buckets, exactly as the original algorithm.

    Example
    -------
    >>> import numpy as np
    >>> lttb(np.arange(10), np.array([0, 1, 0, 5, 0, 1, 0, 9, 0, 0.]), 4).tolist()
    [0, 3, 7, 9]
    """
    xf, yf, n, n_out = _prepare(x, y, n_out, check=False)
    if n_out >= n or n_out < 3:
        _check_increasing(xf)
        return np.arange(n, dtype=np.int64)
    return _lttb_kernel(xf, yf, n_out, _use_parallel(parallel, n))


@njit(cache=True, nogil=True)
def _any_decrease(a, b):
    """Whether ``b[j] < a[j]`` anywhere (contiguous slices: a vectorised loop)."""
    d = False
    for j in range(a.shape[0]):
        d |= b[j] < a[j]
    return d


@njit(cache=True, nogil=True, parallel=True)
def _first_decrease_parallel(x):
    n = x.shape[0]
    parts = 64
    found = np.full(parts, -1, np.int64)
    for p in prange(parts):
        s = (p * (n - 1)) // parts
        e = ((p + 1) * (n - 1)) // parts
        found[p] = _first_decrease_in(x, s, e)
    for p in range(parts):
        if found[p] >= 0:
            return found[p]
    return -1
