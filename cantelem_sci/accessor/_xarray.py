"""The ``.cantelem`` accessor on xarray objects: downsampling and windowed statistics.

Importing :mod:`cantelem_sci.accessor` registers it (the package's xarray-returning
functions import it for you).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ArgumentError, UnknownNameError
from ..kernels import METHODS, STATS, breaks, downsample, window_quantiles, window_stats
from ._dask import DASK_METHODS, downsample_dask, stats_dask


def _dim(obj, dim):
    if dim is None:
        if "time" in obj.dims:
            return "time"
        if len(obj.dims) == 1:
            return next(iter(obj.dims))
        raise ArgumentError(f"give dim=; the object has dims {list(obj.dims)}")
    if dim not in obj.dims:
        raise UnknownNameError("dimension", dim, list(obj.dims))
    return dim


def _sorted(obj, dim) -> bool:
    """Whether ``dim``'s index says it is non-decreasing (pandas caches the answer), so the
    kernels can skip checking x."""
    index = obj.indexes.get(dim)
    return bool(index is not None and index.is_monotonic_increasing)


def _is_dask(a) -> bool:
    return type(a).__module__.startswith("dask")


def _indices(x, data, n_out, method, gap, assume_sorted: bool = False) -> np.ndarray:
    if method not in METHODS:
        raise UnknownNameError("downsampling method", method, METHODS)
    if _is_dask(data) and gap is None and method in DASK_METHODS:
        import dask.array as da

        if not bool(da.isnan(data).any().compute()):
            xd = da.from_array(np.asarray(x), chunks=(data.chunks[0],))
            return downsample_dask(xd, data, n_out, method)
    return downsample(np.asarray(x), np.asarray(data, dtype=np.float64), n_out, method, gap=gap,
                      assume_sorted=assume_sorted)


def with_breaks(obj, dim, gap):
    """``obj`` with a NaN row inserted after each point followed by a step along ``dim``
    longer than ``gap`` (so that a line plot breaks there instead of bridging the gap).

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"v": ("t", [1.0, 2.0, 3.0])}, coords={"t": [0, 1, 10]})
    >>> with_breaks(ds, "t", 5)["v"].values.tolist()
    [1.0, 2.0, nan, 3.0]
    """
    if gap is None or obj.sizes[dim] < 2:
        return obj
    x = obj[dim].values
    pos = breaks(x, np.arange(x.shape[0]), gap)
    if pos.size == 0:
        return obj
    one = np.timedelta64(1, "ns") if x.dtype.kind == "M" else (1 if x.dtype.kind in "iu" else 1e-9)
    new_x = x[pos] + one
    filler = obj.isel({dim: pos}).copy()
    filler = filler.assign_coords({dim: new_x})
    for name, var in filler.data_vars.items() if isinstance(filler, xr.Dataset) else []:
        if var.dtype.kind == "f":
            filler[name] = var.where(False)
    if isinstance(filler, xr.DataArray) and filler.dtype.kind == "f":
        filler = filler.where(False)
    return xr.concat([obj, filler], dim=dim).sortby(dim)


def _window_grid(x, freq, origin):
    width = pd.Timedelta(freq).value if isinstance(freq, str) else int(freq)
    if width <= 0:
        raise ArgumentError(f"freq must be positive, got {freq!r}")
    xs = np.asarray(x)
    if xs.dtype.kind != "M":
        raise ArgumentError(f"stats needs a datetime64 {''}dimension, got {xs.dtype}")
    xi = xs.astype("datetime64[ns]").view(np.int64)
    if origin is None:
        first = int(xi[0]) if xi.size else 0
        origin = first - (first % width)
    else:
        origin = int(np.datetime64(origin, "ns").astype(np.int64))
    last = int(xi[-1]) if xi.size else origin
    n = int((last - origin) // width) + 1
    return xi, origin, width, n


class _Base:
    def __init__(self, obj):
        self._obj = obj


@xr.register_dataarray_accessor("cantelem")
class CantelemDataArrayAccessor(_Base):
    """``da.cantelem``: downsampling and statistics of one signal.

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> import cantelem_sci.accessor
    >>> t = pd.date_range("2026-01-01", periods=10_000, freq="10ms")
    >>> da = xr.DataArray(np.sin(np.arange(10_000) / 100), coords={"time": t}, dims="time")
    >>> da.cantelem.downsample(500).sizes["time"]
    500
    >>> int(da.cantelem.stats("10s")["count"].sum())
    10000
    """

    def downsample(self, n_out: int = 2000, method: str = "minmax_lttb", *, dim=None, gap=None):
        """Keep ``n_out`` points chosen by ``method`` (see :func:`cantelem_sci.kernels.downsample`);
        breaks (NaN runs, steps longer than ``gap``) are kept, a NaN row marks each time gap.
        Dask-backed data without NaN is downsampled out of core."""
        da = self._obj
        dim = _dim(da, dim)
        if da.ndim != 1:
            raise ArgumentError(f"downsample needs a 1-D DataArray, got dims {list(da.dims)}")
        if isinstance(gap, str):
            gap = pd.Timedelta(gap).to_timedelta64()
        idx = _indices(da[dim].values, da.data, n_out, method, gap, _sorted(da, dim))
        return with_breaks(da.isel({dim: idx}), dim, gap)

    def stats(self, freq="1h", *, dim=None, max_gap=None, quantiles=(), origin=None) -> xr.Dataset:
        """Per window of ``freq``: count, sum, min, max, mean, std, first, last, their times,
        the time-weighted mean, and the exact ``quantiles`` (as variables ``q<percent>``)."""
        da = self._obj
        dim = _dim(da, dim)
        xi, origin, width, n = _window_grid(da[dim].values, freq, origin)
        mg = None if max_gap is None else pd.Timedelta(max_gap).value
        if _is_dask(da.data):
            import dask.array as dka

            xd = dka.from_array(xi, chunks=(da.data.chunks[0],))
            res = stats_dask(xd, da.data, origin, width, n, mg)
        else:
            res = window_stats(xi, np.asarray(da.values, dtype=np.float64), origin, width, n, mg)
        t = (origin + np.arange(n, dtype=np.int64) * width).astype("datetime64[ns]")
        out = {}
        for name in STATS:
            v = res[name]
            if name in ("first_time", "last_time"):
                v = np.where(np.isnan(v), np.iinfo(np.int64).min, v + origin).astype(np.int64)
                v = v.astype("datetime64[ns]")
            out[name] = (dim, v)
        if len(quantiles):
            q = window_quantiles(xi, np.asarray(da.values, dtype=np.float64), origin, width, n,
                                 list(quantiles))
            for k, qq in enumerate(quantiles):
                out[f"q{qq * 100:g}"] = (dim, q[k])
        ds = xr.Dataset(out, coords={dim: t})
        ds.attrs.update(da.attrs)
        ds.attrs["window"] = str(pd.Timedelta(width))
        return ds


@xr.register_dataset_accessor("cantelem")
class CantelemDatasetAccessor(_Base):
    """``ds.cantelem``: the same on every numeric variable along ``dim``.

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> import cantelem_sci.accessor
    >>> t = pd.date_range("2026-01-01", periods=1000, freq="1s")
    >>> ds = xr.Dataset({"a": ("time", np.arange(1000.)), "b": ("time", np.ones(1000))},
    ...                 coords={"time": t})
    >>> ds.cantelem.stats("10min")["a"].sel(stat="max").values.tolist()
    [599.0, 999.0]
    """

    def _vars(self, dim, variables):
        ds = self._obj
        names = list(ds.data_vars) if variables is None else list(variables)
        for n in names:
            if n not in ds.data_vars:
                raise UnknownNameError("signal", n, list(ds.data_vars))
        return [n for n in names if dim in ds[n].dims and ds[n].ndim == 1
                and ds[n].dtype.kind in "biuf"]

    def downsample(self, n_out: int = 2000, method: str = "minmax_lttb", *, dim="time", gap=None,
                   variables=None) -> xr.Dataset:
        """One selection for the whole dataset: the union of each variable's ``n_out`` points
        (so the extremes of every signal survive)."""
        ds = self._obj
        dim = _dim(ds, dim)
        if isinstance(gap, str):
            gap = pd.Timedelta(gap).to_timedelta64()
        x = ds[dim].values
        srt = _sorted(ds, dim)
        sel = [_indices(x, ds[n].data, n_out, method, gap, srt) for n in self._vars(dim, variables)]
        idx = np.unique(np.concatenate(sel)) if sel else np.arange(ds.sizes[dim])
        return with_breaks(ds.isel({dim: idx}), dim, gap)

    def stats(self, freq="1h", *, dim="time", max_gap=None, quantiles=(), variables=None,
              origin=None) -> xr.Dataset:
        """Each variable becomes (``dim`` window, ``stat``); times of first/last are dropped
        here (use the DataArray accessor for them)."""
        ds = self._obj
        dim = _dim(ds, dim)
        out = {}
        for n in self._vars(dim, variables):
            s = ds[n].cantelem.stats(freq, dim=dim, max_gap=max_gap, quantiles=quantiles,
                                     origin=origin)
            s = s.drop_vars(["first_time", "last_time"])
            arr = s.to_array("stat")
            arr.attrs = dict(ds[n].attrs)
            out[n] = arr.transpose(dim, "stat")
        res = xr.Dataset(out)
        res.attrs.update(ds.attrs)
        return res
