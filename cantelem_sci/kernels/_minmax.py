"""Downsampling kernels that keep extremes: MinMax (per bin the smallest and the largest
value), M4 (first, last, min and max per bin) and MinMax-LTTB (LTTB over a MinMax
preselection), plus the block extremes the out-of-core versions combine.

Like :mod:`._lttb`, every function returns sorted int64 indices into its input. Values
are compared by their IEEE bits mapped to ordered integers (:func:`_order_key`), so -0.0
sorts below +0.0 and the first of equal extremes is kept.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import ArgumentError
from ._lttb import (
    _check_increasing,
    _any_decrease,
    _lttb_kernel,
    _prepare,
    _use_parallel,
    as_x,
    lttb,
)


@njit(cache=True, nogil=True, inline="always")
def _order_key(bits):
    """The float64 whose bits are ``bits`` as an int64 of the same order (-0.0 < +0.0;
    NaN with the sign bit below -inf, without it above +inf). Integer min/max vectorise."""
    return bits ^ ((bits >> 63) & 0x7FFFFFFFFFFFFFFF)


_KEY_PINF = 0x7FF0000000000000  # key of +inf (its own bits)
_KEY_NINF = -0x7FF0000000000001  # key of -inf
_KEY_ZERO = -1  # key of -0.0; +0.0 has key 0


@njit(cache=True, nogil=True)
def _key_minmax(bits):
    """Smallest and largest order key of a contiguous block (a loop LLVM vectorises)."""
    lo = _order_key(bits[0])
    hi = lo
    for j in range(bits.shape[0]):
        k = _order_key(bits[j])
        lo = min(lo, k)
        hi = max(hi, k)
    return lo, hi


@njit(cache=True, nogil=True)
def _minmax_scalar(y, s, e):
    """First index of the min and of the max of y[s:e] by float comparisons; NaN is
    ignored, and a bin of NaN only gives its first index for both."""
    j0 = s
    while j0 < e - 1 and np.isnan(y[j0]):
        j0 += 1
    imin = j0
    imax = j0
    vmin = y[j0]
    vmax = y[j0]
    if np.isnan(vmin):
        return s, s
    for j in range(j0 + 1, e):
        v = y[j]
        if v < vmin:
            vmin = v
            imin = j
        elif v > vmax:
            vmax = v
            imax = j
    return imin, imax


@njit(cache=True, nogil=True)
def _first_key(bits, y, s, e, key):
    """First j in [s, e) whose value equals the value of order key ``key`` as floats."""
    if key == _KEY_ZERO or key == 0:  # -0.0 == +0.0: the first zero of either sign
        for j in range(s, e):
            if y[j] == 0.0:
                return j
    for j in range(s, e):
        if _order_key(bits[j]) == key:
            return j
    return e - 1


#: Points per block of the MinMax kernel (the vectorised unit).
MINMAX_BLOCK = 1024


def _minmax_body(x, y, bits, start, stop, n_bins, check, blk):
    """Index of the min and of the max of y in each of n_bins equal index bins of
    [start, stop), in index order; -1 where a bin holds one point or none. With ``check``,
    also whether x decreases at a step ``x[j - 1] -> x[j]`` for j in [max(start, 1), stop),
    in the same pass.

    Each bin is scanned by blocks with vectorised integer min/max of the values' order keys
    (``bits`` is y viewed as int64); the first index is then found in the one block where
    the extreme first appears. A bin holding NaN falls back to the float loop, and a zero
    extreme is looked up by float equality, so the picks are those of :func:`_minmax_scalar`.
    """
    out = np.full(2 * n_bins, -1, np.int64)
    dec = np.zeros(n_bins if check else 0, np.bool_)
    span = stop - start
    for b in prange(n_bins):
        s = start + (b * span) // n_bins
        e = start + ((b + 1) * span) // n_bins
        if e <= s:
            continue
        if check:
            c = max(s, 1)
            dec[b] = c < e and _any_decrease(x[c - 1:e - 1], x[c:e])
        kmin = _order_key(bits[s])
        kmax = kmin
        bmin = s
        bmax = s
        for bs in range(s, e, blk):
            be = min(bs + blk, e)
            lo, hi = _key_minmax(bits[bs:be])
            if lo < kmin:
                kmin = lo
                bmin = bs
            if hi > kmax:
                kmax = hi
                bmax = bs
        if kmax > _KEY_PINF or kmin < _KEY_NINF:  # NaN in the bin
            imin, imax = _minmax_scalar(y, s, e)
        else:
            # a zero extreme may first appear with the other sign, in an earlier block
            if kmin == 0 or kmin == _KEY_ZERO:
                imin = _first_key(bits, y, s, e, kmin)
            else:
                imin = _first_key(bits, y, bmin, min(bmin + blk, e), kmin)
            if kmax == 0 or kmax == _KEY_ZERO:
                imax = _first_key(bits, y, s, e, kmax)
            else:
                imax = _first_key(bits, y, bmax, min(bmax + blk, e), kmax)
        if imin < imax:
            out[2 * b] = imin
            out[2 * b + 1] = imax
        elif imax < imin:
            out[2 * b] = imax
            out[2 * b + 1] = imin
        else:
            out[2 * b] = imin
    return out, dec


# one body, two compilations; the cached wrappers keep the two apart in numba's cache
_minmax_body_s = njit(nogil=True)(_minmax_body)
_minmax_body_p = njit(nogil=True, parallel=True)(_minmax_body)


@njit(cache=True, nogil=True)
def _minmax_serial(x, y, bits, start, stop, n_bins, check, blk):
    return _minmax_body_s(x, y, bits, start, stop, n_bins, check, blk)


@njit(cache=True, nogil=True)
def _minmax_parallel(x, y, bits, start, stop, n_bins, check, blk):
    return _minmax_body_p(x, y, bits, start, stop, n_bins, check, blk)


def _minmax_kernel(y, start, stop, n_bins, parallel=False, x=None, block=MINMAX_BLOCK):
    """Sorted indices of each bin's min and max (see :func:`_minmax_body`). Given ``x``,
    every step of x from ``start`` on to the end of the series is checked as well (a
    decrease raises ``ValueError`` naming the first one)."""
    fn = _minmax_parallel if parallel else _minmax_serial
    check = x is not None
    y = np.ascontiguousarray(y, dtype=np.float64)
    out, dec = fn(x if check else y, y, y.view(np.int64), start, stop, n_bins, check, block)
    if check and (dec.any() or any(x[j] < x[j - 1] for j in range(max(stop, 1), len(x)))):
        _check_increasing(x)
    return out[out >= 0]


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
        imin, imax = _minmax_scalar(y, s, e)
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
    """Min and max of ``(n_out - 2) // 2`` equal index buckets (first and last point kept;
    with ``n_out == 3`` there is no bucket: first and last only).

    Example
    -------
    >>> import numpy as np
    >>> minmax(np.arange(8), np.array([0, 5, 1, 2, 9, 3, 4, 0.]), 6).tolist()
    [0, 1, 2, 4, 5, 7]
    """
    xf, yf, n, n_out = _prepare(x, y, n_out, check=False)
    par = _use_parallel(parallel, n)
    if n_out >= n or n_out < 3:
        _check_increasing(xf, par)
        return np.arange(n, dtype=np.int64)
    n_bins = (n_out - 2) // 2
    if n_bins == 0:  # n_out == 3: no room for a min and a max
        _check_increasing(xf, par)
        return np.array([0, n - 1], dtype=np.int64)
    mid = _minmax_kernel(yf, 1, n - 1, n_bins, par, x=xf)
    return np.concatenate([[0], mid, [n - 1]]).astype(np.int64)


def m4(x, y, n_out: int) -> np.ndarray:
    """M4: first, min, max and last of ``n_out // 4`` equal index buckets (``n_out == 3``:
    first and last).

    Example
    -------
    >>> import numpy as np
    >>> m4(np.arange(8), np.array([0, 5, 1, 2, 9, 3, 4, 0.]), 4).tolist()
    [0, 4, 7]
    """
    _, yf, n, n_out = _prepare(x, y, n_out)
    if n_out >= n or n_out < 3:
        return np.arange(n, dtype=np.int64)
    if n_out == 3:  # no room for a bucket of four: first and last
        return np.array([0, n - 1], dtype=np.int64)
    return _m4_kernel(yf, n_out // 4)


def minmax_lttb(x, y, n_out: int, ratio: int = 4, *, parallel: bool | None = None,
                assume_sorted: bool = False) -> np.ndarray:
    """MinMax preselection (``n_out * ratio`` points) followed by LTTB on the selection.

    x is checked to be non-decreasing in the same pass as the preselection, which reads all of
    x as well as y; ``assume_sorted=True`` skips that for an x known to be sorted (a pandas
    or xarray index that says ``is_monotonic_increasing``, a store sorted on write): only y
    is read then, as tsdownsample does; an unsorted x is then not reliably reported.

    Example
    -------
    >>> import numpy as np
    >>> y = np.sin(np.arange(100_000) / 500.0)
    >>> minmax_lttb(np.arange(100_000), y, 100).shape
    (100,)
    """
    xf, yf, n, n_out = _prepare(x, y, n_out, check=False)
    if ratio < 1:
        raise ArgumentError(f"ratio must be >= 1, got {ratio}")
    par = _use_parallel(parallel, n)
    if n_out >= n or n_out < 3 or n_out * ratio >= n:
        return lttb(xf, yf, n_out, parallel=par)
    mid = _minmax_kernel(yf, 1, n - 1, max(n_out * ratio // 2, 1), par,
                         x=None if assume_sorted else xf)
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
    index and value of the min and of the max, NaN ignored (index -1 when none). Combined over
    blocks in order (strict comparisons, so earlier blocks win ties; a bin without any
    candidate takes its first index) they give :func:`_minmax_body`."""
    nb = b1 - b0
    imin = np.full(nb, -1, np.int64)
    imax = np.full(nb, -1, np.int64)
    vmin = np.full(nb, np.inf)
    vmax = np.full(nb, -np.inf)
    end = off + yb.shape[0]
    for k in range(nb):
        b = b0 + k
        s = max(edges[b], off)
        e = min(edges[b + 1], end)
        for j in range(s, e):
            v = yb[j - off]
            if v < vmin[k]:
                vmin[k] = v
                imin[k] = j
            if v > vmax[k]:
                vmax[k] = v
                imax[k] = j
    return imin, vmin, imax, vmax
