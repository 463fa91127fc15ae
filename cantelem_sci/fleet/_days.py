"""Reading decoded vehicle-days: the day folders in range, their groups opened lazily once,
and whole variables held in an LRU cache of ``cache_bytes``; the base of :class:`Fleet`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._job import day_key

__all__ = ["DecodedDays"]


def _ts(v: Any) -> pd.Timestamp | None:
    if v is None:
        return None
    t = pd.Timestamp(v)
    return t.tz_convert(None) if t.tzinfo is not None else t


def _joined(parts: list[np.ndarray], dtype: Any = np.float64) -> np.ndarray:
    """The parts end to end; one part as it is (a view of the cache, not a copy)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


class DecodedDays:
    """What :class:`Fleet` reads decoded days with (``store``, ``_days``, ``_open``,
    ``_arrays`` and ``cache_bytes`` are the Fleet's)."""

    def _day_parts(self, vehicle: str, message: str, start, end) -> list[tuple[str, xr.Dataset]]:
        """(store key, lazily opened group) of each decoded day of ``message`` in range."""
        t0, t1 = _ts(start), _ts(end)
        out = []
        for date, cur in self._days(vehicle):
            if message not in cur["messages"] or not cur["messages"][message]["frames"]:
                continue
            info = cur["messages"][message]
            if t0 is not None and info["end_ns"] < t0.value:
                continue
            if t1 is not None and info["start_ns"] > t1.value:
                continue
            key = f"{day_key(vehicle, date)}/{cur['version']}.zarr"
            if (key, message) not in self._open:  # opened once: metadata and time index
                self._open[(key, message)] = self.store.open_zarr(key, group=message, chunks={})
            out.append((key, self._open[(key, message)]))
        return out

    def _values(self, key: str, message: str, ds: xr.Dataset, var: str) -> np.ndarray:
        """A whole variable of one decoded day, in memory (LRU, ``cache_bytes`` in total)."""
        k = (key, message, var)
        if k in self._arrays:
            self._arrays.move_to_end(k)
            return self._arrays[k]
        a = np.asarray(ds[var].values)
        a.flags.writeable = False  # handed out as views: no caller may change the cache
        self._arrays[k] = a
        total = sum(v.nbytes for v in self._arrays.values())
        while total > self.cache_bytes and len(self._arrays) > 1:
            _, old = self._arrays.popitem(last=False)
            total -= old.nbytes
        return a

    def _message_parts(self, vehicle: str, message: str, sigs: list[str], start, end):
        """Per decoded day in range: (time ns, {signal: values}, attrs, ordered) in [start,
        end], views of the caches."""
        t0, t1 = _ts(start), _ts(end)
        for key, ds in self._day_parts(vehicle, message, start, end):
            index = ds.indexes["time"]
            t = index.values.view("int64")
            i0 = 0 if t0 is None else int(np.searchsorted(t, t0.value, side="left"))
            i1 = t.size if t1 is None else int(np.searchsorted(t, t1.value, side="right"))
            yield (t[i0:i1], {s: self._values(key, message, ds, s)[i0:i1] for s in sigs},
                   {s: dict(ds[s].attrs) for s in sigs},
                   index.is_monotonic_increasing)  # cached by pandas

    def _message_arrays(self, vehicle: str, message: str, sigs: list[str], start, end):
        """In-memory time (ns) and values of ``sigs`` in [start, end], from the caches."""
        times, vals = [], {s: [] for s in sigs}
        attrs: dict[str, dict] = {}
        ordered = True
        for t, values, at, mono in self._message_parts(vehicle, message, sigs, start, end):
            ordered = ordered and mono
            times.append(t)
            for s in sigs:
                vals[s].append(values[s])
            attrs.update(at)
        ordered = ordered and all(a[-1] <= b[0] for a, b in zip(times, times[1:])
                                  if a.size and b.size)
        return _joined(times, np.int64), {s: _joined(v) for s, v in vals.items()}, attrs, ordered

    def _message_data(self, vehicle: str, message: str, sigs: list[str], start, end) -> xr.Dataset:
        t0, t1 = _ts(start), _ts(end)
        parts = [ds[sigs] for _, ds in self._day_parts(vehicle, message, start, end)]
        if not parts:
            return xr.Dataset({s: ("time", np.zeros(0)) for s in sigs},
                              coords={"time": np.zeros(0, "datetime64[ns]")})
        ds = parts[0] if len(parts) == 1 else xr.concat(parts, "time", data_vars="minimal",
                                                         coords="minimal", compat="override",
                                                         join="outer")
        if t0 is not None or t1 is not None:
            ds = ds.sel(time=slice(t0, t1))
        return ds

    def _fits(self, vehicle: str, message: str, sigs: list[str]) -> bool:
        """Whether the whole message fits the in-memory cache (else: out-of-core dask path)."""
        n = sum(cur["messages"][message]["frames"] for _, cur in self._days(vehicle)
                if message in cur["messages"])
        return n * 8 * (len(sigs) + 1) <= self.cache_bytes

    def _downsampled(self, vehicle, message, sigs, start, end, max_points, method, gap):
        from ..kernels import downsample

        if isinstance(gap, str):
            gap = pd.Timedelta(gap).to_timedelta64()
        t, vals, attrs, ordered = self._message_arrays(vehicle, message, sigs, start, end)
        if t.size <= max_points:
            idx = np.arange(t.size)
        else:
            idx = np.unique(np.concatenate([downsample(t, vals[s], max_points, method, gap=gap,
                                                       assume_sorted=ordered)
                                            for s in sigs]))
        ds = xr.Dataset({s: ("time", vals[s][idx], attrs.get(s, {})) for s in sigs},
                        coords={"time": t[idx].view("datetime64[ns]")})
        if gap is not None:
            from ..accessor import with_breaks

            ds = with_breaks(ds, "time", gap)
        return ds
