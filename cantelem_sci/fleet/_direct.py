"""Decoded days of a local store read from their files: no xarray, no dask.

The decode job writes each message of a vehicle-day as a Zarr v3 group (one zstd chunk per
array). On a local store, :class:`~._days.DecodedDays` reads the time axis and float signals
straight from those files with :func:`~cantelem_sci.frames._zarr3.read_array`, decoding the
CF time encoding itself (an int64 count of a unit since a reference time). Opening the group
with xarray costs more than reading it (metadata of every array, dask graphs): ~10x for the
signals of a day. Anything these readers do not recognise (another unit, calendar or codec, a
scale, a fill value other than NaN) returns None, and the caller opens the group with xarray.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CantelemError
from ..frames import read_array
from ._compact import expand

__all__ = ["read_signal", "read_times", "signal_attrs", "time_length"]

_UNIT_NS = {"nanoseconds": 1, "microseconds": 1_000, "milliseconds": 1_000_000,
            "seconds": 1_000_000_000, "minutes": 60_000_000_000, "hours": 3_600_000_000_000,
            "days": 86_400_000_000_000}
_CALENDARS = {"proleptic_gregorian", "standard", "gregorian"}
_ENCODING = {"_FillValue", "coordinates"}  # attributes xarray takes as encoding


def _meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("node_type") == "array" else None


def _read(path: Path) -> np.ndarray | None:
    try:
        return read_array(path)
    except (CantelemError, OSError, ValueError, KeyError):
        return None


def read_times(group: Path) -> np.ndarray | None:
    """The group's ``time`` as int64 ns since the epoch, decoded as xarray decodes it, or
    None where xarray must do it.

    Example
    -------
    >>> import tempfile
    >>> from cantelem_sci.frames import write_array
    >>> g = Path(tempfile.mkdtemp())
    >>> write_array(g / "time", np.array([0, 5]), chunks=(2,), level=1,
    ...             attributes={"units": "microseconds since 2026-01-05 07:30:00"})
    >>> read_times(g).view("datetime64[ns]").astype(str).tolist()
    ['2026-01-05T07:30:00.000000000', '2026-01-05T07:30:00.000005000']
    """
    meta = _meta(group / "time")
    if meta is None or meta.get("data_type") != "int64":
        return None
    attrs = meta.get("attributes", {})
    unit, since, ref = str(attrs.get("units", "")).partition(" since ")
    if (not since or unit not in _UNIT_NS or "_FillValue" in attrs
            or attrs.get("calendar", "proleptic_gregorian") not in _CALENDARS):
        return None
    try:
        t0 = pd.Timestamp(ref)
    except ValueError:
        return None
    if t0.tzinfo is not None:
        t0 = t0.tz_convert("UTC").tz_localize(None)
    values = _read(group / "time")
    return None if values is None else values * _UNIT_NS[unit] + t0.value


def time_length(group: Path) -> int | None:
    """The length of the group's ``time`` from its metadata (None without it)."""
    meta = _meta(group / "time")
    return None if meta is None else int(meta["shape"][0])


def signal_attrs(group: Path, var: str) -> dict[str, Any] | None:
    """The attributes xarray gives the float variable ``var`` (its encoding removed), or None
    where it needs xarray's decoding (not float64, a scale, a fill value other than NaN)."""
    meta = _meta(group / var)
    if meta is None or meta.get("data_type") != "float64":
        return None
    attrs = dict(meta.get("attributes", {}))
    if "scale_factor" in attrs or "add_offset" in attrs or "dtype" in attrs:
        return None
    # a fill value masks values equal to it: only NaN (a no-op) is taken here, be it the
    # attribute (base64 in Zarr v3) or the array's own
    for fill in (attrs.get("_FillValue"), meta.get("fill_value", "NaN")):
        if fill is None:
            continue
        try:
            value = (np.frombuffer(base64.b64decode(fill), "<f8")[0]
                     if isinstance(fill, str) and fill not in ("NaN", "Infinity", "-Infinity")
                     else float(fill))
        except (ValueError, IndexError, TypeError):
            return None
        if not np.isnan(value):
            return None
    return {k: v for k, v in attrs.items() if k not in _ENCODING}


def read_signal(group: Path, var: str, rows: str | None = None) -> np.ndarray | None:
    """The values of the variable ``var`` of the group, or None; for a variable
    :func:`signal_attrs` accepts (the caller asks it once and keeps the answer). ``rows``:
    the rows coordinate of a signal stored compact (its :data:`~._compact.ROWS`
    attribute), expanded onto the group's ``time``."""
    values = _read(group / var)
    if values is None or rows is None:
        return values
    at, n = _read(group / rows), time_length(group)
    if at is None or n is None:
        return None
    return expand(values, at, n)
