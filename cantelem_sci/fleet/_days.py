"""Reading decoded vehicle-days: the parts of the days in range, their groups opened lazily once,
and whole variables held in an LRU cache of ``cache_bytes``; the base of :class:`Fleet`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._compact import ROWS, dense_dataset, dense_values, public_attrs
from ._direct import read_signal, read_times, signal_attrs, time_length
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

    def _day_groups(self, vehicle: str, message: str, start, end
                    ) -> list[tuple[str, list[str], list[str]]]:
        """Per decoded day holding ``message`` in range: (an id of the day's current
        version, the store keys of all its parts holding the message, and of those in
        range), parts in time order."""
        t0, t1 = _ts(start), _ts(end)
        out = []
        for date, cur in self._days(vehicle):
            keys, inside = [], []
            for part in parts_of(cur):
                info = part["messages"].get(message)
                if not info or not info["frames"]:
                    continue
                key = f"{day_key(vehicle, date)}/{part['name']}.zarr"
                keys.append(key)
                if t0 is not None and info["end_ns"] < t0.value:
                    continue
                if t1 is not None and info["start_ns"] > t1.value:
                    continue
                inside.append(key)
            if inside:
                out.append((f"{day_key(vehicle, date)}@{cur['version']}", keys, inside))
        return out

    def _day_keys(self, vehicle: str, message: str, start, end) -> list[str]:
        """Store keys of the decoded parts holding ``message`` in range, in time order."""
        return [k for _, _, inside in self._day_groups(vehicle, message, start, end)
                for k in inside]

    def _opened(self, key: str, message: str) -> xr.Dataset:
        if (key, message) not in self._open:  # opened once: metadata and time index
            self._open[(key, message)] = self.store.open_zarr(key, group=message, chunks={})
        return self._open[(key, message)]

    def _day_parts(self, vehicle: str, message: str, start, end) -> list[tuple[str, xr.Dataset]]:
        """(store key, lazily opened group) of each decoded part of ``message`` in range."""
        return [(key, self._opened(key, message))
                for key in self._day_keys(vehicle, message, start, end)]

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

    def _column(self, key: str, message: str, var: str) -> np.ndarray:
        """One variable of one part (``"\0time"``: its times in int64 ns), read from a local
        store's files (:mod:`._direct`) where it can, else through xarray; not cached."""
        if getattr(self.store, "local", False):
            group = Path(self.store.uri(key)) / message
            if var == "\0time":
                got = read_times(group)
            else:
                self._attrs(key, message, var)
                got = read_signal(group, var, self._meta[(key, message, var, ROWS)]) \
                    if self._meta[(key, message, var, "direct")] else None
            if got is not None:
                return got
        ds = self._opened(key, message)
        if var == "\0time":
            return ds.indexes["time"].values.view("int64")
        return dense_values(ds, var)

    def _attrs(self, key: str, message: str, sig: str) -> dict:
        """A signal's attributes in one part, as a query returns them; also noted: whether
        the direct reader reads it, and its rows coordinate when it is stored compact."""
        if (key, message, sig) not in self._meta:
            a = None
            if getattr(self.store, "local", False):
                a = signal_attrs(Path(self.store.uri(key)) / message, sig)
            self._meta[(key, message, sig, "direct")] = a is not None
            if a is None:
                a = dict(self._opened(key, message)[sig].attrs)
            self._meta[(key, message, sig, ROWS)] = a.get(ROWS)
            self._meta[(key, message, sig)] = public_attrs(a)
        return self._meta[(key, message, sig)]

    def _day_column(self, day: str, keys: list[str], message: str, var: str) -> np.ndarray:
        """A variable of a whole day (its parts end to end), through the LRU cache: a warm
        query gets views of one array per day however many parts the day has."""
        def load() -> np.ndarray:
            cols = [self._column(k, message, var) for k in keys]
            if var != "\0time" and any(c.dtype != np.float64 for c in cols):
                cols = [c.astype(np.float64) for c in cols]
            return cols[0] if len(cols) == 1 else np.concatenate(cols)
        return self._cached((day, message, var), load)

    def _part_length(self, key: str, message: str) -> int:
        """Rows of ``message`` in one part (the length of its ``time``)."""
        k = (key, message, "\0rows")
        if k not in self._meta:
            n = time_length(Path(self.store.uri(key)) / message) \
                if getattr(self.store, "local", False) else None
            self._meta[k] = n if n is not None else self._opened(key, message).sizes["time"]
        return self._meta[k]

    def _group_part(self, key: str, message: str, sig: str, what: str) -> np.ndarray:
        """The rows (``what="rows"``) or values of a signal stored as its multiplexer group's
        values in one part (:mod:`._compact`)."""
        rows = self._meta[(key, message, sig, ROWS)]
        name = rows if what == "rows" else sig
        if getattr(self.store, "local", False) and self._meta[(key, message, sig, "direct")]:
            got = read_signal(Path(self.store.uri(key)) / message, name)
            if got is not None:
                return got
        return np.asarray(self._opened(key, message)[name].values)

    def _day_group(self, day: str, keys: list[str], message: str, sig: str
                   ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(rows of the day's message, values)`` of a signal every part of the day stores
        as its multiplexer group's values, through the LRU cache; None where one holds it
        dense."""
        if not self._all_grouped(keys, message, sig):
            return None

        def rows() -> np.ndarray:
            out, base = [], 0
            for k in keys:
                out.append(self._group_part(k, message, sig, "rows").astype(np.int64) + base)
                base += self._part_length(k, message)
            return _joined(out, np.int64)

        def values() -> np.ndarray:
            return _joined([self._group_part(k, message, sig, "values").astype(np.float64)
                            for k in keys])

        return (self._cached((day, message, "\0rows of " + sig), rows),
                self._cached((day, message, "\0values of " + sig), values))

    def _all_grouped(self, keys: list[str], message: str, sig: str) -> bool:
        """Whether each of the parts ``keys`` (at least one) stores ``sig`` as its
        multiplexer group's values."""
        for k in keys:
            self._attrs(k, message, sig)
        return bool(keys) and all(self._meta[(k, message, sig, ROWS)] for k in keys)

    def _grouped(self, vehicle: str, message: str, sig: str, start, end) -> bool:
        """Whether every decoded part of ``message`` in range stores ``sig`` as its
        multiplexer group's values (:meth:`_samples` then reads only its rows)."""
        return self._all_grouped(self._day_keys(vehicle, message, start, end), message, sig)

    def _samples(self, vehicle: str, message: str, sig: str, start, end
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(time ns, values)`` of ``sig`` in [start, end] where it has a value (NaN left
        out), sorted by time (stable). A signal stored as its multiplexer group's values is
        read without the message's other rows: 1/24 of the data for a sample cell."""
        t0, t1 = _ts(start), _ts(end)
        ts, xs, ordered = [], [], True
        for whole, keys, _ in self._day_groups(vehicle, message, start, end):
            t = self._day_column(whole, keys, message, "\0time")
            mono = self._ordered(whole, message, t)
            group = self._day_group(whole, keys, message, sig)
            if group is None:
                x = self._day_column(whole, keys, message, sig)
            else:
                rows, x = group
                t = t[rows]
            if mono:
                i0 = 0 if t0 is None else int(np.searchsorted(t, t0.value, side="left"))
                i1 = t.size if t1 is None else int(np.searchsorted(t, t1.value, side="right"))
                t, x = t[i0:i1], x[i0:i1]
                keep = ~np.isnan(x)
            else:
                keep = ~np.isnan(x)
                if t0 is not None:
                    keep &= t >= t0.value
                if t1 is not None:
                    keep &= t <= t1.value
            ordered = ordered and mono
            ts.append(t[keep])
            xs.append(x[keep])
        t, x = _joined(ts, np.int64), _joined(xs)
        if not ordered or any(a[-1] > b[0] for a, b in zip(ts, ts[1:]) if a.size and b.size):
            o = np.argsort(t, kind="stable")
            t, x = t[o], x[o]
        return t, x  # the caller's own: a selection copies, the cache is not handed out

    def _ordered(self, whole: str, message: str, t: np.ndarray) -> bool:
        """Whether a day's times of ``message`` are sorted (noted once per day)."""
        if (whole, message, "\0ordered") not in self._meta:
            self._meta[(whole, message, "\0ordered")] = bool((t[1:] >= t[:-1]).all())
        return self._meta[(whole, message, "\0ordered")]

    def _message_parts(self, vehicle: str, message: str, sigs: list[str], start, end,
                       own: frozenset[str] = frozenset()):
        """Per decoded day in range: (time ns, {signal: values}, attrs, ordered) in [start,
        end], views of the caches. A signal of ``own`` whose day is stored as its group's
        values comes as ``(rows, values)``: its rows into that day's times, and its values
        there, not expanded on the message's other rows."""
        t0, t1 = _ts(start), _ts(end)
        for whole, keys, _ in self._day_groups(vehicle, message, start, end):
            t = self._day_column(whole, keys, message, "\0time")
            vals = {}
            for s in sigs:
                group = self._day_group(whole, keys, message, s) if s in own else None
                v = group if group is not None else self._day_column(whole, keys, message, s)
                if group is None and v.shape != t.shape:
                    raise RuntimeError(f"{keys[0]} {message}: {s} has {v.shape[0]} values "
                                       f"for {t.shape[0]} times")
                vals[s] = v
            attrs = {s: self._attrs(keys[0], message, s) for s in sigs}
            ordered = self._ordered(whole, message, t)
            if ordered:
                i0 = 0 if t0 is None else int(np.searchsorted(t, t0.value, side="left"))
                i1 = t.size if t1 is None else int(np.searchsorted(t, t1.value, side="right"))
                yield t[i0:i1], {s: _rows_between(v, i0, i1) if isinstance(v, tuple)
                                 else v[i0:i1] for s, v in vals.items()}, attrs, ordered
            else:  # parts overlapping in time: the samples in range, unsorted
                keep = np.ones(t.size, bool)
                if t0 is not None:
                    keep &= t >= t0.value
                if t1 is not None:
                    keep &= t <= t1.value
                yield t[keep], {s: _rows_kept(v, keep) if isinstance(v, tuple) else v[keep]
                                for s, v in vals.items()}, attrs, ordered

    def _message_arrays(self, vehicle: str, message: str, sigs: list[str], start, end,
                        own: frozenset[str] = frozenset()):
        """In-memory time (ns) and values of ``sigs`` in [start, end], from the caches; a
        signal of ``own`` as ``(rows, values)`` of its own samples: where a day stores it as
        its group's values, those (see :meth:`_message_parts`), else its rows with a value."""
        times, vals = [], {s: [] for s in sigs}
        attrs: dict[str, dict] = {}
        ordered, base = True, 0
        for t, values, at, mono in self._message_parts(vehicle, message, sigs, start, end,
                                                       own):
            ordered = ordered and mono
            times.append(t)
            for s in sigs:
                v = values[s]
                if s in own and not isinstance(v, tuple):  # stored dense
                    r = np.flatnonzero(~np.isnan(v))
                    v = (r, v[r])
                vals[s].append((v[0] + base, v[1]) if s in own else v)
            base += t.size
            attrs.update(at)
        ordered = ordered and all(a[-1] <= b[0] for a, b in zip(times, times[1:])
                                  if a.size and b.size)
        out = {s: (_joined([r for r, _ in v], np.int64), _joined([x for _, x in v]))
               if s in own else _joined(v) for s, v in vals.items()}
        return _joined(times, np.int64), out, attrs, ordered

    def _message_data(self, vehicle: str, message: str, sigs: list[str], start, end) -> xr.Dataset:
        t0, t1 = _ts(start), _ts(end)
        parts = [dense_dataset(ds, sigs)
                 for _, ds in self._day_parts(vehicle, message, start, end)]
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
        mux = frozenset(s for s in sigs
                        if self._attrs_in(vehicle, message, s).get("multiplexer")
                        == "multiplexed")
        t, vals, attrs, ordered = self._message_arrays(vehicle, message, sigs, start, end, mux)

        def picked(s: str) -> np.ndarray:
            # a multiplexed signal is downsampled over its own rows alone: the NaN of the
            # message's other multiplexer values are no breaks (its line would be a dot
            # between two NaN). Stored compact, its rows are known (a NaN there, a frame too
            # short to carry it, stays a break); stored dense, its non-NaN rows stand in.
            rows, y = vals[s] if s in mux else (None, vals[s])
            tt = t if rows is None else t[rows]
            j = np.arange(tt.size) if tt.size <= max_points else downsample(
                tt, y, max_points, method, gap=gap, assume_sorted=ordered)
            return j if rows is None else rows[j]

        idx = np.unique(np.concatenate([picked(s) for s in sigs])) if sigs else np.arange(0)

        def at_idx(s: str) -> np.ndarray:
            if s not in mux:
                return vals[s][idx]
            rows, x = vals[s]  # the signal's values on the picked rows, NaN on the others
            out = np.full(idx.size, np.nan)
            if rows.size:
                j = np.minimum(np.searchsorted(rows, idx), rows.size - 1)
                hit = rows[j] == idx
                out[hit] = x[j[hit]]
            return out

        ds = xr.Dataset({s: ("time", at_idx(s), attrs.get(s, {})) for s in sigs},
                        coords={"time": t[idx].view("datetime64[ns]")})
        if gap is not None:
            from ..accessor import with_breaks

            ds = with_breaks(ds, "time", gap)
        return ds

    def _attrs_in(self, vehicle: str, message: str, sig: str) -> dict:
        """A signal's attributes in the first decoded part of ``message`` ({} if none)."""
        keys = self._day_keys(vehicle, message, None, None)
        return self._attrs(keys[0], message, sig) if keys else {}


def _rows_between(group: tuple[np.ndarray, np.ndarray], i0: int, i1: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A compact signal's (rows, values) on the message rows [i0, i1), rows from i0."""
    rows, x = group
    j0, j1 = np.searchsorted(rows, i0), np.searchsorted(rows, i1)
    return rows[j0:j1] - i0, x[j0:j1]


def _rows_kept(group: tuple[np.ndarray, np.ndarray], keep: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """A compact signal's (rows, values) on the message rows where ``keep``, renumbered."""
    rows, x = group
    hit = keep[rows]
    return (np.cumsum(keep) - 1)[rows[hit]], x[hit]
