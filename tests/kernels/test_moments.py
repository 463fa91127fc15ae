"""Per-window moments (the aggregate kernel): accordance with a plain-Python reference,
chunks combined in any order == the whole, and the same numbers as DuckDB's time buckets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cantelem_sci.kernels import (MOMENTS, moments_append, moments_combine, moments_create,
                                  moments_finalize, moments_of)
from cantelem_sci.kernels._reference import moments_reference

values = st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.sampled_from([0.0, 1.5, -2.0]))


@st.composite
def windowed(draw, max_len: int = 300):
    n = draw(st.integers(0, max_len))
    nw = draw(st.integers(1, 12))
    k = draw(hnp.arrays(np.int64, n, elements=st.integers(-2, nw + 1)))
    y = draw(hnp.arrays(np.float64, n, elements=values))
    return k, y, nw


def _close(got, want):
    for s in MOMENTS:
        np.testing.assert_allclose(got[s], want[s], rtol=1e-9, atol=1e-6, equal_nan=True,
                                   err_msg=s)


@given(windowed())
def test_moments_accord_with_reference(kyn):
    k, y, nw = kyn
    got = moments_finalize(moments_append(moments_create(nw), k, y))
    _close(got, moments_reference(k.tolist(), y.tolist(), nw))


@given(windowed())
def test_moments_of_a_whole_array_accord_with_numpy(kyn):
    """The one-window state of an array (two passes, NaN skipped) gives numpy's count,
    min, max, mean and population std of its valid values."""
    _, y, _ = kyn
    got = moments_finalize(moments_of(y))
    ok = y[~np.isnan(y)]
    want = {"count": [ok.size], "min": [ok.min() if ok.size else np.nan],
            "max": [ok.max() if ok.size else np.nan],
            "mean": [ok.mean() if ok.size else np.nan], "std": [ok.std() if ok.size else np.nan]}
    _close(got, want)


@given(windowed(), st.data())
def test_whole_arrays_combine_like_appended_chunks(kyn, data):
    """States of pieces of an array (e.g. its days) combined equal the whole array's."""
    _, y, _ = kyn
    cut = data.draw(st.integers(0, len(y)))
    both = moments_combine(moments_of(y[:cut]), moments_of(y[cut:]))
    _close(moments_finalize(both), moments_finalize(moments_of(y)))
    _close(moments_finalize(both), moments_finalize(
        moments_append(moments_create(1), np.zeros(len(y), np.int64), y)))


@given(windowed(), st.data())
def test_chunks_combined_in_any_order_equal_the_whole(kyn, data):
    k, y, nw = kyn
    cuts = sorted(data.draw(st.lists(st.integers(0, len(k)), max_size=4)))
    edges = [0] + cuts + [len(k)]
    parts = [moments_append(moments_create(nw), k[a:b], y[a:b])
             for a, b in zip(edges, edges[1:])]
    order = data.draw(st.permutations(range(len(parts))))
    state = moments_create(nw)
    for i in order:
        state = moments_combine(state, parts[i])
    _close(moments_finalize(state), moments_finalize(moments_append(moments_create(nw), k, y)))


@given(st.integers(0, 400), st.sampled_from(["1s", "10s", "1min", "1h"]), st.integers(0, 2**32))
def test_same_numbers_as_duckdb_time_buckets(n, freq, seed):
    """Random samples (NaN included) over a few hours: every bucket DuckDB reports has our
    count, min, max, mean and population std; the buckets it does not report (no sample, or
    only NaN) count 0 here, with NaN statistics."""
    duckdb = pytest.importorskip("duckdb")
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + 4 * 3600 * 10**9,
                             n)).astype(np.int64)
    y = rng.normal(50, 20, n)
    y[rng.random(n) < 0.1] = np.nan
    width = pd.Timedelta(freq).value
    base = int(t[0]) // width * width if n else 0
    k = (t - base) // width
    nw = int(k[-1]) + 1 if n else 1
    got = moments_finalize(moments_append(moments_create(nw), k, y))
    df = pd.DataFrame({"t": pd.to_datetime(t), "v": y})
    con = duckdb.connect()
    con.register("samples", df)
    want = con.execute(
        f"SELECT epoch_ns(time_bucket(INTERVAL '{pd.Timedelta(freq).total_seconds()} seconds', t,"
        " TIMESTAMP '1970-01-01')) AS b, count(v), min(v), max(v), avg(v), stddev_pop(v) "
        "FROM samples WHERE NOT isnan(v) GROUP BY b ORDER BY b").fetchnumpy()
    w = (np.asarray(want["b"], np.int64) - base) // width
    for name, col in zip(MOMENTS, ["count(v)", "min(v)", "max(v)", "avg(v)",
                                   "stddev_pop(v)"]):
        np.testing.assert_allclose(got[name][w], np.asarray(want[col], np.float64),
                                   rtol=1e-9, atol=1e-9, err_msg=name)
    rest = np.setdiff1d(np.arange(nw), w)
    assert (got["count"][rest] == 0).all()
    assert np.isnan(got["mean"][rest]).all() and np.isnan(got["std"][rest]).all()
