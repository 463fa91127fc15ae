"""Slow, plain-numpy references of the kernels, for accordance tests."""

from __future__ import annotations

import math

import numpy as np


def lttb_reference(x, y, n_out):
    x = np.asarray(x, dtype=np.float64)
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
        ax = ay = 0.0
        for j in range(s, e):  # left-to-right, as the original (numpy's sum is pairwise)
            ax += float(x[j])
            ay += float(y[j])
        ax, ay = ax / (e - s), ay / (e - s)
        r0, r1 = math.floor(i * every) + 1, math.floor((i + 1) * every) + 1
        areas = [abs((x[a] - ax) * (y[j] - y[a]) - (x[a] - x[j]) * (ay - y[a])) * 0.5
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
        imin, imax = s + int(np.argmin(seg)), s + int(np.argmax(seg))
        out.extend(sorted({imin, imax}))
    return np.array(out, dtype=np.int64)
