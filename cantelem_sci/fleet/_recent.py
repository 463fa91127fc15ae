"""Queries beside the decoded store: the newest frames decoded on the fly (the live view),
the OBD-II ECUs a vehicle's days found, and which GPS a track comes from."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..decoder import GPS_NODE, decode_vehicle, release_tree
from ..errors import UnknownNameError
from ..frames import FrameBatch
from ._index import refresh_vehicle

__all__ = ["ecus", "gps_signals", "recent"]


def recent(fleet: Any, vehicle: str, signals: Sequence[str] | str, window: Any = "60s"
           ) -> xr.Dataset:
    """The newest frames of ``vehicle`` decoded on the fly (see :meth:`Fleet.recent`)."""
    if isinstance(signals, str):
        signals = [signals]
    # only this vehicle's index and decoded days: the array caches stay (called every second)
    fleet._index[vehicle] = refresh_vehicle(fleet.store, vehicle, fleet.trip_gap.value)
    fleet._days_cache.pop(vehicle, None)
    batches = []
    decoded_end = max((m["end_ns"] or 0 for _, cur in fleet._days(vehicle)
                       for m in cur["messages"].values()), default=0)
    for seg in fleet._index.get(vehicle, {}).get("segments", []):
        if seg["end_ns"] > decoded_end:
            batches.append(fleet.store.read_frames(seg["key"]))
    batches.append(fleet.store.journal_frames(vehicle))  # (a local logger's spool)
    frames = FrameBatch.concat(batches) if batches else FrameBatch.empty()
    newest = int(frames.time.max()) if len(frames) else None
    if newest is None:
        ds = xr.Dataset()
        ds.attrs["newest"] = None
        return ds
    w = pd.Timedelta(window).value
    frames = frames.take(np.flatnonzero(frames.time >= newest - w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = decode_vehicle(frames, fleet.catalog.database(vehicle),
                              fleet.catalog.group_for(vehicle).protocols)
    out = {}
    for sig in signals:
        for name, node in tree.children.items():
            if sig in node.dataset.data_vars:
                da = node.dataset[sig]
                out[sig] = da.rename({"time": f"time_{name}"})
                break
    release_tree(tree)  # the live view decodes every tick: the rest is freed now
    ds = xr.Dataset(out)
    ds.attrs.update({"vehicle": vehicle, "newest": pd.Timestamp(newest)})
    return ds


def ecus(fleet: Any, vehicle: str) -> pd.DataFrame:
    """One row per ECU (see :meth:`Fleet.ecus`)."""
    fleet._check_vehicle(vehicle)
    rows: dict[str, dict[str, Any]] = {}
    for date, cur in fleet._days(vehicle):
        for ecu, info in (cur.get("obd2") or {}).items():
            r = rows.setdefault(ecu, {"ecu": ecu, "first_day": date, "supported_pids": set(),
                                      "negative": {}, "problems": {}})
            r["last_day"] = date
            for k in ("channel", "VIN", "ECUName", "CalibrationID"):
                if info.get(k):
                    r[k] = info[k]
            r["supported_pids"] |= set(info.get("supported_pids", []))
            for k in ("negative", "problems"):
                for name, n in (info.get(k) or {}).items():
                    r[k][name] = r[k].get(name, 0) + int(n)
    cols = ["ecu", "channel", "VIN", "ECUName", "CalibrationID", "supported_pids", "negative",
            "problems", "first_day", "last_day"]
    out = pd.DataFrame([{**r, "supported_pids": sorted(r["supported_pids"])}
                        for _, r in sorted(rows.items())], columns=cols)
    return out


def gps_signals(fleet: Any, vehicle: str, source: str = "auto") -> list[str]:
    """``[latitude, longitude]`` signal names of ``vehicle`` for ``source`` (see
    :meth:`Fleet.gps_track`)."""
    msgs = fleet.messages(vehicle)
    nmea = GPS_NODE in msgs
    dbc = [m for m, sigs in msgs.items()
           if m != GPS_NODE and {"Latitude", "Longitude"} <= set(sigs)]
    if source not in ("auto", "nmea", "dbc"):
        raise UnknownNameError("GPS source", source, ["auto", "nmea", "dbc"])
    if source == "nmea" or (source == "auto" and nmea):
        if not nmea:
            raise UnknownNameError(f"GPS of vehicle {vehicle} (no NMEA fixes recorded)", "nmea",
                                   ["dbc"] if dbc else [])
        return [f"{GPS_NODE}.Latitude", f"{GPS_NODE}.Longitude"]
    if not dbc:
        raise UnknownNameError(f"GPS of vehicle {vehicle} (no DBC message with Latitude and "
                               "Longitude)", source, ["nmea"] if nmea else [])
    return [f"{dbc[0]}.Latitude", f"{dbc[0]}.Longitude"]
