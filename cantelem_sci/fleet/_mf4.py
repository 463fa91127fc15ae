"""Decoded signals to ASAM MDF 4 (asammdf), and raw frames to the log formats of other tools.

MF4: one channel group per (vehicle, message) on that message's own time axis, nothing
resampled; each channel carries the signal's unit and DBC comment; calculated signals get a
channel group each, on their own axis. Times are seconds from the file's start time (the
first sample, UTC), so the file opens in asammdf's GUI, CANape or any MDF reader with the
absolute times. Multiplexed signals keep NaN where their multiplexer did not select them.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import UnknownNameError

if TYPE_CHECKING:
    from ._fleet import Fleet

__all__ = ["export_frames", "export_mf4"]


def _groups(fleet: "Fleet", v: str, messages: Iterable[str] | None,
            signals: Iterable[str] | None, derived: Mapping[str, Any] | None
            ) -> tuple[dict[str, list[str]], list[str]]:
    """``({message: [signal]}, [calculated])`` of vehicle ``v`` to write."""
    known = fleet.messages(v)
    if messages is not None:
        for m in messages:
            if m not in known:
                raise UnknownNameError(f"message of vehicle {v}", m, list(known))
    chosen = {m: list(known[m]) for m in (messages if messages is not None else known)}
    if signals is None:
        return chosen, []
    want = list(signals)
    calc_defs = fleet.derived_for(v, derived)
    calc = [w for w in want if w in calc_defs and w not in fleet.signals(v)]
    out: dict[str, list[str]] = {}
    for msg, sig in fleet._resolve(v, [w for w in want if w not in calc]):
        if msg in chosen and sig not in out.setdefault(msg, []):
            out[msg].append(sig)
    return {m: s for m, s in out.items() if s}, calc


def export_mf4(fleet: "Fleet", path: str | os.PathLike[str], *,
               vehicles: Iterable[str] | None = None, messages: Iterable[str] | None = None,
               signals: Iterable[str] | None = None, start: Any = None, end: Any = None,
               derived: Mapping[str, Any] | None = None) -> str:
    """Write decoded (and calculated) signals to an MF4 file (see the module docstring)."""
    from asammdf import MDF, Signal

    from ._derived import derived_series

    path = os.fspath(path)
    parts = []  # (vehicle, group name, times ns, [(name, values, unit, comment)])
    for v in list(vehicles or fleet.vehicles):
        groups, calc = _groups(fleet, v, messages, signals, derived)
        for msg, sigs in groups.items():
            t, vals, attrs, ordered = fleet._message_arrays(v, msg, sigs, start, end)
            if not t.size:
                continue
            k = None if ordered else np.argsort(t, kind="stable")
            chans = [(s, np.asarray(vals[s], np.float64) if k is None else
                      np.asarray(vals[s], np.float64)[k], str(attrs[s].get("units") or ""),
                      str(attrs[s].get("comment") or "")) for s in sigs]
            parts.append((v, msg, t if k is None else t[k], chans))
        defs = fleet.derived_for(v, derived)
        for name in calc:
            t, x = derived_series(fleet, v, name, defs, start, end)
            if t.size:
                d = defs[name]
                parts.append((v, name, t, [(name, x, d.unit or "",
                                            d.description or d.expr.text)]))
    t0 = min((int(p[2][0]) for p in parts), default=0)
    mdf = MDF(version="4.10")
    mdf.header.start_time = dt.datetime.fromtimestamp(t0 // 10**9, dt.timezone.utc)
    base = (t0 // 10**9) * 10**9
    for v, group, t, chans in parts:
        ts = (t - base) / 1e9
        mdf.append([Signal(x, ts, name=n, unit=u, comment=c) for n, x, u, c in chans],
                   acq_name=group, comment=f"vehicle {v}, {group}")
    mdf.save(path, overwrite=True)
    mdf.close()
    return path


def export_frames(fleet: "Fleet", path: str | os.PathLike[str], vehicle: str,
                  start: Any = None, end: Any = None) -> str:
    """Write the raw frames of ``vehicle`` in [start, end] (from its segments) to a
    log file whose suffix names the format (:data:`cantelem_sci.sources.LOG_FORMATS`)."""
    from ..frames import FrameBatch, order_frames
    from ..sources import write_log

    fleet._check_vehicle(vehicle)
    t0 = pd.Timestamp(start).value if start is not None else None
    t1 = pd.Timestamp(end).value if end is not None else None
    batches = []
    for seg in fleet._index.get(vehicle, {}).get("segments", []):
        if (t1 is not None and seg["start_ns"] > t1) or (t0 is not None and seg["end_ns"] < t0):
            continue
        b = fleet.store.read_frames(seg["key"])
        keep = np.ones(len(b), bool)
        if t0 is not None:
            keep &= b.time >= t0
        if t1 is not None:
            keep &= b.time <= t1
        batches.append(b.take(np.flatnonzero(keep)))
    # time order, exact duplicates (overlapping segments) once: as the decode job reads them
    frames = order_frames(batches)[0] if batches else FrameBatch.empty()
    return write_log(frames, path)
