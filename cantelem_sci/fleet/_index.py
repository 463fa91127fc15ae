"""The segment index kept beside the data (``index/vehicle=<id>.json``), updated incrementally.

A refresh lists the vehicle prefixes of ``raw/``, then for each vehicle only the date
folders from the last indexed date on (never every object of the store). Each new segment's
manifest is read, and its ``time`` column once, to find the sessions (runs of frames without
a gap longer than ``trip_gap``) that make up trips. The index holds no timestamps of its own,
so refreshing the same data gives the same bytes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from ._store import Store

INDEX_VERSION = 1


def index_key(vehicle: str) -> str:
    return f"index/vehicle={vehicle}.json"


def list_vehicles(store: Store) -> list[str]:
    return [n[len("vehicle="):] for n in store.ls("raw") if n.startswith("vehicle=")]


def _sessions(times: np.ndarray, gap_ns: int) -> list[list[int]]:
    if times.size == 0:
        return []
    t = np.sort(times)
    cut = np.flatnonzero(np.diff(t) > gap_ns)
    starts = np.concatenate([[0], cut + 1])
    ends = np.concatenate([cut, [t.size - 1]])
    return [[int(t[s]), int(t[e])] for s, e in zip(starts, ends)]


def refresh_vehicle(store: Store, vehicle: str, gap_ns: int) -> dict[str, Any]:
    """Bring one vehicle's index up to date; return it."""
    idx = store.read_json(index_key(vehicle), default={"vehicle": vehicle, "version": INDEX_VERSION,
                                                       "segments": []})
    known = {s["key"] for s in idx["segments"]}
    dates = [d for d in store.ls(f"raw/vehicle={vehicle}") if d.startswith("date=")]
    last = max([s["date"] for s in idx["segments"]] + list(idx.get("retired", {})),
               default="")
    new_keys = []
    for d in dates:
        date = d[len("date="):]
        if date < last:
            continue
        for name in store.ls(f"raw/vehicle={vehicle}/{d}"):
            if not name.endswith(".zarr.manifest.json"):
                continue
            key = f"raw/vehicle={vehicle}/{d}/{name[: -len('.manifest.json')]}"
            if key not in known:
                new_keys.append((key, date))
                known.add(key)

    def entry_of(item: tuple[str, str]) -> dict[str, Any]:
        key, date = item
        man = store.read_json(key + ".manifest.json")
        entry = {"key": key, "date": date, "start_ns": int(man["start_ns"]),
                 "end_ns": int(man["end_ns"]), "frames": int(man["frame_count"]),
                 "sha256": man["frames_sha256"], "channels": man.get("channel_names", []),
                 "bytes": int(man.get("bytes", 0)), "gps": int(man.get("gps_count", 0))}
        if entry["gps"]:  # the fixes' own time span (older segments: the segment's)
            entry["gps_start_ns"] = int(man.get("gps_start_ns", entry["start_ns"]))
            entry["gps_end_ns"] = int(man.get("gps_end_ns", entry["end_ns"]))
        try:
            t = store.read_times(key)
            entry["sessions"] = _sessions(t, gap_ns)
        except Exception as err:  # a corrupt segment: the decode job quarantines it
            entry["sessions"] = [[entry["start_ns"], entry["end_ns"]]]
            entry["unreadable"] = f"{type(err).__name__}: {err}"
        return entry

    # manifests and time columns are read in parallel (I/O and decompression release the GIL)
    with ThreadPoolExecutor(max_workers=8) as pool:
        idx["segments"] += list(pool.map(entry_of, new_keys))
    changed = bool(new_keys)
    if changed:
        idx["segments"].sort(key=lambda s: (s["start_ns"], s["key"]))
        store.write_json(index_key(vehicle), idx)
    return idx


def refresh_index(store: Store, vehicles: list[str] | None = None,
                  trip_gap: str = "5min") -> dict[str, dict[str, Any]]:
    """Refresh the index of ``vehicles`` (default: every vehicle under ``raw/``)."""
    gap_ns = pd.Timedelta(trip_gap).value
    return {v: refresh_vehicle(store, v, gap_ns) for v in (vehicles or list_vehicles(store))}


def trips_of(idx: dict[str, Any], gap_ns: int) -> list[dict[str, Any]]:
    """Trips: sessions of consecutive segments merged when the gap is at most ``gap_ns``."""
    # days whose raw segments retention deleted keep their sessions (their decoded data stay)
    sessions = sorted([s for seg in idx["segments"] for s in seg.get("sessions", [])] +
                      [s for rec in idx.get("retired", {}).values()
                       for s in rec.get("sessions", [])])
    trips: list[list[int]] = []
    for s, e in sessions:
        if trips and s - trips[-1][1] <= gap_ns:
            trips[-1][1] = max(trips[-1][1], e)
        else:
            trips.append([s, e])
    frames = np.array([[seg["start_ns"], seg["frames"]] for seg in idx["segments"]] or [[0, 0]])
    out = []
    for s, e in trips:
        tid = f"{idx['vehicle']}-{pd.Timestamp(s):%Y%m%dT%H%M%S}"
        inside = (frames[:, 0] >= s) & (frames[:, 0] <= e)
        out.append({"vehicle": idx["vehicle"], "trip_id": tid, "start": pd.Timestamp(s),
                    "end": pd.Timestamp(e), "duration": pd.Timedelta(e - s, "ns"),
                    "segments": int(inside.sum())})
    return out
