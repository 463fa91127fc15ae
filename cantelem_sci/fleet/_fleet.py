"""``open_fleet``: vehicles, coverage, trips, messages and signals of a store, and lazy
xarray queries (load, resample, aggregate, export)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .. import accessor as _accessor  # noqa: F401  (registers .cantelem)
from ..errors import UnknownNameError
from ._catalog import Catalog
from ._days import DecodedDays
from ._index import index_key, list_vehicles, refresh_index, trips_of
from ._job import JobReport, decode_fleet, decoded_vehicles
from ._store import Store, check_vehicles

TripsKey = "index/trips/vehicle={}.json"


class Fleet(DecodedDays):
    """A fleet store opened for queries. Use :func:`open_fleet`.

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> fleet = ct.open_fleet(tempfile.mkdtemp())
    >>> fleet.vehicles, len(fleet.coverage())
    ([], 0)
    """

    def __init__(self, store: Store, catalog: Catalog, refresh: bool = True,
                 cache_bytes: int = 1 << 30) -> None:
        self.store = store
        self.catalog = catalog
        self.trip_gap = pd.Timedelta(catalog.trip_gap)
        self._index: dict[str, dict] = {}
        self._days_cache: dict[str, list[tuple[str, dict]]] = {}
        self._open: dict[tuple[str, str], xr.Dataset] = {}
        self._meta: dict[tuple[str, str, str], Any] = {}  # attributes read from the files
        self._arrays: "OrderedDict[tuple[str, str, str], np.ndarray]" = OrderedDict()
        self._cached_bytes = 0
        self._cache_lock = threading.Lock()  # queries read days from threads (aggregate)
        self.cache_bytes = cache_bytes
        #: calculated signals ({name: DerivedSignal}): the catalog's ``derived:`` section
        self.derived = dict(catalog.derived)
        self.refresh(index=refresh)

    def __repr__(self) -> str:
        return f"<Fleet {self.store.url}: {len(self.vehicles)} vehicles>"

    # ---- what is there -------------------------------------------------------------------------
    def refresh(self, index: bool = True) -> "Fleet":
        """Pick up new segments (incremental index refresh) and new decoded days."""
        if index:
            try:
                self._index = refresh_index(self.store, None, self.catalog.trip_gap)
            except PermissionError:  # a read-only store: use the index as it is
                index = False
        if not index:
            self._index = {v: self.store.read_json(index_key(v),
                                                   default={"vehicle": v, "segments": []})
                           for v in list_vehicles(self.store)}
        self._days_cache = {}
        self._open = {}
        self._meta = {}
        self._arrays = OrderedDict()
        self._cached_bytes = 0
        return self

    @property
    def vehicles(self) -> list[str]:
        """Vehicle ids with raw or decoded data."""
        return sorted(set(self._index) | set(decoded_vehicles(self.store)))

    def _check_vehicle(self, vehicle: str) -> None:
        if vehicle not in self.vehicles:
            raise UnknownNameError("vehicle", vehicle, self.vehicles)

    def coverage(self) -> pd.DataFrame:
        """One row per vehicle: first and last frame, frames, segments, bytes, decoded days."""
        rows = []
        for v in self.vehicles:
            segs = self._index.get(v, {}).get("segments", [])
            rows.append({"vehicle": v,
                         "start": (pd.Timestamp(min(s["start_ns"] for s in segs)) if segs
                                   else pd.NaT),
                         "end": pd.Timestamp(max(s["end_ns"] for s in segs)) if segs else pd.NaT,
                         "frames": sum(s["frames"] for s in segs), "segments": len(segs),
                         "bytes": sum(s.get("bytes", 0) for s in segs),
                         "decoded_days": len(self._days(v))})
        return pd.DataFrame(rows, columns=["vehicle", "start", "end", "frames", "segments", "bytes",
                                           "decoded_days"])

    def trips(self, vehicle: str | None = None) -> pd.DataFrame:
        """Trips (sessions split at gaps longer than the catalog's ``trip_gap``), with the
        user metadata given by :meth:`annotate_trip`."""
        vs = check_vehicles(vehicle) if vehicle is not None else self.vehicles
        rows = []
        for v in vs:
            self._check_vehicle(v)
            meta = self.store.read_json(TripsKey.format(v), default={"trips": {}})["trips"]
            for t in trips_of(self._index.get(v, {"vehicle": v, "segments": []}),
                              self.trip_gap.value):
                rows.append({**t, **meta.get(t["trip_id"], {})})
        cols = ["vehicle", "trip_id", "start", "end", "duration", "segments"]
        df = pd.DataFrame(rows)
        return df if len(df) else pd.DataFrame(columns=cols)

    def annotate_trip(self, vehicle: str, trip_id: str, **metadata: Any) -> None:
        """Attach user metadata (driver, notes, ...) to a trip; kept in ``index/trips/``."""
        trips = self.trips(vehicle)
        if trip_id not in set(trips["trip_id"]):
            raise UnknownNameError(f"trip of {vehicle}", trip_id, list(trips["trip_id"]))
        key = TripsKey.format(vehicle)
        doc = self.store.read_json(key, default={"vehicle": vehicle, "trips": {}})
        doc["trips"].setdefault(trip_id, {}).update(metadata)
        self.store.write_json(key, doc)

    def _days(self, vehicle: str) -> list[tuple[str, dict]]:
        if vehicle not in self._days_cache:
            days = []
            for d in self.store.ls(f"decoded/vehicle={vehicle}"):
                if d.startswith("date="):
                    cur = self.store.read_json(f"decoded/vehicle={vehicle}/{d}/current.json",
                                               default={"version": None})
                    if cur.get("version"):
                        days.append((d[len("date="):], cur))
            self._days_cache[vehicle] = days
        return self._days_cache[vehicle]

    def messages(self, vehicle: str) -> dict[str, list[str]]:
        """Decoded messages of ``vehicle`` and their signals."""
        self._check_vehicle(vehicle)
        out: dict[str, list[str]] = {}
        for _, cur in self._days(vehicle):
            for m, info in cur["messages"].items():
                sigs = out.setdefault(m, [])
                sigs += [s for s in info["signals"] if s not in sigs]
        return out

    def senders(self, vehicle: str) -> dict[str, str]:
        """``{message: sending ECUs}`` of ``vehicle``'s DBC (messages without a sender, and
        a DBC that cannot be read, are left out). The decode job records each message's
        senders, so the DBC (and cantools, 0.5 s to import) is read only for a store
        decoded without them."""
        from ._catalog import load_group_dbc

        self._check_vehicle(vehicle)
        infos = [(m, info) for _, cur in self._days(vehicle) for m, info in cur["messages"].items()]
        if infos and all("senders" in info for _, info in infos):
            return {m: ", ".join(info["senders"]) for m, info in infos if info["senders"]}

        try:
            db = load_group_dbc(self.catalog.group_for(vehicle))
        except Exception:  # noqa: BLE001 - the decoded data are still there to browse
            return {}
        return {m.name: ", ".join(m.senders) for m in (db.messages if db else []) if m.senders}

    def signals(self, vehicle: str) -> dict[str, str]:
        """``{signal: message}`` of ``vehicle`` (a signal name in several messages maps to
        the first; use ``"Message.Signal"`` to choose)."""
        out: dict[str, str] = {}
        for m, sigs in self.messages(vehicle).items():
            for s in sigs:
                out.setdefault(s, m)
                out[f"{m}.{s}"] = m
        return out

    def derived_for(self, vehicle: str, derived: Mapping[str, Any] | None = None) -> dict:
        """The calculated signals ``vehicle`` can have (``{name: DerivedSignal}``): those of
        the catalog (and ``derived``) that apply to it and whose operands it has."""
        from ..derived import dependency_order, operands
        from ._derived import definitions

        defs = definitions(self.derived, derived)
        have = set(self.signals(vehicle))
        out = {}
        for n in dependency_order(defs):
            d = defs[n]
            try:
                if d.applies_to(vehicle) and operands(d.expr, [*have, *out]):
                    out[n] = d
            except KeyError:  # an operand this vehicle does not have
                continue
        return out

    def signal_info(self, vehicle: str, signal: str) -> dict[str, Any]:
        """Units and DBC range of a signal, and how many values fell outside it."""
        calc = self.derived_for(vehicle) if signal not in self.signals(vehicle) else {}
        if signal in calc:
            return {"message": "(calculated)", "signal": signal, "units": calc[signal].unit,
                    "expression": calc[signal].expr.text, "out_of_range_count": 0}
        msg, sig = self._resolve(vehicle, [signal])[0]
        info: dict[str, Any] = {"message": msg, "signal": sig, "out_of_range_count": 0}
        for _, cur in self._days(vehicle):
            s = cur["messages"].get(msg, {}).get("signals", {}).get(sig)
            if s:
                info.update({k: s.get(k) for k in ("units", "minimum", "maximum")})
                info["out_of_range_count"] += int(s.get("out_of_range_count") or 0)
        return info

    def series(self, vehicle: str, signal: str, start: Any = None, end: Any = None,
               valid: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(times ns, values)`` of a decoded or calculated signal in [start, end], in
        memory: on its message's times, NaN where a frame does not carry it, or with
        ``valid`` only the samples with a value, sorted by time."""
        from ._derived import signal_series

        return signal_series(self, vehicle, signal, start, end, valid)

    def _resolve(self, vehicle: str, signals: Sequence[str] | str) -> list[tuple[str, str]]:
        self._check_vehicle(vehicle)
        if isinstance(signals, str):
            signals = [signals]
        known = self.signals(vehicle)
        out = []
        for s in signals:
            if s not in known:
                raise UnknownNameError(f"signal of vehicle {vehicle}", s,
                                       sorted(k for k in known if "." not in k) +
                                       sorted(self.derived_for(vehicle)))
            out.append((known[s], s.split(".", 1)[1] if "." in s else s))
        return out

    # ---- queries -------------------------------------------------------------------------------
    def load(self, vehicle: str, signals: Sequence[str] | str, start: Any = None, end: Any = None,
             max_points: int | None = None, *, method: str = "minmax_lttb", gap: Any = None,
             flag_range: bool = False, derived: Mapping[str, Any] | None = None) -> xr.Dataset:
        """Signals of one vehicle, lazily (dask), each message on its own time axis.

        With one message the dimension is ``time``; signals from several messages get
        ``time_<Message>`` each. ``max_points`` downsamples with the kernels (gaps longer
        than ``gap`` and NaN runs kept as breaks) and returns in-memory data. A range
        without data gives an empty dataset. ``flag_range`` adds ``<signal>_out_of_range``
        (True where a value is outside the DBC minimum/maximum; values are never dropped).
        Calculated signals (the catalog's ``derived:`` and ``derived`` = {name: expression})
        are evaluated in memory, each on its own axis (see :mod:`cantelem_sci.derived`).
        """
        from ._derived import definitions, derived_dataset

        names = [signals] if isinstance(signals, str) else list(signals)
        self._check_vehicle(vehicle)
        defs = definitions(self.derived, derived) if self.derived or derived else {}
        calc = [n for n in names if n in defs and n not in self.signals(vehicle)]
        pairs = self._resolve(vehicle, [n for n in names if n not in calc])
        by_msg: dict[str, list[str]] = {}
        for m, s in pairs:
            by_msg.setdefault(m, [])
            if s not in by_msg[m]:
                by_msg[m].append(s)
        out = []
        for m, sigs in by_msg.items():
            if max_points is not None and not flag_range and self._fits(vehicle, m, sigs):
                ds = self._downsampled(vehicle, m, sigs, start, end, max_points, method, gap)
                ds.attrs.update({"vehicle": vehicle, "message": m})
                out.append(ds)
                continue
            ds = self._message_data(vehicle, m, sigs, start, end)
            if flag_range:
                for s in sigs:
                    lo, hi = ds[s].attrs.get("minimum"), ds[s].attrs.get("maximum")
                    if lo is not None and hi is not None:
                        ds[f"{s}_out_of_range"] = (ds[s] < lo) | (ds[s] > hi)
            if max_points is not None and ds.sizes["time"] > max_points:
                ds = ds.cantelem.downsample(max_points, method, gap=gap, variables=sigs)
            elif max_points is not None:
                ds = ds.load()
            ds.attrs.update({"vehicle": vehicle, "message": m})
            out.append(ds)
        out += [derived_dataset(self, vehicle, n, defs, start, end, max_points, method, gap)
                for n in calc]
        if len(out) == 1:
            return out[0]
        merged = [d.rename({"time": f"time_{d.attrs['message']}"}) for d in out]
        res = xr.merge(merged, compat="override", combine_attrs="drop")
        for d in merged:  # each variable keeps its own attrs (units, range, expression)
            for n in d.data_vars:
                res[n].attrs = dict(d[n].attrs)
        res.attrs["vehicle"] = vehicle
        return res

    def recent(self, vehicle: str, signals: Sequence[str] | str, window: Any = "60s") -> xr.Dataset:
        """The newest ``window`` of ``signals``, decoded on the fly from what the edge logger
        has made durable but the decode job has not seen yet: its open journal (local spool)
        and raw segments newer than the decoded days. ``attrs["newest"]`` is the newest
        frame time. Used by the dashboard's live mode (lag: the logger's flush interval)."""
        from ._recent import recent

        return recent(self, vehicle, signals, window)

    def ecus(self, vehicle: str) -> pd.DataFrame:
        """The OBD-II ECUs that answered ``vehicle``'s requests: VIN, ECU name, calibration
        id, supported PIDs, negative answers and ISO-TP problems (summed over its days)."""
        from ._recent import ecus

        return ecus(self, vehicle)

    def uplink(self, vehicle: str, start: Any = None, end: Any = None) -> pd.DataFrame:
        """The snapshots the radio uplink brought for ``vehicle`` (``cantelem uplink
        receive``), each once, in time order: ``time``, ``seq`` and the signals."""
        from ._uplink import read_uplink

        check_vehicles([vehicle])
        return read_uplink(self.store, vehicle, start, end)

    def gps_track(self, vehicle: str, start: Any = None, end: Any = None,
                  max_points: int | None = 5000, source: str = "auto") -> xr.Dataset:
        """Latitude/longitude of ``vehicle``: ``source`` ``"nmea"`` (the logger's GPS
        receiver, node ``GPS``), ``"dbc"`` (a DBC message with Latitude/Longitude) or
        ``"auto"`` (NMEA when recorded, else the DBC's)."""
        from ._recent import gps_signals

        return self.load(vehicle, gps_signals(self, vehicle, source), start, end,
                         max_points=max_points)

    def resample(self, freq: str, signals: Sequence[str] | str,
                 vehicles: Iterable[str] | None = None,
                 start: Any = None, end: Any = None, max_hold: Any = None,
                 derived: Mapping[str, Any] | None = None) -> xr.Dataset:
        """A (vehicle, time) Dataset on a common grid of ``freq`` with zero-order hold: each
        grid point takes the last sample at or before it, not older than ``max_hold``
        (default: ``freq``); ``<signal>_gap`` is True where no sample qualifies."""
        from ._grid import resample

        return resample(self, freq, signals, vehicles, start, end, max_hold, derived)

    def align(self, signals: Sequence[str] | str, by: str = "distance",
              vehicles: Iterable[str] | None = None, points: int = 1000, start: Any = None,
              end: Any = None, derived: Mapping[str, Any] | None = None) -> xr.Dataset:
        """A (vehicle, ``by``) Dataset: ``signals`` against distance driven (odometer, else
        integrated speed), SOC or any monotonic signal, on a grid of ``points`` over the
        range every vehicle covers (see :mod:`cantelem_sci.fleet._align`)."""
        from ._align import align

        return align(self, vehicles, signals, by, points, start, end, derived)

    def charge_sessions(self, vehicle: str, start: Any = None, end: Any = None,
                        **kw: Any) -> pd.DataFrame:
        """Charge sessions: energy, Ah, SOC, peak current (:mod:`~.fleet._battery`)."""
        from ._battery import charge_sessions

        return charge_sessions(self, vehicle, start, end, **kw)

    def trip_summary(self, vehicle: str, hot_c: float | None = None) -> pd.DataFrame:
        """Per trip: distance, energy, Wh/km, charged kWh, Ah, cell temperatures, hottest
        module, cell spread, min SOC; stored by the decode job (:mod:`~.fleet._summaries`)."""
        from ._battery import HOT_C
        from ._summaries import trip_summary

        self._check_vehicle(vehicle)
        return trip_summary(self, vehicle, HOT_C if hot_c is None else hot_c)

    def aggregate(self, freq: str = "1h", signals: Sequence[str] | str | None = None,
                  vehicles: Iterable[str] | None = None, start: Any = None,
                  end: Any = None, derived: Mapping[str, Any] | None = None) -> xr.Dataset:
        """Per-vehicle count / min / max / mean / std (population) per window of ``freq``, as
        variables of dims (vehicle, time, stat); a window without samples counts 0. Fixed
        windows come from the moments kernel over the decoded days, calendar ones (``"1MS"``)
        from xarray's resample (:mod:`~.fleet._aggregate`)."""
        from ._aggregate import aggregate

        return aggregate(self, freq, signals, vehicles, start, end, derived)

    def stats(self, vehicle: str, signals: Sequence[str] | str, start: Any = None,
              end: Any = None) -> pd.DataFrame:
        """count, min, max, mean and std (population) of each signal's valid samples in
        [start, end] (a decoded or calculated signal), one row per signal.

        Example
        -------
        >>> fleet.stats("EV0001", ["SOC", "PackVoltage"])  # doctest: +SKIP
        """
        from ._aggregate import range_stats

        self._check_vehicle(vehicle)
        return range_stats(self, vehicle, signals, start, end)

    def export(self, path: str | os.PathLike[str], format: str = "csv", *,
               vehicles: Iterable[str] | None = None, messages: Iterable[str] | None = None,
               signals: Iterable[str] | None = None, start: Any = None, end: Any = None,
               derived: Mapping[str, Any] | None = None, max_hold: Any = None) -> str:
        """Decoded signals to a file. ``"csv"``/``"parquet"``: one time-aligned table (rows:
        union of the timestamps of the chosen messages; each signal held from its last
        sample for at most ``max_hold``, default 3x its own period, then empty) with
        ``vehicle`` and ``time`` columns, one vehicle-day at a time. ``"mf4"``:
        ASAM MDF 4 through asammdf, each message a channel group on its own time axis, with
        units and comments. ``signals`` may name calculated signals."""
        from ._export import export_table

        return export_table(self, path, format, vehicles=vehicles, messages=messages,
                            signals=signals, start=start, end=end, derived=derived,
                            max_hold=max_hold)

    def table(self, vehicle: str, signals: Sequence[str], start: Any = None, end: Any = None,
              max_hold: Any = None, derived: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """One time-aligned DataFrame (``vehicle``, ``time``, the signals): rows at every
        sample time of any of them, each signal held from its last sample for at most
        ``max_hold`` (default 3x its own period), then empty. What ``export`` writes."""
        from ._export import aligned_table

        return aligned_table(self, vehicle, list(signals), start, end, derived, max_hold)

    def export_frames(self, path: str | os.PathLike[str], vehicle: str, start: Any = None,
                      end: Any = None) -> str:
        """The raw frames of ``vehicle`` in [start, end] to a log file for tools that decode
        themselves; the suffix names the format: ``.mf4`` (bus logging), ``.asc``, ``.blf``,
        ``.log`` (candump), ``.trc``, ``.csv`` (python-can's writers)."""
        from ._mf4 import export_frames

        return export_frames(self, path, vehicle, start, end)

    def events(self, vehicle: str | Sequence[str] | None = None, start: Any = None,
               end: Any = None, *, rule: str | None = None,
               severity: str | None = None) -> pd.DataFrame:
        """Alert events written by :func:`evaluate_fleet` (``cantelem alerts``) that overlap
        [start, end]: one row per event (vehicle, rule, signal, severity, start, end (NaT:
        still going on), duration, peak, peak_time, value, fired_at, condition)."""
        from ._alerts import read_events

        vs = self.vehicles if vehicle is None else [vehicle] if isinstance(vehicle, str) \
            else list(vehicle)
        for v in vs:
            self._check_vehicle(v)
        return read_events(self.store, vs, start, end, rule=rule, severity=severity)

    def evaluate_alerts(self, rules: Any = None, **kw: Any):
        """Run the fleet alert job on this store (see :func:`evaluate_fleet`)."""
        from ._alerts import evaluate_fleet

        return evaluate_fleet(self.store.url, rules=rules, catalog=self.catalog,
                              storage_options=self.store.storage_options, **kw)

    def decode(self, **kw: Any) -> JobReport:
        """Run the decode job on this store (see :func:`decode_fleet`), then refresh."""
        rep = decode_fleet(self.store.url, catalog=self.catalog,
                           storage_options=self.store.storage_options, **kw)
        self.refresh()
        return rep
