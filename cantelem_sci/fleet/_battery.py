"""Battery analytics from decoded signals: charge sessions and trip summaries.

A charge session is a run of pack-current samples below ``-min_current`` (current into the
pack) while the vehicle stands (``VehicleSpeed`` at most 0.5 km/h, or unknown), without a
gap longer than 3x the current's period, lasting at least ``min_duration``. Energy is the
trapezoid integral of ``PackVoltage * PackCurrent`` (kWh, positive out of the pack); Ah
throughput the integral of ``|PackCurrent|``. Both are computed on the fly from the decoded
store for the range asked for (they are not stored).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..derived import default_hold, hold_onto
from ._align import distance
from ._derived import clean, derived_series

__all__ = ["charge_sessions", "runs", "trip_summary"]

NS_PER_H = 3.6e12


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
    ts, xs = clean(*fleet.series(v, name, start, end))
    return hold_onto(t, ts, xs, default_hold(ts)) if ts.size else np.full(t.shape, np.nan)


def _pack(fleet: Any, v: str, start: Any, end: Any):
    t, i = clean(*fleet.series(v, "PackCurrent", start, end))
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


def trip_summary(fleet: Any, vehicle: str, hot_c: float = 45.0) -> pd.DataFrame:
    """One row per trip of ``vehicle`` (:meth:`Fleet.trips`): start, end, distance_km,
    energy_kwh (out of the pack, net of regeneration), charged_kwh (its charge sessions),
    wh_per_km (driving energy per km), ah, max_cell_temp, seconds_above_hot (CellTempMax
    above ``hot_c``), max_cell_spread_mv (the calculated CellSpread, when defined), min_soc."""
    calc = fleet.derived_for(vehicle)
    out = []
    for tr in fleet.trips(vehicle).to_dict("records"):
        t0, t1 = tr["start"], tr["end"]
        t, i, u = _pack(fleet, vehicle, t0, t1)
        ok = np.diff(t) <= default_hold(t) if t.size > 1 else np.zeros(0, bool)
        if "Odometer" in fleet.signals(vehicle):
            to, odo = clean(*fleet.series(vehicle, "Odometer", t0, t1))
            km = float(odo[-1] - odo[0]) if odo.size else 0.0
        else:
            ts, spd = clean(*fleet.series(vehicle, "VehicleSpeed", t0, t1))
            km = float(distance(ts, spd)[-1]) if ts.size else 0.0
        charged = charge_sessions(fleet, vehicle, t0, t1)
        net = _trapz_h(t, u * i / 1000, ok)
        drive = net + float(charged["energy_kwh"].sum())  # the charging taken out again
        soc = clean(*fleet.series(vehicle, "SOC", t0, t1))[1] if "SOC" in fleet.signals(
            vehicle) else np.zeros(0)
        tt, temp = clean(*fleet.series(vehicle, "CellTempMax", t0, t1)) if "CellTempMax" in \
            fleet.signals(vehicle) else (np.zeros(0, np.int64), np.zeros(0))
        spread = derived_series(fleet, vehicle, "CellSpread", calc, t0, t1)[1] \
            if "CellSpread" in calc else np.zeros(0)
        out.append({"vehicle": vehicle, "trip_id": tr["trip_id"], "start": t0, "end": t1,
                    "distance_km": km, "energy_kwh": net,
                    "charged_kwh": float(charged["energy_kwh"].sum()),
                    "wh_per_km": drive * 1000 / km if km > 0.1 else np.nan,
                    "ah": _trapz_h(t, np.abs(i), ok),
                    "max_cell_temp": float(temp.max()) if temp.size else np.nan,
                    "seconds_above_hot": _time_above(tt, temp, hot_c),
                    "max_cell_spread_mv": float(np.nanmax(spread)) if np.isfinite(
                        spread).any() else np.nan,
                    "min_soc": float(soc.min()) if soc.size else np.nan})
    return pd.DataFrame(out)
