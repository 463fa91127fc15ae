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

import numpy as np
import threading

from numba import njit, prange


def _prepare(x, y, n_out, check=True):
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    xi = as_x(x)
    n = x.shape[0]
    if not isinstance(n_out, (int, np.integer)) or isinstance(n_out, bool):
        raise ValueError(f"n_out must be an integer, got {type(n_out).__name__}")
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
    raise ValueError(f"x: expected datetime64, integer or float, got {x.dtype}")


def _check_increasing(xi, parallel=False) -> None:
    i = _first_decrease_parallel(xi) if parallel else _first_decrease(xi)
    if i >= 0:
        raise ValueError(f"x must be non-decreasing; x[{i + 1}] < x[{i}]")


@njit(cache=True, nogil=True)
def _first_decrease(x):
    for i in range(x.shape[0] - 1):
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


@njit(cache=True, nogil=True)
def _lttb_select(x, y, n_out, every, mx, my, par, xint):
    """Sequential pass of LTTB. With ``par`` the next-bucket means come from ``mx, my``
    (computed by :func:`_bucket_means`), otherwise they are computed here.
    Returns the indices and whether x decreases somewhere after index ``floor(every)``."""
    n = x.shape[0]
    out = np.empty(n_out, np.int64)
    x0 = x[0]
    a = 0
    out[0] = 0
    bad = False
    for i in range(n_out - 2):
        if par:
            ax = mx[i]
            ay = my[i]
        else:
            s = int(np.floor((i + 1) * every)) + 1
            e = int(np.floor((i + 2) * every)) + 1
            if e > n:
                e = n
            ax, ay, dm = _bucket_mean(x, y, s, e, xint, x[0])
            if dm < 0:
                bad = True
        r0 = int(np.floor(i * every)) + 1
        r1 = int(np.floor((i + 1) * every)) + 1
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


@njit(cache=True, nogil=True, parallel=True)
def _bucket_means(x, y, n_out, every, xint):
    """LTTB's next-bucket means (see :func:`_bucket_mean`), buckets in parallel."""
    n = x.shape[0]
    nb = n_out - 2
    mx = np.empty(nb)
    my = np.empty(nb)
    bad = np.zeros(nb, np.bool_)
    for i in prange(nb):
        s = int(np.floor((i + 1) * every)) + 1
        e = int(np.floor((i + 2) * every)) + 1
        if e > n:
            e = n
        ax, ay, dm = _bucket_mean(x, y, s, e, xint, x[0])
        mx[i] = ax
        my[i] = ay
        bad[i] = dm < 0
    return mx, my, bad


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
        s = int(np.floor((i + 1) * every)) + 1
        e = int(np.floor((i + 2) * every)) + 1
        if e > n:
            e = n
        if e > end:
            break
        ax, ay, dm = _bucket_mean(xb, yb, s - off, e - off, xint, x0)
        if dm < 0:
            bad = True
        r0 = int(np.floor(i * every)) + 1
        r1 = int(np.floor((i + 1) * every)) + 1
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


def _lttb_kernel(x, y, n_out, parallel=False):
    n = x.shape[0]
    every = (n - 2) / (n_out - 2)
    xint = x.dtype.kind == "i"
    if parallel:
        mx, my, bads = _bucket_means(x, y, n_out, every, xint)
        out, _ = _lttb_select(x, y, n_out, every, mx, my, True, xint)
        bad = bads.any()
    else:
        out, bad = _lttb_select(x, y, n_out, every, _EMPTY, _EMPTY, False, xint)
    # the means cover the steps from index floor(every) on; the first bucket is checked here
    if bad or _first_decrease(x[: int(every) + 2]) >= 0:
        _check_increasing(x)
    return out


_EMPTY = np.empty(0)


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


def _minmax_body(y, start, stop, n_bins):
    """Index of the min and of the max of y in each of n_bins equal index bins of
    [start, stop), in index order; -1 where a bin holds one point or none."""
    out = np.full(2 * n_bins, -1, np.int64)
    span = stop - start
    for b in prange(n_bins):
        s = start + (b * span) // n_bins
        e = start + ((b + 1) * span) // n_bins
        if e <= s:
            continue
        imin = s
        imax = s
        vmin = y[s]
        vmax = y[s]
        for j in range(s + 1, e):
            v = y[j]
            if v < vmin:
                vmin = v
                imin = j
            elif v > vmax:
                vmax = v
                imax = j
        if imin < imax:
            out[2 * b] = imin
            out[2 * b + 1] = imax
        elif imax < imin:
            out[2 * b] = imax
            out[2 * b + 1] = imin
        else:
            out[2 * b] = imin
    return out


# one body, two compilations; the cached wrappers keep the two apart in numba's cache
_minmax_body_s = njit(nogil=True)(_minmax_body)
_minmax_body_p = njit(nogil=True, parallel=True)(_minmax_body)


@njit(cache=True, nogil=True)
def _minmax_serial(y, start, stop, n_bins):
    return _minmax_body_s(y, start, stop, n_bins)


@njit(cache=True, nogil=True)
def _minmax_parallel(y, start, stop, n_bins):
    return _minmax_body_p(y, start, stop, n_bins)


def _minmax_kernel(y, start, stop, n_bins, parallel=False):
    """Sorted indices of each bin's min and max (see :func:`_minmax_body`)."""
    fn = _minmax_parallel if parallel else _minmax_serial
    out = fn(y, start, stop, n_bins)
    return out[out >= 0]


@njit(cache=True, nogil=True, parallel=True)
def _first_decrease_parallel(x):
    n = x.shape[0]
    parts = 64
    found = np.full(parts, -1, np.int64)
    for p in prange(parts):
        s = (p * (n - 1)) // parts
        e = ((p + 1) * (n - 1)) // parts
        for i in range(s, e):
            if x[i + 1] < x[i]:
                found[p] = i
                break
    for p in range(parts):
        if found[p] >= 0:
            return found[p]
    return -1


@njit(cache=True, nogil=True)
def _m4_kernel(y, n_bins):
    n = y.shape[0]
    out = np.empty(4 * n_bins, np.int64)
    k = 0
    for b in range(n_bins):
        s = (b * n) // n_bins
        e = ((b + 1) * n) // n_bins
        if e <= s:
            continue
        imin = s
        imax = s
        for j in range(s + 1, e):
            if y[j] < y[imin]:
                imin = j
            elif y[j] > y[imax]:
                imax = j
        c0 = s
        c3 = e - 1
        lo = imin if imin < imax else imax
        hi = imax if imin < imax else imin
        for c in (c0, lo, hi, c3):
            if k == 0 or out[k - 1] != c:
                out[k] = c
                k += 1
    return out[:k]


def minmax(x, y, n_out: int, *, parallel: bool | None = None) -> np.ndarray:
    """Min and max of ``(n_out - 2) // 2`` equal index buckets (first and last point kept).

    Example
    -------
    >>> import numpy as np
    >>> minmax(np.arange(8), np.array([0, 5, 1, 2, 9, 3, 4, 0.]), 6).tolist()
    [0, 1, 2, 4, 5, 7]
    """
    xf, yf, n, n_out = _prepare(x, y, n_out, check=False)
    par = _use_parallel(parallel, n)
    _check_increasing(xf, par)
    if n_out >= n or n_out < 3:
        return np.arange(n, dtype=np.int64)
    mid = _minmax_kernel(yf, 1, n - 1, max((n_out - 2) // 2, 1), par)
    return np.concatenate([[0], mid, [n - 1]]).astype(np.int64)


def m4(x, y, n_out: int) -> np.ndarray:
    """M4: first, min, max and last of ``n_out // 4`` equal index buckets.

    Example
    -------
    >>> import numpy as np
    >>> m4(np.arange(8), np.array([0, 5, 1, 2, 9, 3, 4, 0.]), 4).tolist()
    [0, 4, 7]
    """
    _, yf, n, n_out = _prepare(x, y, n_out)
    if n_out >= n or n_out < 4:
        return np.arange(n, dtype=np.int64)
    return _m4_kernel(yf, n_out // 4)


def minmax_lttb(x, y, n_out: int, ratio: int = 4, *, parallel: bool | None = None) -> np.ndarray:
    """MinMax preselection (``n_out * ratio`` points) followed by LTTB on the selection.

    Example
    -------
    >>> import numpy as np
    >>> y = np.sin(np.arange(100_000) / 500.0)
    >>> minmax_lttb(np.arange(100_000), y, 100).shape
    (100,)
    """
    xf, yf, n, n_out = _prepare(x, y, n_out, check=False)
    if ratio < 1:
        raise ValueError(f"ratio must be >= 1, got {ratio}")
    par = _use_parallel(parallel, n)
    if n_out >= n or n_out < 3 or n_out * ratio >= n:
        return lttb(xf, yf, n_out, parallel=par)
    _check_increasing(xf, par)
    mid = _minmax_kernel(yf, 1, n - 1, max(n_out * ratio // 2, 1), par)
    idx = np.concatenate([np.zeros(1, np.int64), mid, np.array([n - 1], np.int64)])
    return lttb_on_subset(xf[idx], yf[idx], idx, n_out)


def lttb_on_subset(sx, sy, idx, n_out: int) -> np.ndarray:
    """LTTB over preselected points: ``sx, sy`` are ``x[idx], y[idx]`` (``idx`` sorted, its
    first element the series' first index); returns indices into the full series."""
    if idx.shape[0] <= n_out:
        return idx
    sx = as_x(sx)
    sx = (sx - sx[0]).astype(np.float64) if sx.dtype.kind == "i" else sx - sx[0]
    return idx[_lttb_kernel(sx, np.asarray(sy, dtype=np.float64), n_out)]


@njit(cache=True, nogil=True)
def _block_minmax(yb, off, edges, b0, b1):
    """Partial bins ``b0 .. b1`` of a block holding points ``off ..`` of a series: first
    index and value of the min and of the max (index -1 when none), and for a bin starting in
    the block whether its first value is NaN (-1: starts elsewhere). Combined over blocks in
    order (strict comparisons, so earlier blocks win ties) they give :func:`_minmax_body`."""
    nb = b1 - b0
    imin = np.full(nb, -1, np.int64)
    imax = np.full(nb, -1, np.int64)
    vmin = np.full(nb, np.inf)
    vmax = np.full(nb, -np.inf)
    nan0 = np.full(nb, -1, np.int64)
    end = off + yb.shape[0]
    for k in range(nb):
        b = b0 + k
        s = max(edges[b], off)
        e = min(edges[b + 1], end)
        if edges[b] >= off and edges[b] < end:
            nan0[k] = 1 if np.isnan(yb[edges[b] - off]) else 0
        for j in range(s, e):
            v = yb[j - off]
            if v < vmin[k]:
                vmin[k] = v
                imin[k] = j
            if v > vmax[k]:
                vmax[k] = v
                imax[k] = j
    return imin, vmin, imax, vmax, nan0
