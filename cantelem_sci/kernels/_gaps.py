"""Gap- and NaN-aware downsampling, and the step mode for enums, counters and states.

A *break* is a run of NaN values in ``y`` or a step in ``x`` longer than ``gap``. Every
downsampler here keeps the points on both sides of each break and, for a NaN run, the index
of its first NaN (a marker that makes a plot lift the pen); the point budget ``n_out`` is
shared between the unbroken segments in proportion to their length, each keeping at least its
two end points. When there are more breaks than the budget allows, the ends and markers are
still all kept (they are what a reader must see), so the output can exceed ``n_out``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ArgumentError
from ._lttb import _prepare, lttb
from ._minmax import m4, minmax, minmax_lttb

METHODS = ("lttb", "minmax_lttb", "m4", "minmax", "step")


@njit(cache=True, nogil=True)
def _segments(x, y, gap, use_gap):
    """Start/stop (exclusive) of the unbroken non-NaN runs, and the first index of every
    NaN run."""
    n = x.shape[0]
    starts = np.empty(n, np.int64)
    stops = np.empty(n, np.int64)
    nans = np.empty(n, np.int64)
    ns = 0
    nn = 0
    i = 0
    while i < n:
        if np.isnan(y[i]):
            nans[nn] = i
            nn += 1
            while i < n and np.isnan(y[i]):
                i += 1
            continue
        s = i
        i += 1
        while i < n and not np.isnan(y[i]) and not (use_gap and x[i] - x[i - 1] > gap):
            i += 1
        starts[ns] = s
        stops[ns] = i
        ns += 1
    return starts[:ns], stops[:ns], nans[:nn]


@njit(cache=True, nogil=True)
def _changes(y):
    """Indices where ``y`` differs from its predecessor (NaN equals NaN), with index 0."""
    n = y.shape[0]
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if i == 0:
            out[k] = i
            k += 1
            continue
        a = y[i - 1]
        b = y[i]
        if a != b and not (np.isnan(a) and np.isnan(b)):
            out[k] = i
            k += 1
    return out[:k]


def step(x, y, n_out: int) -> np.ndarray:
    """Step (carry-forward) downsampling: every change of value plus the last point.

    Each change keeps the point where the new value starts (so ``drawstyle="steps-post"``
    redraws the signal exactly). When there are more changes than ``n_out``, the changes
    themselves are reduced by :func:`minmax` (each bucket keeps its lowest and highest state).

    Example
    -------
    >>> import numpy as np
    >>> step(np.arange(8), np.array([0, 0, 1, 1, 1, 2, 2, 2.]), 100).tolist()
    [0, 2, 5, 7]
    """
    xf, yf, n, n_out = _prepare(x, y, n_out)
    if n == 0:
        return np.arange(0, dtype=np.int64)
    ch = _changes(yf)
    if ch[-1] != n - 1:
        ch = np.append(ch, n - 1)
    if n_out < 3 or ch.shape[0] <= n_out:
        return ch
    sel = minmax(xf[ch], yf[ch], n_out, parallel=False)
    return ch[sel]


_FUNCS = {"lttb": lttb, "minmax_lttb": minmax_lttb, "m4": m4, "minmax": minmax, "step": step}


def downsample(x, y, n_out: int, method: str = "minmax_lttb", *, gap=None,
               parallel: bool | None = None, assume_sorted: bool = False) -> np.ndarray:
    """Downsample keeping breaks: NaN runs and steps of ``x`` longer than ``gap``.

    Parameters
    ----------
    x, y : array-like
        Increasing ``x`` (datetime64, int64 or float64) and values.
    n_out : int
        Point budget.
    method : {"lttb", "minmax_lttb", "m4", "minmax", "step"}
        Downsampler applied to each unbroken segment.
    gap : int, float, numpy.timedelta64 or None
        A step of ``x`` longer than this is a break (ns for datetime ``x``); ``None``: only
        NaN breaks.
    assume_sorted : bool
        ``x`` is known to be non-decreasing (e.g. a pandas index that says
        ``is_monotonic_increasing``): ``minmax_lttb`` then skips its check of x and reads
        only y (see :func:`minmax_lttb`).

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into ``x``.

    Example
    -------
    >>> import numpy as np
    >>> y = np.array([0, 1, 2, np.nan, np.nan, 5, 6, 7, 8, 9.])
    >>> downsample(np.arange(10), y, 6, "lttb").tolist()
    [0, 2, 3, 5, 6, 9]
    """
    if method not in _FUNCS:
        raise ArgumentError(f"unknown downsampling method {method!r}; valid: {', '.join(METHODS)}")
    fn = _FUNCS[method]
    xf, yf, n, n_out = _prepare(x, y, n_out)
    if gap is not None:
        if isinstance(gap, np.timedelta64):
            gap = gap.astype("timedelta64[ns]").astype(np.int64)
        gap = float(gap)
        if not gap > 0:
            raise ArgumentError(f"gap must be positive, got {gap}")
    starts, stops, nans = _segments(xf, yf, 0.0 if gap is None else gap, gap is not None)
    sorted_kw = {"assume_sorted": True} if assume_sorted and method == "minmax_lttb" else {}
    if nans.shape[0] == 0 and starts.shape[0] <= 1:
        kw = {} if method in ("m4", "step") else {"parallel": parallel, **sorted_kw}
        return fn(xf, yf, n_out, **kw) if n else np.arange(0, dtype=np.int64)
    lengths = stops - starts
    # every segment keeps its ends (the markers too); what the budget has left is shared in
    # proportion to the points beyond the ends, so the total stays within n_out when it can
    ends = np.minimum(lengths, 2)
    spare = max(n_out - nans.shape[0] - int(ends.sum()), 0)
    extra = lengths - ends
    total = int(extra.sum())
    share = np.zeros_like(extra)
    if total:
        spare = min(spare, total)
        q = spare * extra  # largest remainders: the whole spare is given out
        share = q // total
        left = spare - int(share.sum())
        if left:
            share[np.argsort(-(q % total), kind="stable")[:left]] += 1
    parts = [nans]
    small = 4 if method == "m4" else 3  # below this a kernel returns every point
    for s, e, ln, k in zip(starts.tolist(), stops.tolist(), lengths.tolist(),
                           (ends + share).tolist()):
        if k >= ln:
            parts.append(np.arange(s, e, dtype=np.int64))
        elif k < small:
            parts.append(np.array([s, e - 1], dtype=np.int64))
        else:
            kw = {} if method in ("m4", "step") else {"parallel": False, **sorted_kw}
            parts.append(s + fn(xf[s:e], yf[s:e], k, **kw))
    return np.unique(np.concatenate(parts)).astype(np.int64)


def breaks(x, idx, gap) -> np.ndarray:
    """Positions ``p`` in ``idx`` after which a plot must break: ``x[idx[p + 1]] -
    x[idx[p]] > gap``. A caller inserts a NaN row there (see the xarray accessor).

    Example
    -------
    >>> import numpy as np
    >>> breaks(np.array([0, 1, 2, 10, 11]), np.arange(5), 5).tolist()
    [2]
    """
    xi = np.asarray(x)
    if xi.dtype.kind == "M":
        xi = xi.astype("datetime64[ns]").view(np.int64)
    if isinstance(gap, np.timedelta64):
        gap = gap.astype("timedelta64[ns]").astype(np.int64)
    sel = xi[np.asarray(idx, dtype=np.int64)]
    return np.flatnonzero(np.diff(sel) > gap).astype(np.int64)
