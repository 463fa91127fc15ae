"""Windowed statistics: accordance with a plain-Python reference, and chunked == whole."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.kernels import (
    STATS,
    stats_append,
    stats_combine,
    stats_create,
    stats_finalize,
    window_quantiles,
    window_stats,
)
from cantelem_sci.kernels._reference import window_stats_reference
from tests.strategies import gappy_series

max_gaps = st.sampled_from([None, 5, 60])


def _window_grid(x, width):
    origin = int(x[0]) - 3 if len(x) else 0
    n_windows = int((int(x[-1]) - origin) // width + 1) if len(x) else 1
    return origin, n_windows


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-6, equal_nan=True)


@given(gappy_series(), st.sampled_from([7, 40, 1000]), max_gaps)
def test_stats_accord_with_reference(xy, width, max_gap):
    x, y = xy
    origin, nw = _window_grid(x, width)
    got = window_stats(x, y, origin, width, nw, max_gap)
    want = window_stats_reference(x.tolist(), y.tolist(), origin, width, nw, max_gap)
    assert set(got) == set(STATS)
    for name in STATS:
        _close(got[name], want[name])


@given(gappy_series(), st.sampled_from([7, 40]), max_gaps,
       st.lists(st.integers(0, 300), max_size=4))
def test_chunked_combine_equals_whole(xy, width, max_gap, cuts):
    x, y = xy
    origin, nw = _window_grid(x, width)
    whole = stats_finalize(stats_append(stats_create(nw), x, y, origin, width, max_gap), width,
                           max_gap)
    bounds = [0, *sorted(c for c in cuts if c <= len(x)), len(x)]
    states = [stats_append(stats_create(nw), x[a:b], y[a:b], origin, width, max_gap)
              for a, b in zip(bounds[:-1], bounds[1:])]
    # combine as a tree, keeping time order (as dask's reduction does)
    while len(states) > 1:
        states = [stats_combine(states[i], states[i + 1], max_gap) if i + 1 < len(states)
                  else states[i] for i in range(0, len(states), 2)]
    parts = stats_finalize(states[0], width, max_gap)
    for name in STATS:
        _close(parts[name], whole[name])


@given(gappy_series(), st.sampled_from([7, 40, 1000]),
       st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_quantiles_are_numpys(xy, width, qs):
    x, y = xy
    origin, nw = _window_grid(x, width)
    got = window_quantiles(x, y, origin, width, nw, qs)
    k = (x - origin) // width
    for w in range(nw):
        v = y[(k == w) & ~np.isnan(y)]
        want = np.quantile(v, qs) if v.size else np.full(len(qs), np.nan)
        _close(got[:, w], want)


def test_time_weighted_mean_of_a_step_signal():
    # 0 for 9 s then 10 for 1 s: the sample mean is 20/3, the time-weighted mean 1
    x = np.array([0, 9, 10], dtype=np.int64) * 10**9
    y = np.array([0.0, 10.0, 10.0])
    s = window_stats(x, y, 0, 20 * 10**9, 1)
    assert s["mean"][0] == pytest.approx(20 / 3)
    assert s["tw_mean"][0] == pytest.approx(1.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="width must be positive"):
        window_stats(np.arange(3), np.zeros(3), 0, 0, 1)
    with pytest.raises(ValueError, match=r"quantiles must be in \[0, 1\]"):
        window_quantiles(np.arange(3), np.zeros(3), 0, 1, 3, [1.5])
