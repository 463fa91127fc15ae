"""NMEA GPS fixes (the ``gps`` group of raw segments) as a decoded node like a message's.

The edge logger's GPS source parses NMEA 0183 (GGA position, RMC speed, course and date)
into fixes; here a day's fixes become the ``GPS`` node: ``Latitude``, ``Longitude`` (deg),
``Altitude`` (m), ``Speed`` (km/h), ``Course`` (deg), ``FixQuality`` (GGA quality: 1 GPS,
2 DGPS, 4 RTK fixed, ...), ``Satellites`` and ``HDOP``, on the fixes' own time axis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["GPS_NODE", "GPS_SIGNALS", "gps_dataset", "merge_fixes"]

GPS_NODE = "GPS"
#: fix field -> (signal, units, minimum, maximum, comment)
GPS_SIGNALS = {
    "latitude": ("Latitude", "deg", -90.0, 90.0, "WGS 84 latitude (GGA)"),
    "longitude": ("Longitude", "deg", -180.0, 180.0, "WGS 84 longitude (GGA)"),
    "altitude": ("Altitude", "m", -1000.0, 20000.0, "altitude above mean sea level (GGA)"),
    "speed": ("Speed", "km/h", 0.0, 1000.0, "speed over ground (RMC)"),
    "course": ("Course", "deg", 0.0, 360.0, "course over ground, true (RMC)"),
    "fix_quality": ("FixQuality", "", 0.0, 8.0, "GGA fix quality: 1 GPS, 2 DGPS, 4 RTK"),
    "satellites": ("Satellites", "", 0.0, 99.0, "satellites in use (GGA)"),
    "hdop": ("HDOP", "", 0.0, 99.99, "horizontal dilution of precision (GGA)"),
}


def _check(fixes: Any, where: str) -> None:
    if fixes is None:
        return
    if not isinstance(fixes, dict) or "time" not in fixes:
        raise ArgumentError(f"{where}: expected fixes as a dict of arrays with 'time' (int64 ns) "
                            f"and {', '.join(GPS_SIGNALS)}, got "
                            f"{sorted(fixes) if isinstance(fixes, dict) else type(fixes).__name__}")
    n = len(fixes["time"])
    bad = [k for k, v in fixes.items() if len(v) != n]
    if bad:
        raise ArgumentError(f"{where}: fields {', '.join(bad)} differ in length from 'time' ({n})")


def merge_fixes(parts: Sequence[dict[str, np.ndarray] | None], start_ns: int | None = None,
                end_ns: int | None = None, own: Sequence[bool] | None = None
                ) -> dict[str, np.ndarray] | None:
    """Fixes of several segments in time order, each time once (the first segment's), within
    [start, end). With ``own`` (one flag per part), only the fixes whose first copy is in an
    owned part (as :func:`~cantelem_sci.frames.order_frames` does with frames).

    Example
    -------
    >>> a = {"time": np.array([3, 1]), "latitude": np.array([3.0, 1.0])}
    >>> merge_fixes([a, {"time": np.array([1]), "latitude": np.array([1.0])}])["time"].tolist()
    [1, 3]
    >>> merge_fixes([a, {"time": np.array([1, 5]), "latitude": np.array([1.0, 5.0])}],
    ...             own=[False, True])["time"].tolist()
    [5]
    """
    for p in parts:
        _check(p, "merge_fixes")
    flags = [True] * len(parts) if own is None else list(own)
    kept = [(p, f) for p, f in zip(parts, flags) if p is not None and len(p["time"])]
    if not kept:
        return None
    parts = [p for p, _ in kept]
    keys = [k for k in parts[0] if all(k in p for p in parts)]
    cat = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in keys}
    mine = np.repeat(np.array([f for _, f in kept], bool), [len(p["time"]) for p in parts])
    t = cat["time"].astype(np.int64)
    keep = np.ones(t.size, bool)
    if start_ns is not None:
        keep &= t >= start_ns
    if end_ns is not None:
        keep &= t < end_ns
    _, first = np.unique(t[keep], return_index=True)  # sorted by time, duplicates once
    idx = np.flatnonzero(keep)[first]
    idx = idx[mine[idx]]
    return {k: v[idx] for k, v in cat.items()} if idx.size else None


def gps_dataset(fixes: dict[str, np.ndarray]) -> "xr.Dataset":
    """The ``GPS`` node of fixes (time-ordered int64 ns ``time`` and the fix fields)."""
    import xarray as xr

    _check(fixes, "gps_dataset")
    variables = {}
    for k, (name, unit, lo, hi, comment) in GPS_SIGNALS.items():
        if k not in fixes:
            continue
        v = np.asarray(fixes[k], np.float64)
        oor = int(np.count_nonzero((v < lo) | (v > hi)))
        variables[name] = ("time", v, {"units": unit, "minimum": lo, "maximum": hi,
                                       "out_of_range_count": oor, "comment": comment})
    t = np.asarray(fixes["time"], np.int64).view("datetime64[ns]")
    return xr.Dataset(variables, coords={"time": t},
                      attrs={"message": GPS_NODE, "protocol": "nmea0183",
                             "comment": "NMEA 0183 fixes recorded by the edge logger"})
