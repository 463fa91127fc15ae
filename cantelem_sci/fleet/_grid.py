"""Fleet-wide queries on a common grid: zero-order-hold resampling (the body of
:meth:`Fleet.resample`) and the choice of vehicles that have the signals asked for."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ._days import _ts

__all__ = ["having", "resample"]


def resample(fleet: Any, freq: str, signals: Sequence[str] | str,
             vehicles: Iterable[str] | None = None,
             start: Any = None, end: Any = None, max_hold: Any = None,
             derived: Mapping[str, Any] | None = None) -> xr.Dataset:
    """A (vehicle, time) Dataset on a common grid of ``freq`` with zero-order hold: each
    grid point takes the last sample at or before it, not older than ``max_hold``
    (default: ``freq``); ``<signal>_gap`` is True where no sample qualifies."""
    vehicles = having(fleet, vehicles, signals, derived)
    hold = pd.Timedelta(max_hold or freq)
    loaded = {v: fleet.load(v, signals, start, end, derived=derived) for v in vehicles}
    starts, ends = [], []
    for ds in loaded.values():
        for d in ds.dims:
            if str(d).startswith("time") and ds.sizes[d]:
                starts.append(pd.Timestamp(ds[d].values[0]))
                ends.append(pd.Timestamp(ds[d].values[-1]))
    t0 = _ts(start) or (min(starts) if starts else None)
    t1 = _ts(end) or (max(ends) if ends else None)
    if t0 is None or t1 is None:
        grid = pd.DatetimeIndex([], name="time")
    else:
        grid = pd.date_range(pd.Timestamp(t0).floor(freq), pd.Timestamp(t1).ceil(freq),
                             freq=freq, name="time")
    per_vehicle = []
    for v, ds in loaded.items():
        cols = {}
        for name in [n for n in ds.data_vars if not n.endswith("_out_of_range")]:
            da = ds[name]
            tdim = da.dims[0]
            da = da.rename({tdim: "time"})
            if da.sizes["time"] == 0:
                vals = xr.DataArray(np.full(len(grid), np.nan), coords={"time": grid},
                                    dims="time")
            else:
                da = da.isel(time=~da.get_index("time").duplicated(keep="last"))
                vals = da.reindex(time=grid, method="ffill", tolerance=hold)
            cols[name] = vals
            cols[f"{name}_gap"] = vals.isnull()
        per_vehicle.append(xr.Dataset(cols).expand_dims(vehicle=[v]))
    res = (xr.concat(per_vehicle, "vehicle", coords="minimal", compat="override")
           if per_vehicle else xr.Dataset())
    res.attrs.update({"freq": freq, "max_hold": str(hold)})
    return res


def having(fleet: Any, vehicles: Iterable[str] | None, signals: Any,
           derived: Mapping[str, Any] | None = None) -> list[str]:
    """The vehicles named, or else every vehicle that has all ``signals`` (a mixed
    fleet: the EVs' SOC is not asked of a combustion car)."""
    if vehicles is not None:
        return list(vehicles)
    if not signals:
        return list(fleet.vehicles)
    want = [signals] if isinstance(signals, str) else list(signals)
    out = []
    for v in fleet.vehicles:
        have = set(fleet.signals(v))
        if not set(want) <= have and (fleet.derived or derived):
            have |= set(fleet.derived_for(v, derived))
        if set(want) <= have:
            out.append(v)
    return out
