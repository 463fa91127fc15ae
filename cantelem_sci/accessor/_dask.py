"""Out-of-core downsampling and statistics over dask arrays, with the kernels' results.

MinMax, M4 and the MinMax-LTTB preselection work block by block in parallel (each block
gives the partial min/max of the bins it touches; partials combine in block order) and a
final pass runs on the few selected points. LTTB streams the blocks in order through the
resumable kernel, so only one block and at most two buckets are in memory. Every function
returns the indices the in-memory kernel returns on the same data.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, UnknownNameError
from ..kernels import _lttb as _k
from ..kernels import _minmax as _mm
from ..kernels import _stats as _s

#: Methods with an out-of-core version.
DASK_METHODS = ("lttb", "minmax_lttb", "m4", "minmax")


def _blocks(a):
    import dask

    offs = np.concatenate([[0], np.cumsum(a.chunks[0])]).astype(np.int64)
    return list(a.to_delayed().ravel()), offs, dask


def _as_x_dask(x):
    if x.dtype.kind == "M":
        return x.astype("datetime64[ns]").view(np.int64)
    if x.dtype.kind in "iu":
        return x.astype(np.int64)
    if x.dtype.kind == "f":
        return x.astype(np.float64)
    raise ArgumentError(f"x: expected datetime64, integer or float, got {x.dtype}")


def _check_increasing(x) -> None:
    """Raise like the kernels when the dask array ``x`` decreases somewhere."""
    import dask.array as da

    if x.shape[0] < 2:
        return
    dec = da.diff(x) < 0
    if bool(dec.any().compute()):
        i = int(da.argmax(dec).compute())
        raise ArgumentError(f"x must be non-decreasing; x[{i + 1}] < x[{i}]")


def _bin_partials(y, start: int, stop: int, n_bins: int):
    """Combined first-min / first-max of ``n_bins`` equal index bins of [start, stop)."""
    span = stop - start
    edges = start + (np.arange(n_bins + 1, dtype=np.int64) * span) // n_bins
    delayed_blocks, offs, dask = _blocks(y)
    tasks, ranges = [], []
    for blk, o, e in zip(delayed_blocks, offs[:-1], offs[1:]):
        b0 = int(np.searchsorted(edges, o, side="right")) - 1
        b1 = int(np.searchsorted(edges, e, side="left"))
        b0, b1 = max(b0, 0), min(b1, n_bins)
        if b1 <= b0:
            continue
        fn = dask.delayed(lambda yb, off, b0, b1: _mm._block_minmax(
            np.asarray(yb, dtype=np.float64), off, edges, b0, b1), pure=True)
        tasks.append(fn(blk, int(o), b0, b1))
        ranges.append((b0, b1))
    parts = dask.compute(*tasks)
    imin = np.full(n_bins, -1, np.int64)
    imax = np.full(n_bins, -1, np.int64)
    vmin = np.full(n_bins, np.inf)
    vmax = np.full(n_bins, -np.inf)
    for (b0, b1), (pimin, pvmin, pimax, pvmax) in zip(ranges, parts):
        sl = slice(b0, b1)
        m = (pimin >= 0) & (pvmin < vmin[sl])
        imin[sl] = np.where(m, pimin, imin[sl])
        vmin[sl] = np.where(m, pvmin, vmin[sl])
        m = (pimax >= 0) & (pvmax > vmax[sl])
        imax[sl] = np.where(m, pimax, imax[sl])
        vmax[sl] = np.where(m, pvmax, vmax[sl])
    s = edges[:-1]
    nonempty = edges[1:] > s
    # as the in-memory kernel: NaN is ignored; a bin without a candidate keeps its start
    imin = np.where(imin < 0, s, imin)
    imax = np.where(imax < 0, s, imax)
    return s, edges[1:], imin, imax, nonempty


def _minmax_indices(y, start, stop, n_bins):
    _, _, imin, imax, nonempty = _bin_partials(y, start, stop, n_bins)
    lo, hi = np.minimum(imin, imax), np.maximum(imin, imax)
    pairs = np.stack([lo, hi], axis=1)[nonempty]
    keep = np.ones(pairs.shape, bool)
    keep[:, 1] = pairs[:, 1] != pairs[:, 0]
    return pairs[keep].astype(np.int64)


def _m4_indices(y, n_bins):
    n = y.shape[0]
    s, e, imin, imax, nonempty = _bin_partials(y, 0, n, n_bins)
    lo, hi = np.minimum(imin, imax), np.maximum(imin, imax)
    quads = np.stack([s, lo, hi, e - 1], axis=1)[nonempty].ravel()
    keep = np.ones(quads.shape, bool)
    keep[1:] = quads[1:] != quads[:-1]
    return quads[keep].astype(np.int64)


def _lttb_streaming(x, y, n_out):
    n = x.shape[0]
    every = (n - 2) / (n_out - 2)
    out = np.empty(n_out, np.int64)
    out[0], out[-1] = 0, n - 1
    x0 = x[:1].compute()[0]
    xint = x.dtype.kind == "i"
    y0 = float(y[:1].compute()[0])
    i, pax, pay, bad = 0, 0.0, y0, False
    xbuf = x[:0].compute()
    ybuf = np.empty(0)
    off = 0
    xd, offs, dask = _blocks(x)
    yd, _, _ = _blocks(y)
    for xb, yb in zip(xd, yd):
        xb, yb = dask.compute(xb, yb)
        xbuf = np.concatenate([xbuf, xb])
        ybuf = np.concatenate([ybuf, np.asarray(yb, dtype=np.float64)])
        i, pax, pay, b = _k._lttb_stream(xbuf, ybuf, off, n, n_out, every, x0, xint, i, pax, pay,
                                         out)
        bad |= b
        # keep from one before the current bucket's first point on
        keep_from = max(int(np.floor(i * every)) + 1 - 1, off)
        xbuf, ybuf = xbuf[keep_from - off:], ybuf[keep_from - off:]
        off = keep_from
    if bad or _k._first_decrease(x[: int(every) + 2].compute()) >= 0:
        _check_increasing(x)
    return out


def downsample_dask(x, y, n_out: int, method: str = "minmax_lttb", *, ratio: int = 4) -> np.ndarray:
    """Out-of-core :func:`cantelem_sci.kernels.lttb` / ``minmax_lttb`` / ``m4`` / ``minmax``.

    Parameters
    ----------
    x, y : dask.array.Array
        1-D, same chunks; ``x`` increasing (datetime64, int or float).
    n_out : int
        Point budget.
    method : {"lttb", "minmax_lttb", "m4", "minmax"}

    Returns
    -------
    numpy.ndarray
        The int64 indices the in-memory kernel gives on the same data.

    Example
    -------
    >>> import dask.array as da, numpy as np
    >>> y = da.from_array(np.sin(np.arange(10_000) / 50.0), chunks=1_000)
    >>> x = da.arange(10_000, chunks=1_000)
    >>> downsample_dask(x, y, 100, "lttb").shape
    (100,)
    """
    if method not in DASK_METHODS:
        raise UnknownNameError("out-of-core downsampling method", method, DASK_METHODS)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ArgumentError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if not isinstance(n_out, (int, np.integer)) or isinstance(n_out, bool):
        raise ArgumentError(f"n_out must be an integer, got {type(n_out).__name__}")
    if y.chunks != x.chunks:
        y = y.rechunk(x.chunks)
    x = _as_x_dask(x)
    n = x.shape[0]
    if method == "m4" and n_out == 3 and n > 3:  # no room for a bucket, as in memory
        _check_increasing(x)
        return np.array([0, n - 1], dtype=np.int64)
    if n_out >= n or n_out < 3 or (method == "minmax_lttb" and n_out * ratio >= n):
        if method != "lttb" and method != "minmax_lttb" or n_out >= n or n_out < 3:
            _check_increasing(x)
            return np.arange(n, dtype=np.int64)
        return _lttb_streaming(x, y, n_out)
    if method == "lttb":
        return _lttb_streaming(x, y, n_out)
    _check_increasing(x)
    if method == "m4":
        return _m4_indices(y, n_out // 4)
    if method == "minmax":
        n_bins = (n_out - 2) // 2  # none with n_out == 3, as the in-memory kernel
        mid = _minmax_indices(y, 1, n - 1, n_bins) if n_bins else np.empty(0, np.int64)
        return np.concatenate([[0], mid, [n - 1]]).astype(np.int64)
    if ratio < 1:
        raise ArgumentError(f"ratio must be >= 1, got {ratio}")
    mid = _minmax_indices(y, 1, n - 1, max(n_out * ratio // 2, 1))
    idx = np.concatenate([[0], mid, [n - 1]]).astype(np.int64)
    if idx.shape[0] <= n_out:
        return idx
    import dask

    sx, sy = dask.compute(x[idx], y[idx])
    return _mm.lttb_on_subset(sx, sy, idx, n_out)


def stats_dask(x, y, origin, width, n_windows: int, max_gap=None) -> dict:
    """:func:`cantelem_sci.kernels.window_stats` over dask blocks: one state per block
    (in parallel), combined in time order as a tree, then finalized."""
    import dask

    if y.chunks != x.chunks:
        y = y.rechunk(x.chunks)
    xd, _, _ = _blocks(_as_x_dask(x))
    yd, _, _ = _blocks(y)
    part = dask.delayed(lambda xb, yb: _s.stats_append(
        _s.stats_create(n_windows), xb, yb, origin, width, max_gap), pure=True)
    comb = dask.delayed(lambda a, b: _s.stats_combine(a, b, max_gap), pure=True)
    states = [part(a, b) for a, b in zip(xd, yd)]
    while len(states) > 1:
        states = [comb(states[i], states[i + 1]) if i + 1 < len(states) else states[i]
                  for i in range(0, len(states), 2)]
    (state,) = dask.compute(states[0])
    return _s.stats_finalize(state, width, max_gap)
