"""Out-of-core (dask) downsampling and statistics give the in-memory kernels' results."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.accessor import DASK_METHODS, downsample_dask, stats_dask
from cantelem_sci.errors import UnknownNameError
from cantelem_sci.kernels import lttb, m4, minmax, minmax_lttb, window_stats
from tests.strategies import gappy_series

IN_MEMORY = {"lttb": lttb, "minmax_lttb": minmax_lttb, "m4": m4, "minmax": minmax}


@st.composite
def chunked(draw):
    x, y = draw(gappy_series(max_len=400))
    chunk = draw(st.integers(1, 120))
    return x, y, chunk


@settings(max_examples=60, deadline=None)
@given(chunked(), st.integers(0, 150), st.sampled_from(DASK_METHODS), st.booleans())
def test_dask_indices_equal_in_memory(xyc, n_out, method, nan_free):
    x, y, chunk = xyc
    if nan_free:
        y = np.nan_to_num(y)
    want = IN_MEMORY[method](x, y, n_out)
    with dask.config.set(scheduler="synchronous"):
        got = downsample_dask(da.from_array(x, chunks=chunk), da.from_array(y, chunks=chunk),
                              n_out, method)
    assert got.tolist() == want.tolist()


@settings(max_examples=40, deadline=None)
@given(chunked(), st.sampled_from([7, 40]), st.sampled_from([None, 5]))
def test_dask_stats_equal_in_memory(xyc, width, max_gap):
    x, y, chunk = xyc
    origin = int(x[0]) - 3 if len(x) else 0
    nw = int((int(x[-1]) - origin) // width + 1) if len(x) else 1
    want = window_stats(x, y, origin, width, nw, max_gap)
    if not len(x):
        return
    with dask.config.set(scheduler="synchronous"):
        got = stats_dask(da.from_array(x, chunks=chunk), da.from_array(y, chunks=chunk),
                         origin, width, nw, max_gap)
    for name, v in want.items():
        np.testing.assert_allclose(got[name], v, rtol=1e-9, atol=1e-6, equal_nan=True)


def test_large_series_on_the_threaded_scheduler():
    rng = np.random.default_rng(1)
    n = 300_000
    x = np.arange(n, dtype=np.int64) * 10_000_000 + 1_700_000_000 * 10**9
    y = np.cumsum(rng.normal(size=n))
    dx, dy = da.from_array(x, chunks=40_000), da.from_array(y, chunks=40_000)
    for method, fn in IN_MEMORY.items():
        assert downsample_dask(dx, dy, 1000, method).tolist() == fn(x, y, 1000).tolist(), method
    # datetime x as well
    dt = da.from_array(x.astype("datetime64[ns]"), chunks=40_000)
    assert downsample_dask(dt, dy, 1000, "lttb").tolist() == lttb(x, y, 1000).tolist()


def test_errors_name_what_is_wrong():
    x = da.from_array(np.array([0, 1, 5, 3, 4, 6, 7, 8]), chunks=3)
    y = da.zeros(8, chunks=3)
    for method in DASK_METHODS:
        with pytest.raises(ValueError, match=r"non-decreasing; x\[3\] < x\[2\]"):
            downsample_dask(x, y, 4, method)
    with pytest.raises(UnknownNameError, match="valid: lttb, m4, minmax, minmax_lttb"):
        downsample_dask(x, y, 4, "step")
