"""Reading decoded vehicle-days: the parts of the days in range, their groups opened lazily once,
and whole variables held in an LRU cache of ``cache_bytes``; the base of :class:`Fleet`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._direct import read_signal, read_times, signal_attrs
from ._parts import day_key, parts_of

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
    ``_meta``, ``_arrays``, ``_cache_lock`` and ``cache_bytes`` are the Fleet's)."""

    def _day_keys(self, vehicle: str, message: str, start, end) -> list[str]:
        """Store keys of the decoded parts holding ``message`` in range, in time order."""
        t0, t1 = _ts(start), _ts(end)
        out = []
        for date, cur in self._days(vehicle):
            for part in parts_of(cur):
                info = part["messages"].get(message)
                if not info or not info["frames"]:
                    continue
                if t0 is not None and info["end_ns"] < t0.value:
                    continue
                if t1 is not None and info["start_ns"] > t1.value:
                    continue
                out.append(f"{day_key(vehicle, date)}/{part['name']}.zarr")
        return out

    def _opened(self, key: str, message: str) -> xr.Dataset:
        if (key, message) not in self._open:  # opened once: metadata and time index
            self._open[(key, message)] = self.store.open_zarr(key, group=message, chunks={})
        return self._open[(key, message)]

    def _day_parts(self, vehicle: str, message: str, start, end) -> list[tuple[str, xr.Dataset]]:
        """(store key, lazily opened group) of each decoded day of ``message`` in range."""
        return [(key, self._opened(key, message))
                for key in self._day_keys(vehicle, message, start, end)]

    def _values(self, key: str, message: str, ds: xr.Dataset, var: str) -> np.ndarray:
        """A whole variable of one decoded day, in memory (LRU, ``cache_bytes`` in total)."""
        return self._cached((key, message, var), lambda: np.asarray(ds[var].values))

    def _cached(self, k: tuple[str, str, str], load) -> np.ndarray | None:
        """``load()`` through the LRU cache of whole arrays (None is not cached)."""
        with self._cache_lock:
            if k in self._arrays:
                self._arrays.move_to_end(k)
                return self._arrays[k]
        a = load()
        if a is None:
            return None
        a.flags.writeable = False  # handed out as views: no caller may change the cache
        with self._cache_lock:
            if k not in self._arrays:
                self._arrays[k] = a
                self._cached_bytes += a.nbytes
            while self._cached_bytes > self.cache_bytes and len(self._arrays) > 1:
                _, old = self._arrays.popitem(last=False)
                self._cached_bytes -= old.nbytes
        return a

    def _direct_day(self, key: str, message: str, sigs: list[str]):
        """(time ns, {signal: values}, attrs) of a local store's day read from its files
        (:mod:`._direct`), or None where xarray must open it."""
        if not getattr(self.store, "local", False):
            return None
        group = Path(self.store.uri(key)) / message
        t = self._cached((key, message, "\0time"), lambda: read_times(group))
        if t is None:
            return None
        attrs, vals = {}, {}
        for s in sigs:
            if (key, message, s) not in self._meta:
                self._meta[(key, message, s)] = signal_attrs(group, s)
            attrs[s] = self._meta[(key, message, s)]
            v = None if attrs[s] is None else self._cached((key, message, s),
                                                          lambda s=s: read_signal(group, s))
            if v is None or v.shape != t.shape:
                return None
            vals[s] = v
        return t, vals, attrs

    def _message_parts(self, vehicle: str, message: str, sigs: list[str], start, end):
        """Per decoded day in range: (time ns, {signal: values}, attrs, ordered) in [start,
        end], views of the caches."""
        t0, t1 = _ts(start), _ts(end)
        for key in self._day_keys(vehicle, message, start, end):
            direct = self._direct_day(key, message, sigs)
            if direct is not None:
                t, vals, attrs = direct
                if (key, message, "\0ordered") not in self._meta:
                    self._meta[(key, message, "\0ordered")] = bool((t[1:] >= t[:-1]).all())
                ordered = self._meta[(key, message, "\0ordered")]
            else:
                ds = self._opened(key, message)
                index = ds.indexes["time"]
                t = index.values.view("int64")
                vals = {s: self._values(key, message, ds, s) for s in sigs}
                attrs = {s: dict(ds[s].attrs) for s in sigs}
                ordered = index.is_monotonic_increasing  # cached by pandas
            i0 = 0 if t0 is None else int(np.searchsorted(t, t0.value, side="left"))
            i1 = t.size if t1 is None else int(np.searchsorted(t, t1.value, side="right"))
            yield t[i0:i1], {s: v[i0:i1] for s, v in vals.items()}, attrs, ordered

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
        if not ds.indexes["time"].is_monotonic_increasing:  # parts overlapping in time
            ds = ds.sortby("time")
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
