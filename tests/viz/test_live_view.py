"""The live plots' per-tick reduction (M4): exact samples, the extremes of every slice kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cantelem_sci.viz._live_view import m4, m4_buckets

values = st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60)


@given(values)
def test_m4_keeps_first_last_and_extremes(v):
    v = np.array(v)
    keep = m4(np.arange(len(v)), v)
    assert (np.diff(keep) > 0).all() and len(keep) <= 4
    assert keep[0] == 0 and keep[-1] == len(v) - 1
    assert v[keep].min() == v.min() and v[keep].max() == v.max()


@given(values, st.integers(1, 20))
def test_m4_buckets_keep_the_extremes_of_each_slice(v, width):
    v = np.array(v)
    t = np.arange(len(v)) * 3
    keep = m4_buckets(t, v, width)
    assert (np.diff(keep) > 0).all()
    bucket = (t - t[0]) // width
    for b in np.unique(bucket):
        mine = keep[bucket[keep] == b]
        whole = v[bucket == b]
        assert 1 <= len(mine) <= 4
        assert v[mine].min() == whole.min() and v[mine].max() == whole.max()
