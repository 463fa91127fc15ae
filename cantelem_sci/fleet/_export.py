"""CSV / Parquet export of one time-aligned table across messages."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

from ..errors import UnknownNameError

if TYPE_CHECKING:
    from ._fleet import Fleet

__all__ = ["FORMATS", "aligned_table", "export_table"]

FORMATS = ("csv", "parquet", "mf4")


def aligned_table(fleet: "Fleet", vehicle: str, sigs: list[str], start: Any, end: Any,
                  derived: Any = None, max_hold: Any = None) -> pd.DataFrame:
    """Union of timestamps; each signal held from its last sample (its own message) for at
    most ``max_hold`` (default: 3x its own median period), then empty: a gap stays a gap."""
    from ..derived import default_hold, hold_onto
    from ._derived import clean

    ds = fleet.load(vehicle, sigs, start, end, derived=derived)
    series = {}
    for name, da in ds.data_vars.items():
        tdim = da.dims[0]
        series[name] = clean(da[tdim].values.view("int64"), da.values)
    if not series:
        return pd.DataFrame(columns=["vehicle", "time", *sigs])
    times = np.unique(np.concatenate([t for t, _ in series.values()]))
    limit = None if max_hold is None else pd.Timedelta(max_hold).value
    cols = {}
    order = [n for n in sigs if n in series] + [n for n in series if n not in sigs]
    for name in order:  # the columns in the order asked for
        t, v = series[name]
        if t.size > 1:  # the last of equal times, as a table row holds one value
            last = np.r_[t[1:] != t[:-1], True]
            t, v = t[last], v[last]
        cols[name] = hold_onto(times, t, v, default_hold(t) if limit is None else limit)
    df = pd.DataFrame(cols, index=pd.DatetimeIndex(times.view("datetime64[ns]"), name="time"))
    df = df.reset_index()
    df.insert(0, "vehicle", vehicle)
    return df


def export_table(fleet: "Fleet", path: str | os.PathLike[str], format: str = "csv", *,
                 vehicles: Iterable[str] | None = None, messages: Iterable[str] | None = None,
                 signals: Iterable[str] | None = None, start: Any = None, end: Any = None,
                 derived: Any = None, max_hold: Any = None) -> str:
    if format not in FORMATS:
        raise UnknownNameError("export format", format, FORMATS)
    if format == "mf4":  # each message on its own time axis, not one aligned table
        from ._mf4 import export_mf4

        return export_mf4(fleet, path, vehicles=vehicles, messages=messages, signals=signals,
                          start=start, end=end, derived=derived)
    path = os.fspath(path)
    vehicles = list(vehicles or fleet.vehicles)
    writer = None
    first = True
    try:
        for v in vehicles:
            known = fleet.messages(v)
            if messages is not None:
                for m in messages:
                    if m not in known:
                        raise UnknownNameError(f"message of vehicle {v}", m, list(known))
            chosen = list(messages) if messages is not None else list(known)
            sigs = [f"{m}.{s}" for m in chosen for s in known[m]]
            if signals is not None:
                want = list(signals)
                calc = fleet.derived_for(v, derived)
                calc = [w for w in want if w in calc and w not in fleet.signals(v)]
                plain = [w for w in want if w not in calc]
                fleet._resolve(v, plain)  # unknown names -> an error listing the valid ones
                sigs = [s for w in plain for s in sigs if s == w or s.split(".", 1)[1] == w]
                sigs += calc  # calculated signals, evaluated one vehicle-day at a time
            days = sorted({d for d, cur in fleet._days(v)})
            for d in days:
                d0 = pd.Timestamp(d)
                lo = max(d0, pd.Timestamp(start)) if start is not None else d0
                hi = d0 + pd.Timedelta("1D") - pd.Timedelta(1, "ns")
                hi = min(hi, pd.Timestamp(end)) if end is not None else hi
                if lo > hi:
                    continue
                df = aligned_table(fleet, v, sigs, lo, hi, derived, max_hold)
                df.columns = [c.split(".", 1)[1] if c.count(".") == 1 and
                              sum(x.split(".", 1)[1] == c.split(".", 1)[1] for x in sigs) == 1
                              else c for c in df.columns]
                if not len(df):
                    continue
                if format == "csv":
                    df.to_csv(path, mode="w" if first else "a", header=first, index=False,
                              date_format="%Y-%m-%dT%H:%M:%S.%f")
                else:
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(df, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(path, table.schema)
                    writer.write_table(table.cast(writer.schema))
                first = False
        if first:  # nothing matched: an empty table with the header
            pd.DataFrame(columns=["vehicle", "time"]).to_csv(path, index=False) if format == "csv" \
                else pd.DataFrame(columns=["vehicle", "time"]).to_parquet(path)
    finally:
        if writer is not None:
            writer.close()
    return path
