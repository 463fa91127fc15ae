"""Trip summaries stored in the fleet store, kept up to date by the decode job.

``summaries/vehicle=<id>/trips.parquet`` holds one row per trip (the columns of
:data:`._battery.SUMMARY_COLUMNS`) and an ``inputs`` digest: the summary rules, the
threshold and module pattern, the trip's bounds, the raw segments it overlaps, how its days
were decoded (DBC, format), and the calculated signal it reads. A row is computed again
only when its digest changes, so the decode job's summary step costs the trips its new
segments touched, and a changed DBC or ``derived:`` section refreshes exactly the rows it
affects.

Reading (:func:`trip_summary`) takes the stored rows whose digest still holds and computes
the others on the fly: the answer is right whether or not the job has run since.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pandas as pd

from ._battery import HOT_C, MODULES, SUMMARY_COLUMNS, summarize_trip
from ._job import DECODE_RULES
from ._store import Store

__all__ = ["summarize_vehicle", "summary_key", "trip_summary"]

#: part of every digest: a change in how a summary is computed recomputes every row
SUMMARY_RULES = "trip-summary/2"


def summary_key(vehicle: str) -> str:
    return f"summaries/vehicle={vehicle}/trips.parquet"


def _digest(fleet: Any, vehicle: str, trip: dict[str, Any], settings: dict[str, Any],
            days: dict[str, dict]) -> str:
    """What a trip's summary is made of: the raw segments overlapping it (by checksum), how
    the days it spans were decoded (DBC, decoder format), the calculated signal it reads
    and the summary's own settings. Another trip's new segment on the same day changes
    none of them."""
    s, e = trip["start"].value, trip["end"].value
    segs = sorted(g["sha256"] for g in fleet._index.get(vehicle, {}).get("segments", [])
                  if g["start_ns"] <= e and g["end_ns"] >= s)
    dates = (f"{x:%Y-%m-%d}" for x in pd.date_range(trip["start"].normalize(),
                                                    trip["end"].normalize(), freq="D"))
    doc = {"rules": [SUMMARY_RULES, DECODE_RULES], **settings, "start": s, "end": e,
           "segments": segs,
           "days": {d: [days.get(d, {}).get(k) for k in ("dbc_sha256", "format")]
                    for d in dates}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


def _stored(store: Store, vehicle: str) -> pd.DataFrame | None:
    try:
        return pd.read_parquet(io.BytesIO(store.read_bytes(summary_key(vehicle))))
    except FileNotFoundError:
        return None


def _rows(fleet: Any, vehicle: str, hot_c: float, modules: str,
          old: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """Every trip's summary with its digest, the rows of ``old`` (the stored table) reused
    where the digest holds; how many were computed."""
    days = dict(fleet._days(vehicle))
    calc = fleet.derived_for(vehicle)
    settings = {"hot_c": float(hot_c), "modules": modules,  # the same for every trip
                "derived": {n: calc[n].expr.text for n in ("CellSpread",) if n in calc}}
    kept = {} if old is None else {r["trip_id"]: r for r in old.to_dict("records")}
    rows, computed = [], 0
    for trip in fleet.trips(vehicle).to_dict("records"):
        digest = _digest(fleet, vehicle, trip, settings, days)
        row = kept.get(trip["trip_id"])
        if row is None or row.get("inputs") != digest:
            row = {**summarize_trip(fleet, vehicle, trip, hot_c, modules), "inputs": digest}
            computed += 1
        rows.append(row)
    df = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, "inputs"])
    return df.astype({"start": "datetime64[ns]", "end": "datetime64[ns]",
                      "hottest_module": object}), computed


def trip_summary(fleet: Any, vehicle: str, hot_c: float = HOT_C,
                 modules: str = MODULES) -> pd.DataFrame:
    """One row per trip of ``vehicle`` (see :func:`._battery.summarize_trip`): stored rows
    that are up to date, the rest computed now (and not written).

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> fleet = ct.open_fleet(tempfile.mkdtemp())
    >>> list(trip_summary(fleet, "EV0001").columns[:4])   # no data: no rows
    ['vehicle', 'trip_id', 'start', 'end']
    """
    if vehicle not in fleet.vehicles:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    old = _stored(fleet.store, vehicle)
    return _rows(fleet, vehicle, hot_c, modules, old)[0].drop(columns="inputs")


def summarize_vehicle(store_url: str, storage_options: dict, catalog: Any,
                      vehicle: str) -> dict[str, Any]:
    """Bring ``vehicle``'s stored trip summaries up to date (a task of the decode job, run on
    a dask worker); returns the vehicle, the trips computed and kept, and the table written
    (None when nothing changed)."""
    import dask

    from ._fleet import Fleet

    fleet = Fleet(Store(store_url, storage_options), catalog, refresh=False)
    # reads in this task's own thread: dask.compute on a worker would otherwise send every
    # array read to the cluster as a task of its own
    old = _stored(fleet.store, vehicle)
    with dask.config.set(scheduler="synchronous"):
        df, computed = _rows(fleet, vehicle, HOT_C, MODULES, old)
    changed = computed or old is None or list(old["trip_id"]) != list(df["trip_id"])
    if changed:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        fleet.store.write_bytes(summary_key(vehicle), buf.getvalue())
    return {"vehicle": vehicle, "computed": computed, "kept": len(df) - computed,
            "written": summary_key(vehicle) if changed else None}
