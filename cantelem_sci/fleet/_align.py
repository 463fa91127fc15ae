"""Signals on another axis than time: distance driven, SOC or any monotonic signal.

For each vehicle the axis is a series over time: ``"distance"`` is the odometer's travel
since the start of the range (``Odometer``, km) or, without one, the integral of
``VehicleSpeed`` (km/h; trapezoid, steps across a gap longer than 3x its period add
nothing); ``"SOC"`` or any other name is that signal. A grid of ``points`` values spans the
range the axis covers on every vehicle (so vehicles compare over the same distance), and
each signal takes, at each grid value, its value at the first moment the axis reached it
(zero-order hold within 3x the signal's period). An axis that goes back (SOC while charging,
a wheel-speed integral does not) is read by its first passage: the running extreme.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..derived import default_hold, hold_onto
from ..errors import ArgumentError, UnknownNameError
from ._derived import definitions, derived_series
from ._grid import having

__all__ = ["align", "distance"]


def _series(fleet: Any, v: str, name: str, defs: Mapping[str, Any], start: Any, end: Any):
    if name not in fleet.signals(v) and name in defs:
        return derived_series(fleet, v, name, defs, start, end)
    return fleet.series(v, name, start, end, valid=True)


def distance(t: np.ndarray, speed_kmh: np.ndarray) -> np.ndarray:
    """Kilometres driven at each time of a speed series (km/h): the trapezoid integral, a
    step longer than 3x the median period adding nothing.

    Example
    -------
    >>> t = np.arange(4) * 3_600_000_000_000 // 60        # a minute apart
    >>> distance(t, np.array([60.0, 60.0, 60.0, 60.0]))   # 1 km a minute
    array([0., 1., 2., 3.])
    """
    if t.size < 2:
        return np.zeros(t.shape)
    dt_h = np.diff(t) / 3.6e12
    inc = (speed_kmh[1:] + speed_kmh[:-1]) / 2 * dt_h
    inc[np.diff(t) > default_hold(t)] = 0.0
    return np.concatenate([[0.0], np.cumsum(inc)])


def _axis(fleet: Any, v: str, by: str, defs: Mapping[str, Any], start: Any, end: Any):
    if by == "distance":
        have = fleet.signals(v)
        if "Odometer" in have:
            t, odo = _series(fleet, v, "Odometer", defs, start, end)
            return t, odo - (odo[0] if odo.size else 0.0), "km"
        if "VehicleSpeed" in have:
            t, spd = _series(fleet, v, "VehicleSpeed", defs, start, end)
            return t, distance(t, spd), "km"
        raise UnknownNameError(f"signal of vehicle {v} for a distance axis (Odometer or "
                               "VehicleSpeed)", "distance", sorted(have))
    t, x = _series(fleet, v, by, defs, start, end)
    return t, x, fleet.signal_info(v, by).get("units") if by in fleet.signals(v) else (
        defs[by].unit if by in defs else None)


def align(fleet: Any, vehicles: Iterable[str] | None, signals: Sequence[str] | str,
          by: str = "distance", points: int = 1000, start: Any = None, end: Any = None,
          derived: Mapping[str, Any] | None = None) -> xr.Dataset:
    """A (vehicle, ``by``) Dataset of ``signals`` (see the module docstring)."""
    names = [signals] if isinstance(signals, str) else list(signals)
    if not isinstance(points, (int, np.integer)) or points < 2:
        raise ArgumentError(f"align: points {points!r}, expected an integer >= 2")
    defs = definitions(fleet.derived, derived)
    vs = having(fleet, vehicles, names + ([] if by == "distance" else [by]), derived)
    axes, unit = {}, None
    for v in vs:
        fleet._check_vehicle(v)
        t, x, unit = _axis(fleet, v, by, defs, start, end)
        if t.size:
            axes[v] = (t, x)
    if not axes:
        return xr.Dataset(coords={"vehicle": list(vs), by: np.zeros(0)})
    down = {v: x[-1] < x[0] for v, (_, x) in axes.items()}
    if len(set(down.values())) > 1:
        raise ArgumentError(f"align by {by}: it rises on some vehicles and falls on others "
                            f"({', '.join(v for v, d in down.items() if d)} fall)")
    fall = next(iter(down.values()))
    lo = max(min(x[0], x[-1]) for _, x in axes.values())
    hi = min(max(x[0], x[-1]) for _, x in axes.values())
    grid = np.linspace(hi, lo, points) if fall else np.linspace(lo, hi, points)
    out = {n: np.full((len(vs), points), np.nan) for n in names}
    for i, v in enumerate(vs):
        if v not in axes:
            continue
        t, x = axes[v]
        reach = np.maximum.accumulate(-x if fall else x)  # first passage of each value
        k = np.searchsorted(reach, -grid if fall else grid, side="left")
        ok = k < t.size
        when = t[np.minimum(k, t.size - 1)]
        for n in names:
            ts, xs = _series(fleet, v, n, defs, start, end)
            vals = hold_onto(when, ts, xs, default_hold(ts)) if ts.size else np.full(
                when.shape, np.nan)
            out[n][i] = np.where(ok, vals, np.nan)
    ds = xr.Dataset({n: (("vehicle", by), a) for n, a in out.items()},
                    coords={"vehicle": list(vs), by: grid})
    ds[by].attrs["units"] = unit
    ds.attrs.update({"by": by, "points": points})
    return ds
