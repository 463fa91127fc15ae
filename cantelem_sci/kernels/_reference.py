"""Slow, plain-numpy references of the kernels, for accordance tests."""

from __future__ import annotations

import math

import numpy as np


def _mean_x(x, s, e):
    x0 = x[0]
    if x.dtype.kind == "i":
        xs, cnt = int(x[s]), e - s
        if int(x[e - 1]) - xs < 2**62 // cnt:
            return float(xs - int(x0)) + float(sum(int(v) - xs for v in x[s:e])) / cnt
    ax = 0.0
    for j in range(s, e):
        ax += float(x[j] - x0)
    return ax / (e - s)


@np.errstate(invalid="ignore", over="ignore")  # infinities give NaN areas, as in the original
def lttb_reference(x, y, n_out):
    """Original LTTB; x relative to x[0]; integer x averaged exactly (see kernels._lttb)."""
    x = np.asarray(x)
    x = x.astype(np.int64) if x.dtype.kind in "iuM" else x.astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if n_out >= n or n_out < 3:
        return np.arange(n)
    every = (n - 2) / (n_out - 2)
    out = [0]
    a = 0
    for i in range(n_out - 2):
        s = math.floor((i + 1) * every) + 1
        e = min(math.floor((i + 2) * every) + 1, n)
        ay = 0.0
        for j in range(s, e):  # left-to-right, as the original (numpy's sum is pairwise)
            ay += float(y[j])
        ax, ay = _mean_x(x, s, e), ay / (e - s)
        r0, r1 = math.floor(i * every) + 1, math.floor((i + 1) * every) + 1
        pax = float(x[a] - x[0])
        areas = [abs((pax - ax) * (y[j] - y[a]) - (pax - float(x[j] - x[0])) * (ay - y[a])) * 0.5
                 for j in range(r0, r1)]
        best = -1.0
        pick = r0
        for j, ar in zip(range(r0, r1), areas):
            if ar > best:
                best, pick = ar, j
        out.append(pick)
        a = pick
    out.append(n - 1)
    return np.array(out)


def minmax_buckets_reference(y, start, stop, n_bins):
    y = np.asarray(y, dtype=np.float64)
    out = []
    span = stop - start
    for b in range(n_bins):
        s, e = start + (b * span) // n_bins, start + ((b + 1) * span) // n_bins
        if e <= s:
            continue
        seg = y[s:e]
        ok = np.flatnonzero(~np.isnan(seg))
        if ok.size == 0:  # NaN is ignored; a bin of NaN only keeps its first index
            imin = imax = s
        else:  # (not nanargmin: it would take a NaN tied with an infinity)
            v = seg[ok]
            imin, imax = s + int(ok[np.argmin(v)]), s + int(ok[np.argmax(v)])
        out.extend(sorted({imin, imax}))
    return np.array(out, dtype=np.int64)


def m4_reference(y, n_bins):
    """First, min, max and last index of ``n_bins`` equal index bins (NaN ignored), each
    index once."""
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    out: list[int] = []
    for b in range(n_bins):
        s, e = (b * n) // n_bins, ((b + 1) * n) // n_bins
        if e <= s:
            continue
        mm = minmax_buckets_reference(y, s, e, 1).tolist()
        for c in [s, *mm, e - 1]:
            if not out or out[-1] != c:
                out.append(c)
    return np.array(out, dtype=np.int64)


def segments_reference(x, y, gap):
    """Unbroken non-NaN runs (start, stop) and first indices of NaN runs, plain Python."""
    runs, nans = [], []
    i, n = 0, len(y)
    while i < n:
        if math.isnan(y[i]):
            nans.append(i)
            while i < n and math.isnan(y[i]):
                i += 1
            continue
        s = i
        i += 1
        while i < n and not math.isnan(y[i]) and not (gap is not None and x[i] - x[i - 1] > gap):
            i += 1
        runs.append((s, i))
    return runs, nans


def step_changes_reference(y):
    """Indices where y changes value (NaN == NaN), with 0 and the last index."""
    out = [0] if len(y) else []
    for i in range(1, len(y)):
        a, b = y[i - 1], y[i]
        if a != b and not (math.isnan(a) and math.isnan(b)):
            out.append(i)
    if len(y) and out[-1] != len(y) - 1:
        out.append(len(y) - 1)
    return out


def window_stats_reference(x, y, origin, width, n_windows, max_gap=None):
    """Every statistic of kernels._stats, from lists of each window's samples."""
    mg = math.inf if max_gap is None else max_gap
    t = [float(v - origin) for v in x]
    k = [math.floor(v / width) for v in t]
    inr = [0 <= kk < n_windows for kk in k]
    vals = [[] for _ in range(n_windows)]
    times = [[] for _ in range(n_windows)]
    for i in range(len(y)):
        if inr[i] and not math.isnan(y[i]):
            vals[k[i]].append(float(y[i]))
            times[k[i]].append(t[i])
    tws = [0.0] * n_windows
    twd = [0.0] * n_windows
    for i in range(len(y) - 1):
        if not (inr[i] and inr[i + 1]) or math.isnan(y[i]) or math.isnan(y[i + 1]):
            continue
        t0, t1 = t[i], t[i + 1]
        if t1 - t0 > mg:
            continue
        for w in range(k[i], k[i + 1] + 1):
            lo, hi = max(t0, w * width), min(t1, (w + 1) * width)
            if hi > lo:
                tws[w] += y[i] * (hi - lo)
                twd[w] += hi - lo
    out = {s: [] for s in ("count", "sum", "min", "max", "mean", "std", "first", "last",
                           "first_time", "last_time", "tw_mean")}
    for w in range(n_windows):
        v = vals[w]
        nan = math.nan
        out["count"].append(len(v))
        out["sum"].append(math.fsum(v))
        out["min"].append(min(v) if v else nan)
        out["max"].append(max(v) if v else nan)
        mean = math.fsum(v) / len(v) if v else nan
        out["mean"].append(mean)
        out["std"].append(math.sqrt(math.fsum((a - mean) ** 2 for a in v) / len(v)) if v else nan)
        out["first"].append(v[0] if v else nan)
        out["last"].append(v[-1] if v else nan)
        out["first_time"].append(times[w][0] if v else nan)
        out["last_time"].append(times[w][-1] if v else nan)
        out["tw_mean"].append(tws[w] / twd[w] if twd[w] > 0 else nan)
    return {s: np.array(a) for s, a in out.items()}


def moments_reference(k, y, n_windows):
    """count, min, max, mean, std (population) per window from lists of each window's
    samples (NaN values and windows outside 0 .. n_windows - 1 skipped)."""
    vals = [[] for _ in range(n_windows)]
    for w, v in zip(k, y):
        if 0 <= w < n_windows and not math.isnan(v):
            vals[w].append(float(v))
    out = {s: [] for s in ("count", "min", "max", "mean", "std")}
    for v in vals:
        mean = math.fsum(v) / len(v) if v else math.nan
        out["count"].append(float(len(v)))
        out["min"].append(min(v) if v else math.nan)
        out["max"].append(max(v) if v else math.nan)
        out["mean"].append(mean)
        out["std"].append(math.sqrt(math.fsum((a - mean) ** 2 for a in v) / len(v))
                          if v else math.nan)
    return out
