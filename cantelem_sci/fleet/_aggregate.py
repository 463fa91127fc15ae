"""Fleet aggregates: count, min, max, mean and std per vehicle, signal and time window (the
body of :meth:`Fleet.aggregate`).

Fixed windows (``"10ms"`` ... ``"1D"``: any pandas Tick) are computed by the moments kernel
(:mod:`cantelem_sci.kernels._moments`) straight from the decoded days' arrays, one day at a
time (memory bounded by a day, not by the range), each sample's window found in integer ns.
The windows are pandas' ``resample``'s: left-closed, labelled by their start, counted from
midnight of the first sample's day (``origin="start_day"``), from the window of each
message's first sample to that of its last. Calendar windows (``"1MS"``, ``"1W"``) go through
xarray's resample.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ArgumentError
from ._grid import having

__all__ = ["aggregate", "range_stats"]

STATS = ["count", "min", "max", "mean", "std"]
_DAY = 86_400 * 10**9


def _width(freq: str) -> int | None:
    """The window in ns for a fixed frequency, None for a calendar one."""
    try:
        off = pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError) as err:
        raise ArgumentError(f"window {freq!r}: expected a pandas frequency such as '1min', "
                            f"'1h' or '1D' ({err})") from err
    # pandas 3 no longer counts Day as a Tick; it is 24 h all the same (no time zones here)
    if isinstance(off, pd.offsets.Tick) or type(off).__name__ == "Day":
        if off.nanos <= 0:
            raise ArgumentError(f"window {freq!r}: expected a positive length")
        return int(off.nanos)
    return None


def _series(parts: list[tuple[np.ndarray, dict[str, np.ndarray]]], names: list[str],
            width: int) -> dict[str, tuple[int, dict[str, np.ndarray]]]:
    """{name: (first window start ns, statistics per window)} of series sharing a time axis,
    given as consecutive parts (days)."""
    from ..kernels import moments_append, moments_create, moments_finalize

    parts = [(t, v) for t, v in parts if t.size]
    if not parts:
        return {}
    first = min(int(t.min()) for t, _ in parts)
    last = max(int(t.max()) for t, _ in parts)
    origin = first // _DAY * _DAY  # pandas' start_day
    base = origin + (first - origin) // width * width
    n = (last - base) // width + 1
    states = {s: moments_create(n) for s in names}
    for t, values in parts:
        k = (t - base) // width
        for s in names:
            moments_append(states[s], k, values[s])
    return {s: (base, moments_finalize(st)) for s, st in states.items()}


def _vehicle(fleet: Any, vehicle: str, signals: Sequence[str] | str | None, start: Any,
             end: Any, derived: Mapping[str, Any] | None,
             width: int) -> dict[str, tuple[int, dict[str, np.ndarray]]]:
    from ._derived import definitions

    names = ([signals] if isinstance(signals, str) else list(signals)) if signals else [
        s for s in fleet.signals(vehicle) if "." not in s]
    defs = definitions(fleet.derived, derived) if fleet.derived or derived else {}
    known = fleet.signals(vehicle)
    calc = [n for n in names if n in defs and n not in known]
    by_msg: dict[str, list[str]] = {}
    for m, s in fleet._resolve(vehicle, [n for n in names if n not in calc]):
        if s not in by_msg.setdefault(m, []):
            by_msg[m].append(s)
    out: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
    for m, sigs in by_msg.items():
        # a multiplexed signal stored as its group's values: its own rows, not the NaN of
        # the message's other groups (1/24 of the data for a sample cell)
        grouped = [s for s in sigs if fleet._grouped(vehicle, m, s, start, end)]
        for s in grouped:
            t, x = fleet._samples(vehicle, m, s, start, end)
            out.update(_series([(t, {s: x})], [s], width))
        rest = [s for s in sigs if s not in grouped]
        if rest:
            parts = [(t, vals) for t, vals, _, _ in fleet._message_parts(vehicle, m, rest,
                                                                         start, end)]
            out.update(_series(parts, rest, width))
    if calc:
        ds = fleet.load(vehicle, calc, start, end, derived=derived)
        for name, da in ds.data_vars.items():
            t = np.asarray(da[da.dims[0]].values).astype("datetime64[ns]").view(np.int64)
            out.update(_series([(t, {name: np.asarray(da.values, np.float64)})], [name],
                               width))
    return out


def aggregate(fleet: Any, freq: str = "1h", signals: Sequence[str] | str | None = None,
              vehicles: Iterable[str] | None = None, start: Any = None,
              end: Any = None, derived: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Per-vehicle count / min / max / mean / std (population) per window of ``freq``, as
    variables of dims (vehicle, time, stat); a window without samples counts 0 and has NaN
    statistics. Calculated signals (``derived``) are aggregated like stored ones."""
    width = _width(freq)
    if width is None:
        return _calendar(fleet, freq, signals, vehicles, start, end, derived)
    chosen = having(fleet, vehicles, signals, derived)
    # vehicles in threads: the kernel and zstd release the GIL, so each core takes one
    with ThreadPoolExecutor(max_workers=max(1, min(len(chosen), os.cpu_count() or 1))) as pool:
        found = dict(zip(chosen, pool.map(
            lambda v: _vehicle(fleet, v, signals, start, end, derived, width), chosen)))
    names = list(dict.fromkeys(n for per in found.values() for n in per))
    if not names:
        return xr.Dataset()
    labels = np.unique(np.concatenate([
        base + width * np.arange(stats["count"].shape[0], dtype=np.int64)
        for per in found.values() for base, stats in per.values()]))
    cols = {}
    for name in names:
        arr = np.full((len(chosen), labels.shape[0], len(STATS)), np.nan)
        arr[:, :, 0] = 0.0
        for i, v in enumerate(chosen):
            if name not in found[v]:
                continue
            base, stats = found[v][name]
            at = np.searchsorted(labels, base) + np.arange(stats["count"].shape[0])
            for j, s in enumerate(STATS):
                arr[i, at, j] = stats[s]
        cols[name] = (("vehicle", "time", "stat"), arr)
    res = xr.Dataset(cols, coords={"vehicle": list(chosen),
                                   "time": labels.view("datetime64[ns]"),
                                   "stat": np.array(STATS, dtype=object)})
    res.attrs["window"] = freq
    return res


def _calendar(fleet: Any, freq: str, signals: Sequence[str] | str | None,
              vehicles: Iterable[str] | None, start: Any, end: Any,
              derived: Mapping[str, Any] | None) -> xr.Dataset:
    """Calendar windows (months, weeks) through xarray's resample (flox-backed)."""
    vehicles = having(fleet, vehicles, signals, derived)
    per_vehicle = []
    for v in vehicles:
        sig = signals or [s for s in fleet.signals(v) if "." not in s]
        ds = fleet.load(v, sig, start, end, derived=derived)
        cols = {}
        for name, da in ds.data_vars.items():
            tdim = da.dims[0]
            da = da.rename({tdim: "time"}) if tdim != "time" else da
            if da.sizes["time"] == 0:
                continue
            r = da.resample(time=freq)
            parts = [r.count(), r.min(), r.max(), r.mean(), r.std()]
            stat = pd.Index(np.array(STATS, dtype=object), name="stat")
            cols[name] = xr.concat(parts, stat, coords="minimal",
                                   compat="override").transpose("time", "stat")
        if cols:
            per_vehicle.append(xr.Dataset(cols).expand_dims(vehicle=[v]))
    if not per_vehicle:
        return xr.Dataset()
    res = xr.concat(per_vehicle, "vehicle", join="outer", coords="minimal", compat="override")
    for name in res.data_vars:  # a window without samples counts 0 (its statistics are NaN)
        res[name].loc[{"stat": "count"}] = res[name].sel(stat="count").fillna(0)
    res.attrs["window"] = freq
    return res


def range_stats(fleet: Any, vehicle: str, signals: Sequence[str] | str, start: Any = None,
                end: Any = None) -> pd.DataFrame:
    """count, min, max, mean and std (population) of each signal's valid samples in
    [start, end], one row per signal: a stored signal's from its days' cached arrays as
    they are (views, no copy; :func:`~cantelem_sci.kernels.moments_of` per day, combined),
    a multiplexed one's from its own samples, a calculated one's from its series."""
    from ..kernels import moments_combine, moments_create, moments_finalize, moments_of

    names = [signals] if isinstance(signals, str) else list(signals)
    known = fleet.signals(vehicle)
    rows = []
    for name in names:
        state = moments_create(1)
        if name in known:
            (m, s), = fleet._resolve(vehicle, [name])
            if fleet._grouped(vehicle, m, s, start, end):
                pieces = [fleet._samples(vehicle, m, s, start, end)[1]]
            else:
                pieces = [vals[s] for _, vals, _, _ in fleet._message_parts(vehicle, m, [s],
                                                                            start, end)]
        else:  # calculated (or unknown: the error names the known ones)
            pieces = [fleet.series(vehicle, name, start, end)[1]]
        for x in pieces:
            state = moments_combine(state, moments_of(x))
        got = {k: float(v[0]) for k, v in moments_finalize(state).items()}
        rows.append({"signal": name, **got, "count": int(got["count"])})
    return pd.DataFrame(rows, columns=["signal", *STATS]).set_index("signal")
