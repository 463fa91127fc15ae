"""Windowed statistics with a create / append / combine / finalize shape.

Windows are ``[origin + k * width, origin + (k + 1) * width)`` for ``k = 0 .. n_windows - 1``
(``x`` in the units of ``origin`` and ``width``: ns for timestamps). A *state* is a float64
array of shape ``(len(FIELDS), n_windows)``; states of consecutive stretches of one series
(chunks, segments, files), combined in time order, give exactly the statistics of the whole,
so the functions map onto dask reductions.

Statistics: count, sum, min, max, mean, std (population, ddof=0), first, last (and their
times) and the time-weighted mean of the zero-order hold (each value holds until the next
sample, but not across a step longer than ``max_gap``; a hold that crosses window edges is
split between the windows). NaN values are missing: not counted, and they end a hold.
Quantiles are exact (:func:`window_quantiles`, one sort per window, linear interpolation
as ``numpy.quantile``); they are not part of the mergeable state.

Times inside a state are float64 offsets from ``origin``: exact to the ns for spans up to
about 104 days, rounded beyond.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ArgumentError

FIELDS = ("count", "mean", "m2", "sum", "min", "max", "first_t", "first", "last_t", "last",
          "tw_sum", "tw_dur", "nan_before_first", "nan_after_last")
(_COUNT, _MEAN, _M2, _SUM, _MIN, _MAX, _FT, _FV, _LT, _LV, _TWS, _TWD, _NBF,
 _NAL) = range(len(FIELDS))
# nan_before_first: a NaN lies in the window before its first sample (or the window holds
# only NaN); nan_after_last: a NaN lies in the window after its last sample. A NaN ends a
# hold, so these decide which holds cross window and chunk edges.

#: Names of the statistics :func:`stats_finalize` returns, in order.
STATS = ("count", "sum", "min", "max", "mean", "std", "first", "last", "first_time",
         "last_time", "tw_mean")


def stats_create(n_windows: int) -> np.ndarray:
    """An empty state for ``n_windows`` windows.

    Example
    -------
    >>> stats_create(3).shape
    (14, 3)
    """
    st = np.zeros((len(FIELDS), int(n_windows)))
    st[_MIN] = np.inf
    st[_MAX] = -np.inf
    st[[_FT, _FV, _LT, _LV]] = np.nan
    return st


@njit(cache=True, nogil=True)
def _append(st, x, y, origin, width, max_gap):
    nw = st.shape[1]
    n = x.shape[0]
    for i in range(n):
        v = y[i]
        t = np.float64(x[i] - origin)
        k = int(np.floor(t / width))
        if k < 0 or k >= nw:
            continue
        c = st[_COUNT, k]
        if np.isnan(v):
            if c > 0:
                st[_NAL, k] = 1.0
            else:
                st[_NBF, k] = 1.0
                st[_NAL, k] = 1.0
            continue
        if c > 0:
            # hold of the window's previous sample up to this one
            dt = t - st[_LT, k]
            if st[_NAL, k] == 0 and dt <= max_gap:
                st[_TWS, k] += st[_LV, k] * dt
                st[_TWD, k] += dt
        else:
            st[_FT, k] = t
            st[_FV, k] = v
        st[_NAL, k] = 0.0
        c += 1.0
        d = v - st[_MEAN, k]
        st[_MEAN, k] += d / c
        st[_M2, k] += d * (v - st[_MEAN, k])
        st[_COUNT, k] = c
        st[_SUM, k] += v
        if v < st[_MIN, k]:
            st[_MIN, k] = v
        if v > st[_MAX, k]:
            st[_MAX, k] = v
        st[_LT, k] = t
        st[_LV, k] = v
    return st


def stats_append(state: np.ndarray, x, y, origin, width, max_gap=None) -> np.ndarray:
    """Add the samples ``x, y`` (``x`` increasing, after every sample already in ``state``)
    to ``state`` in place and return it.

    Example
    -------
    >>> import numpy as np
    >>> st = stats_append(stats_create(2), np.array([0, 1, 2, 3]), np.array([1., 2, 3, 4]), 0, 2)
    >>> stats_finalize(st, 2)["mean"].tolist()
    [1.5, 3.5]
    """
    x = _as_num(x)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ArgumentError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if width <= 0:
        raise ArgumentError(f"width must be positive, got {width}")
    mg = np.inf if max_gap is None else float(_as_scalar(max_gap))
    return _append(state, x, y, _as_scalar(origin), float(_as_scalar(width)), mg)


def _as_num(x):
    x = np.asarray(x)
    if x.dtype.kind == "M":
        return x.astype("datetime64[ns]").view(np.int64)
    if x.dtype.kind not in "iuf":
        raise ArgumentError(f"x: expected datetime64, integer or float, got {x.dtype}")
    return x


def _as_scalar(v):
    if isinstance(v, np.datetime64):
        return int(v.astype("datetime64[ns]").astype(np.int64))
    if isinstance(v, np.timedelta64):
        return int(v.astype("timedelta64[ns]").astype(np.int64))
    return v


@njit(cache=True, nogil=True)
def _combine(a, b, max_gap):
    out = a.copy()
    for k in range(a.shape[1]):
        ca = a[_COUNT, k]
        cb = b[_COUNT, k]
        if cb == 0:
            if b[_NBF, k] > 0:  # b holds only NaN here: after a's last sample
                out[_NAL, k] = 1.0
                if ca == 0:
                    out[_NBF, k] = 1.0
            continue
        if ca == 0:
            out[:, k] = b[:, k]
            if a[_NBF, k] > 0:
                out[_NBF, k] = 1.0
            continue
        c = ca + cb
        d = b[_MEAN, k] - a[_MEAN, k]
        out[_COUNT, k] = c
        out[_MEAN, k] = a[_MEAN, k] + d * cb / c
        out[_M2, k] = a[_M2, k] + b[_M2, k] + d * d * ca * cb / c
        out[_SUM, k] = a[_SUM, k] + b[_SUM, k]
        out[_MIN, k] = min(a[_MIN, k], b[_MIN, k])
        out[_MAX, k] = max(a[_MAX, k], b[_MAX, k])
        dt = b[_FT, k] - a[_LT, k]
        tws = a[_TWS, k] + b[_TWS, k]
        twd = a[_TWD, k] + b[_TWD, k]
        if a[_NAL, k] == 0 and b[_NBF, k] == 0 and dt <= max_gap:
            tws += a[_LV, k] * dt
            twd += dt
        out[_TWS, k] = tws
        out[_TWD, k] = twd
        out[_LT, k] = b[_LT, k]
        out[_LV, k] = b[_LV, k]
        out[_NAL, k] = b[_NAL, k]
    return out


def stats_combine(a: np.ndarray, b: np.ndarray, max_gap=None) -> np.ndarray:
    """Combine the states of two consecutive stretches (``a`` before ``b`` in time)."""
    if a.shape != b.shape:
        raise ArgumentError(f"states differ in shape: {a.shape} and {b.shape}")
    mg = np.inf if max_gap is None else float(_as_scalar(max_gap))
    return _combine(a, b, mg)


@njit(cache=True, nogil=True)
def _cross_holds(st, width, max_gap):
    """Add the holds from each window's last sample to the next sample in a later window."""
    nw = st.shape[1]
    tws = st[_TWS].copy()
    twd = st[_TWD].copy()
    k = 0
    while k < nw:
        if st[_COUNT, k] == 0:
            k += 1
            continue
        k2 = k + 1
        blocked = st[_NAL, k] > 0
        while k2 < nw and st[_COUNT, k2] == 0:
            if st[_NBF, k2] > 0:
                blocked = True
            k2 += 1
        lt = st[_LT, k]
        if k2 < nw and not blocked and st[_NBF, k2] == 0:
            t1 = st[_FT, k2]
            if t1 - lt <= max_gap:
                v = st[_LV, k]
                t = lt
                for w in range(k, k2 + 1):
                    edge = (w + 1) * width
                    e = t1 if t1 < edge else edge
                    if e > t:
                        tws[w] += v * (e - t)
                        twd[w] += e - t
                        t = e
        k = k2
    return tws, twd


def stats_finalize(state: np.ndarray, width, max_gap=None) -> dict:
    """The statistics (:data:`STATS`) per window; NaN where a window has no sample.

    ``first_time`` and ``last_time`` are offsets from the origin; ``tw_mean`` is NaN where
    no hold covers the window.
    """
    mg = np.inf if max_gap is None else float(_as_scalar(max_gap))
    st = state
    cnt = st[_COUNT]
    empty = cnt == 0
    tws, twd = _cross_holds(st, float(_as_scalar(width)), mg)

    def m(a):
        return np.where(empty, np.nan, a)

    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "count": cnt.astype(np.int64),
            "sum": np.where(empty, 0.0, st[_SUM]),
            "min": m(st[_MIN]),
            "max": m(st[_MAX]),
            "mean": m(st[_MEAN]),
            "std": m(np.sqrt(np.maximum(st[_M2], 0.0) / np.where(empty, 1, cnt))),
            "first": m(st[_FV]),
            "last": m(st[_LV]),
            "first_time": m(st[_FT]),
            "last_time": m(st[_LT]),
            "tw_mean": np.where(twd > 0, tws / np.where(twd > 0, twd, 1.0), np.nan),
        }


def window_stats(x, y, origin, width, n_windows: int, max_gap=None) -> dict:
    """All statistics of one series in one call (create, append, finalize).

    Example
    -------
    >>> import numpy as np
    >>> s = window_stats(np.arange(6), np.array([1., 2, 3, 4, 5, 6]), 0, 3, 2)
    >>> s["max"].tolist(), s["count"].tolist()
    ([3.0, 6.0], [3, 3])
    """
    st = stats_append(stats_create(n_windows), x, y, origin, width, max_gap)
    return stats_finalize(st, width, max_gap)


@njit(cache=True, nogil=True)
def _quantiles(x, y, origin, width, n_windows, qs):
    out = np.full((qs.shape[0], n_windows), np.nan)
    n = x.shape[0]
    i = 0
    buf = np.empty(n)
    while i < n:
        t = np.float64(x[i] - origin)
        k = int(np.floor(t / width))
        j = i
        m = 0
        while j < n and int(np.floor(np.float64(x[j] - origin) / width)) == k:
            if not np.isnan(y[j]):
                buf[m] = y[j]
                m += 1
            j += 1
        if 0 <= k < n_windows and m > 0:
            s = np.sort(buf[:m])
            for q in range(qs.shape[0]):
                pos = qs[q] * (m - 1)
                lo = int(np.floor(pos))
                hi = min(lo + 1, m - 1)
                frac = pos - lo
                out[q, k] = s[lo] + (s[hi] - s[lo]) * frac
        i = j
    return out


def window_quantiles(x, y, origin, width, n_windows: int, q) -> np.ndarray:
    """Exact quantiles ``q`` (in [0, 1]) of ``y`` per window; shape ``(len(q), n_windows)``.

    Example
    -------
    >>> import numpy as np
    >>> window_quantiles(np.arange(4), np.array([1., 2, 3, 4]), 0, 4, 1, [0.5]).tolist()
    [[2.5]]
    """
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if ((qs < 0) | (qs > 1)).any():
        raise ArgumentError(f"quantiles must be in [0, 1], got {qs.tolist()}")
    x = _as_num(x)
    y = np.asarray(y, dtype=np.float64)
    return _quantiles(x, y, _as_scalar(origin), float(_as_scalar(width)), int(n_windows), qs)
