"""Downsampling kernels: LTTB (Steinarsson's original bucket rule), MinMax, M4, MinMax-LTTB.

Every function returns int64 indices into the input, sorted, so one selection can index
every variable of a dataset. ``x`` may be datetime64[ns], int64 or float64 and must be
non-decreasing; ``n_out >= len(x)`` or ``n_out < 3`` returns every index.

Bucket rule of :func:`lttb` (the original ``largestTriangleThreeBuckets`` of
flot-downsample): ``every = (n - 2) / (n_out - 2)``; bucket ``i`` holds indices
``floor(i * every) + 1`` up to ``floor((i + 1) * every) + 1`` (exclusive); ties keep the first
point with the largest area; the first and last points are always kept.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _prepare(x, y, n_out):
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if x.dtype.kind == "M":
        xi = x.astype("datetime64[ns]").view(np.int64)
    elif x.dtype.kind in "iu":
        xi = x.astype(np.int64)
    elif x.dtype.kind == "f":
        xi = x.astype(np.float64)
    else:
        raise ValueError(f"x: expected datetime64, integer or float, got {x.dtype}")
    n = x.shape[0]
    i = _first_decrease(xi)
    if i >= 0:
        raise ValueError(f"x must be non-decreasing; x[{i + 1}] < x[{i}]")
    if not isinstance(n_out, (int, np.integer)):
        raise ValueError(f"n_out must be an integer, got {type(n_out).__name__}")
    # kernels read x relative to x[0] as float64 (ns resolution for spans up to ~104 days)
    return xi, y, n, int(n_out)


@njit(cache=True, nogil=True)
def _first_decrease(x):
    for i in range(x.shape[0] - 1):
        if x[i + 1] < x[i]:
            return i
    return -1


@njit(cache=True, nogil=True)
def _lttb_kernel(x, y, n_out):
    n = x.shape[0]
    out = np.empty(n_out, np.int64)
    every = (n - 2) / (n_out - 2)
    x0 = x[0]
    a = 0
    out[0] = 0
    for i in range(n_out - 2):
        s = int(np.floor((i + 1) * every)) + 1
        e = int(np.floor((i + 2) * every)) + 1
        if e > n:
            e = n
        ax = 0.0
        ay = 0.0
        for j in range(s, e):
            ax += np.float64(x[j] - x0)
            ay += y[j]
        cnt = e - s
        ax /= cnt
        ay /= cnt
        r0 = int(np.floor(i * every)) + 1
        r1 = int(np.floor((i + 1) * every)) + 1
        pax = np.float64(x[a] - x0)
        pay = y[a]
        best = -1.0
        nxt = r0
        for j in range(r0, r1):
            area = abs((pax - ax) * (y[j] - pay) - (pax - np.float64(x[j] - x0)) * (ay - pay)) * 0.5
            if area > best:
                best = area
                nxt = j
        out[i + 1] = nxt
        a = nxt
    out[n_out - 1] = n - 1
    return out


def lttb(x, y, n_out: int) -> np.ndarray:
    """Largest-Triangle-Three-Buckets, exactly as the original algorithm.

    Example
    -------
    >>> import numpy as np
    >>> lttb(np.arange(10), np.array([0, 1, 0, 5, 0, 1, 0, 9, 0, 0.]), 4).tolist()
    [0, 3, 7, 9]
    """
    xf, yf, n, n_out = _prepare(x, y, n_out)
    if n_out >= n or n_out < 3:
        return np.arange(n, dtype=np.int64)
    return _lttb_kernel(xf, yf, n_out)


@njit(cache=True, nogil=True)
def _minmax_kernel(y, start, stop, n_bins):
    """Index of the min and of the max of y in each of n_bins equal index bins of [start, stop)."""
    out = np.empty(2 * n_bins, np.int64)
    k = 0
    span = stop - start
    for b in range(n_bins):
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
            out[k] = imin
            out[k + 1] = imax
            k += 2
        elif imax < imin:
            out[k] = imax
            out[k + 1] = imin
            k += 2
        else:
            out[k] = imin
            k += 1
    return out[:k]


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


@njit(cache=True, nogil=True)
def _lttb_on_subset(x, y, idx, n_out):
    sx = np.empty(idx.shape[0])
    sy = np.empty(idx.shape[0])
    for i in range(idx.shape[0]):
        sx[i] = np.float64(x[idx[i]] - x[0])
        sy[i] = y[idx[i]]
    sel = _lttb_kernel(sx, sy, n_out)
    out = np.empty(n_out, np.int64)
    for i in range(n_out):
        out[i] = idx[sel[i]]
    return out


def minmax(x, y, n_out: int) -> np.ndarray:
    """Min and max of ``n_out // 2`` equal index buckets (first and last point kept)."""
    _, yf, n, n_out = _prepare(x, y, n_out)
    if n_out >= n or n_out < 3:
        return np.arange(n, dtype=np.int64)
    mid = _minmax_kernel(yf, 1, n - 1, max((n_out - 2) // 2, 1))
    return np.concatenate([[0], mid, [n - 1]]).astype(np.int64)


def m4(x, y, n_out: int) -> np.ndarray:
    """M4: first, min, max and last of ``n_out // 4`` equal index buckets."""
    _, yf, n, n_out = _prepare(x, y, n_out)
    if n_out >= n or n_out < 4:
        return np.arange(n, dtype=np.int64)
    return _m4_kernel(yf, n_out // 4)


def minmax_lttb(x, y, n_out: int, ratio: int = 4) -> np.ndarray:
    """MinMax preselection (``n_out * ratio`` points) followed by LTTB on the selection.

    Example
    -------
    >>> import numpy as np
    >>> y = np.sin(np.arange(100_000) / 500.0)
    >>> minmax_lttb(np.arange(100_000), y, 100).shape
    (100,)
    """
    xf, yf, n, n_out = _prepare(x, y, n_out)
    if n_out >= n or n_out < 3:
        return np.arange(n, dtype=np.int64)
    if ratio < 1:
        raise ValueError(f"ratio must be >= 1, got {ratio}")
    n_pre = n_out * ratio
    if n_pre >= n:
        return _lttb_kernel(xf, yf, n_out)
    mid = _minmax_kernel(yf, 1, n - 1, max(n_pre // 2, 1))
    idx = np.concatenate([np.zeros(1, np.int64), mid, np.array([n - 1], np.int64)])
    if idx.shape[0] <= n_out:
        return idx
    return _lttb_on_subset(xf, yf, idx, n_out)
