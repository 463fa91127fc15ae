"""The ``.cantelem`` accessor on DataArrays and Datasets (in memory and dask-backed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import cantelem_sci.accessor  # noqa: F401  (registers the accessor)
from cantelem_sci.errors import UnknownNameError
from cantelem_sci.kernels import minmax_lttb


def _signal(n=20_000, gap_at=None):
    t = pd.date_range("2026-03-01T10:00", periods=n, freq="100ms").values.copy()
    if gap_at is not None:
        t[gap_at:] += np.timedelta64(1, "h")
    y = np.sin(np.arange(n) / 300.0) + np.arange(n) * 1e-4
    return xr.DataArray(y, coords={"time": t}, dims="time", name="speed", attrs={"units": "km/h"})


def test_downsample_dataarray_matches_kernel_and_keeps_attrs():
    da = _signal()
    small = da.cantelem.downsample(400)
    want = minmax_lttb(da.time.values, da.values, 400)
    assert np.array_equal(small.time.values, da.time.values[want])
    assert small.attrs["units"] == "km/h"
    # the dask-backed array gives the same selection, out of core
    lazy = da.chunk({"time": 3000}).cantelem.downsample(400)
    assert np.array_equal(lazy.time.values, small.time.values)


def test_time_gap_gets_a_nan_row_and_both_sides_survive():
    da = _signal(gap_at=10_000)
    small = da.cantelem.downsample(300, "lttb", gap="10s")
    t = da.time.values
    assert t[9_999] in small.time.values and t[10_000] in small.time.values
    i = int(np.searchsorted(small.time.values, t[9_999]))
    assert np.isnan(small.values[i + 1])
    assert small.time.values[i + 1] == t[9_999] + np.timedelta64(1, "ns")


def test_dataset_downsample_is_union_and_validates_names():
    da = _signal()
    ds = xr.Dataset({"speed": da, "neg": -da * 2})
    small = ds.cantelem.downsample(200, variables=["speed"])
    assert small.sizes["time"] == 200
    both = ds.cantelem.downsample(200)
    assert 200 <= both.sizes["time"] <= 400
    with pytest.raises(UnknownNameError, match="valid: neg, speed"):
        ds.cantelem.downsample(200, variables=["nope"])
    with pytest.raises(UnknownNameError, match="valid: lttb, m4, minmax, minmax_lttb, step"):
        da.cantelem.downsample(200, "bogus")


def test_stats_hourly_against_pandas():
    rng = np.random.default_rng(3)
    t = pd.date_range("2026-03-01T10:17", periods=30_000, freq="500ms")
    y = rng.normal(size=t.size)
    da = xr.DataArray(y, coords={"time": t}, dims="time")
    got = da.cantelem.stats("1h", quantiles=[0.5, 0.95])
    s = pd.Series(y, index=t).resample("1h")
    np.testing.assert_allclose(got["mean"].values, s.mean().values)
    np.testing.assert_allclose(got["std"].values, s.std(ddof=0).values)
    np.testing.assert_allclose(got["max"].values, s.max().values)
    np.testing.assert_allclose(got["q50"].values, s.median().values)
    np.testing.assert_allclose(got["q95"].values, s.quantile(0.95).values)
    assert got["count"].values.tolist() == s.count().values.tolist()
    assert (got.time.values == s.mean().index.values).all()
    lazy = da.chunk({"time": 7000}).cantelem.stats("1h")
    np.testing.assert_allclose(lazy["mean"].values, got["mean"].values)
    ds = xr.Dataset({"a": da}).cantelem.stats("1h")
    assert ds["a"].sel(stat="max").values.tolist() == got["max"].values.tolist()


def test_sorted_index_is_trusted_and_unsorted_is_not():
    import xarray as xr

    from cantelem_sci.accessor._xarray import _sorted

    t = np.arange(5000).astype("datetime64[s]").astype("datetime64[ns]")
    da = xr.DataArray(np.sin(np.arange(5000) / 50.0), coords={"time": t}, dims="time")
    assert _sorted(da, "time")
    shuffled = da.isel(time=np.r_[1:5000, 0])
    assert not _sorted(shuffled, "time")
    # the fast path keeps what the checked path keeps
    from cantelem_sci.kernels import downsample

    idx = downsample(t, da.values, 200, "minmax_lttb")
    np.testing.assert_array_equal(da.cantelem.downsample(200)["time"].values, t[idx])
