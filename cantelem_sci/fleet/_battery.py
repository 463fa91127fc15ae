"""Battery analytics from decoded signals: charge sessions and trip summaries.

A charge session is a run of pack-current samples below ``-min_current`` (current into the
pack) while the vehicle stands (``VehicleSpeed`` at most 0.5 km/h, or unknown), without a
gap longer than 3x the current's period, lasting at least ``min_duration``. Energy is the
trapezoid integral of ``PackVoltage * PackCurrent`` (kWh, positive out of the pack); Ah
throughput the integral of ``|PackCurrent|``. The hottest module is the module temperature
signal (``Module*Temp`` by default) with the highest value in the trip.

Charge sessions are computed on the fly for the range asked for; trip summaries are also
stored by the decode job (:mod:`._summaries`).
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import pandas as pd

from ..derived import default_hold, hold_onto
from ._align import distance
from ._derived import derived_series

__all__ = ["HOT_C", "SUMMARY_COLUMNS", "charge_sessions", "runs", "summarize_trip"]

NS_PER_H = 3.6e12
SUMMARY_COLUMNS = ["vehicle", "trip_id", "start", "end", "distance_km", "energy_kwh",
                   "charged_kwh", "wh_per_km", "ah", "max_cell_temp", "seconds_above_hot",
                   "hottest_module", "hottest_module_temp", "max_cell_spread_mv", "min_soc"]
MODULES = "Module*Temp"
#: the cell temperature (°C) a trip's ``seconds_above_hot`` counts above, by default
HOT_C = 45.0


def runs(t: np.ndarray, on: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """``[(first, last)]`` sample indices of the runs of ``on``; a step longer than
    ``max_gap`` ns ends a run.

    Example
    -------
    >>> runs(np.arange(6) * 10, np.array([0, 1, 1, 0, 1, 1], bool), 10)
    [(1, 2), (4, 5)]
    """
    if not t.size:
        return []
    brk = np.r_[True, np.diff(t) > max_gap]  # a run starts here even if the last one was on
    first = on & (brk | np.r_[True, ~on[:-1]])
    last = on & np.r_[brk[1:] | ~on[1:], True]
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(first), np.flatnonzero(last))]


def _trapz_h(t: np.ndarray, x: np.ndarray, ok: np.ndarray) -> float:
    """Integral of ``x`` over hours, steps where ``ok`` is False (gaps) left out."""
    if t.size < 2:
        return 0.0
    inc = (x[1:] + x[:-1]) / 2 * (np.diff(t) / NS_PER_H)
    return float(np.nansum(np.where(ok, inc, 0.0)))


def _held(fleet: Any, v: str, name: str, t: np.ndarray, start: Any, end: Any) -> np.ndarray:
    if name not in fleet.signals(v):
        return np.full(t.shape, np.nan)
    ts, xs = fleet.series(v, name, start, end, valid=True)
    return hold_onto(t, ts, xs, default_hold(ts)) if ts.size else np.full(t.shape, np.nan)


def _series(fleet: Any, v: str, name: str, start: Any, end: Any):
    """``(t, x)`` without NaN; empty when ``v`` has no such signal (a vehicle without a
    pack, or without module temperatures)."""
    if name not in fleet.signals(v):
        return np.zeros(0, np.int64), np.zeros(0)
    return fleet.series(v, name, start, end, valid=True)


def _pack(fleet: Any, v: str, start: Any, end: Any):
    t, i = _series(fleet, v, "PackCurrent", start, end)
    return t, i, _held(fleet, v, "PackVoltage", t, start, end)


def charge_sessions(fleet: Any, vehicle: str, start: Any = None, end: Any = None,
                    min_current: float = 5.0, min_duration: Any = "60s") -> pd.DataFrame:
    """One row per charge session of ``vehicle`` in [start, end] (see the module docstring):
    start, end, duration, energy_kwh (into the pack), ah, soc_start, soc_end,
    max_current_a, cell_temp_max."""
    cols = ["vehicle", "start", "end", "duration", "energy_kwh", "ah", "soc_start", "soc_end",
            "max_current_a", "cell_temp_max"]
    t, i, u = _pack(fleet, vehicle, start, end)
    if t.size < 2:
        return pd.DataFrame(columns=cols)
    gap = default_hold(t)
    speed = _held(fleet, vehicle, "VehicleSpeed", t, start, end)
    soc = _held(fleet, vehicle, "SOC", t, start, end)
    temp = _held(fleet, vehicle, "CellTempMax", t, start, end)
    on = (i < -min_current) & ~(speed > 0.5)
    rows = []
    for a, b in runs(t, on, gap):
        if t[b] - t[a] < pd.Timedelta(min_duration).value:
            continue
        s = slice(a, b + 1)
        ok = np.diff(t[s]) <= gap
        rows.append({"vehicle": vehicle, "start": pd.Timestamp(int(t[a])),
                     "end": pd.Timestamp(int(t[b])), "duration": pd.Timedelta(int(t[b] - t[a])),
                     "energy_kwh": -_trapz_h(t[s], u[s] * i[s] / 1000, ok),
                     "ah": _trapz_h(t[s], np.abs(i[s]), ok),
                     "soc_start": soc[a], "soc_end": soc[b], "max_current_a": float(-i[s].min()),
                     "cell_temp_max": float(np.nanmax(temp[s])) if np.isfinite(temp[s]).any()
                     else np.nan})
    return pd.DataFrame(rows, columns=cols)


def _time_above(t: np.ndarray, x: np.ndarray, limit: float) -> float:
    """Seconds with ``x`` above ``limit``, each sample held until the next within 3x the
    period (a gap counts nothing)."""
    if t.size < 2:
        return 0.0
    dt = np.diff(t)
    keep = (x[:-1] > limit) & (dt <= default_hold(t))
    return float(dt[keep].sum() / 1e9)


def _hottest(fleet: Any, v: str, t0: Any, t1: Any, modules: str) -> tuple[str | None, float]:
    best: tuple[str | None, float] = (None, np.nan)
    for name in sorted(n for n in fleet.signals(v) if "." not in n
                       and fnmatch.fnmatchcase(n, modules)):
        x = _series(fleet, v, name, t0, t1)[1]
        if x.size and not (x.max() <= best[1]):  # the first module wins a tie
            best = (name, float(x.max()))
    return best


def summarize_trip(fleet: Any, vehicle: str, trip: dict[str, Any], hot_c: float = HOT_C,
                   modules: str = MODULES) -> dict[str, Any]:
    """The summary of one trip (a row of :meth:`Fleet.trips`): start, end, distance_km,
    energy_kwh (out of the pack, net of regeneration), charged_kwh (its charge sessions),
    wh_per_km (driving energy per km), ah, max_cell_temp, seconds_above_hot (CellTempMax
    above ``hot_c``), hottest_module and its temperature (the ``modules`` signal reading
    highest), max_cell_spread_mv (the calculated CellSpread, when defined), min_soc."""
    calc = fleet.derived_for(vehicle)
    t0, t1 = trip["start"], trip["end"]
    t, i, u = _pack(fleet, vehicle, t0, t1)
    ok = np.diff(t) <= default_hold(t) if t.size > 1 else np.zeros(0, bool)
    if "Odometer" in fleet.signals(vehicle):
        odo = _series(fleet, vehicle, "Odometer", t0, t1)[1]
        km = float(odo[-1] - odo[0]) if odo.size else 0.0
    else:
        ts, spd = _series(fleet, vehicle, "VehicleSpeed", t0, t1)
        km = float(distance(ts, spd)[-1]) if ts.size else 0.0
    charged = float(charge_sessions(fleet, vehicle, t0, t1)["energy_kwh"].sum())
    net = _trapz_h(t, u * i / 1000, ok) if t.size else np.nan
    soc = _series(fleet, vehicle, "SOC", t0, t1)[1]
    tt, temp = _series(fleet, vehicle, "CellTempMax", t0, t1)
    spread = derived_series(fleet, vehicle, "CellSpread", calc, t0, t1)[1] \
        if "CellSpread" in calc else np.zeros(0)
    module, module_c = _hottest(fleet, vehicle, t0, t1, modules)
    return {"vehicle": vehicle, "trip_id": trip["trip_id"], "start": t0, "end": t1,
            "distance_km": km, "energy_kwh": net, "charged_kwh": charged,
            "wh_per_km": (net + charged) * 1000 / km if km > 0.1 else np.nan,
            "ah": _trapz_h(t, np.abs(i), ok) if t.size else np.nan,
            "max_cell_temp": float(temp.max()) if temp.size else np.nan,
            "seconds_above_hot": _time_above(tt, temp, hot_c),
            "hottest_module": module, "hottest_module_temp": module_c,
            "max_cell_spread_mv": float(np.nanmax(spread)) if np.isfinite(spread).any()
            else np.nan,
            "min_soc": float(soc.min()) if soc.size else np.nan}
