"""The fleet alert job: alert rules over the decoded store, on dask, written as events.

Unit of work: one vehicle, its decoded days in date order, the evaluator's state carried
from one day to the next (so an event spanning midnight is one event). Incremental like the
decode job: ``events/vehicle=<id>/state.json`` records, for each day evaluated, the decoded
version it read and the evaluator's state after it. A re-run starts at the first day whose
decoded version changed (or that is new), from the state saved after the day before; a
changed rule set starts over. Events go to ``events/vehicle=<id>/date=<D>/events.parquet``
(partitioned by the date of their start); ``state.json`` is written last, so a run cut
short is simply done again.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..alerts import EVENT_COLUMNS, RuleSet, VehicleEvaluator, events_frame, load_rules
from ..errors import ConfigError, UnknownNameError
from ._catalog import Catalog
from ._cluster import map_on_cluster
from ._compact import dense_values
from ._parts import day_key, parts_of
from ._lease import JobLease
from ._store import Store, check_vehicles

__all__ = ["AlertsReport", "evaluate_fleet", "read_events"]

EVENTS_FORMAT = "cantelem.events/1"


def state_key(vehicle: str) -> str:
    return f"events/vehicle={vehicle}/state.json"


def events_key(vehicle: str, date: str) -> str:
    return f"events/vehicle={vehicle}/date={date}/events.parquet"


@dataclass
class VehicleTask:
    vehicle: str
    days: list[tuple[str, str]]  # (date, decoded version), in date order
    first: int  # index of the first day to evaluate
    resume: dict[str, Any] | None  # evaluator state after day first - 1
    saved: list[dict[str, Any]]  # state.json's entries of the days before ``first``
    derived: dict[str, Any] = field(default_factory=dict)  # calculated signals it may read


@dataclass
class AlertsReport:
    """What a fleet alert job did: vehicles ``evaluated`` (one dict each: vehicle, days,
    events), vehicles ``skipped`` as up to date, ``events`` written, wall time in
    ``seconds`` (``cluster_seconds`` of it starting and stopping a cluster it made)."""

    evaluated: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    events: int = 0
    seconds: float = 0.0
    cluster_seconds: float = 0.0

    def __str__(self) -> str:
        days = sum(e["days"] for e in self.evaluated)
        return (f"evaluated {len(self.evaluated)} vehicle(s) ({days} day(s), {self.events} "
                f"event(s)) in {self.seconds:.1f} s, {self.skipped} up to date")


def _decoded_days(store: Store, vehicle: str) -> list[tuple[str, str, dict]]:
    out = []
    for d in store.ls(f"decoded/vehicle={vehicle}"):
        if d.startswith("date="):
            cur = store.read_json(f"decoded/vehicle={vehicle}/{d}/current.json",
                                  default={"version": None})
            if cur.get("version"):
                out.append((d[len("date="):], cur["version"], cur))
    return sorted(out)


def _check_signals(rules: RuleSet, catalog: Catalog | None, vehicle: str) -> None:
    if catalog is None:
        return
    known = list(catalog.signal_names(vehicle)) + [
        n for n, d in catalog.derived.items() if d.applies_to(vehicle)]
    sub = RuleSet([r for r in rules.rules if r.applies_to(vehicle)], rules.sinks, rules.path)
    sub.check_signals(sorted(known), where=f"the DBC of vehicle {vehicle}")


def plan(store: Store, rules: RuleSet, vehicles: list[str] | None = None,
         catalog: Catalog | None = None) -> tuple[list[VehicleTask], int]:
    """The vehicles to evaluate (from which day), and how many are up to date."""
    digest = rules.digest()
    tasks, skipped = [], 0
    for name in store.ls("decoded"):
        if not name.startswith("vehicle="):
            continue
        vehicle = name[len("vehicle="):]
        if vehicles and vehicle not in vehicles:
            continue
        if not any(r.applies_to(vehicle) for r in rules):
            continue
        _check_signals(rules, catalog, vehicle)
        days = [(d, v) for d, v, _ in _decoded_days(store, vehicle)]
        state = store.read_json(state_key(vehicle), default={"rules": None})
        saved = state.get("days", []) if state.get("rules") == digest else []
        first = 0
        while first < min(len(saved), len(days)) and \
                (saved[first]["date"], saved[first]["version"]) == days[first]:
            first += 1
        if first == len(days) and len(saved) == len(days):
            skipped += 1
            continue
        resume = saved[first - 1]["state"] if first else None
        derived = {n: d for n, d in (catalog.derived if catalog is not None else {}).items()
                   if d.applies_to(vehicle)}
        tasks.append(VehicleTask(vehicle, days, first, resume, saved[:first], derived))
    return tasks, skipped


def _resolve(signal: str, messages: dict[str, Any]) -> tuple[str | None, str]:
    if "." in signal:
        m, s = signal.split(".", 1)
        return (m if s in messages.get(m, {}).get("signals", {}) else None), s
    for m, info in messages.items():
        if signal in info.get("signals", {}):
            return m, signal
    return None, signal


def _day_data(store: Store, vehicle: str, date: str, version: str, cur: dict[str, Any],
              signals: list[str], clock: bool, derived: dict[str, Any] | None = None):
    """The day's samples of ``signals`` (decoded, or calculated from the day's decoded
    signals: an integral or rolling window starts again each day) and, with ``clock``, the
    times of every frame."""
    keys = [(f"{day_key(vehicle, date)}/{p['name']}.zarr", p["messages"])
            for p in parts_of(cur)]
    msgs = {m: i for m, i in cur["messages"].items() if i.get("frames")}
    groups: dict[str, list] = {}

    def opened(m: str) -> list:
        if m not in groups:  # the parts holding the message, in time order
            groups[m] = [store.open_zarr(k, group=m, chunks=None) for k, pm in keys
                         if pm.get(m, {}).get("frames")]
        return groups[m]

    def times(m: str) -> np.ndarray:
        return np.concatenate([g["time"].values.astype("datetime64[ns]").view(np.int64)
                               for g in opened(m)] or [np.zeros(0, np.int64)])

    def series(sig: str):
        m, name = _resolve(sig, msgs)
        if m is None:
            return None
        t = times(m)
        v = np.concatenate([np.asarray(dense_values(g, name), np.float64) for g in opened(m)]
                           or [np.zeros(0)])
        if t.size > 1 and np.any(np.diff(t) < 0):
            o = np.argsort(t, kind="stable")
            t, v = t[o], v[o]
        return t, v

    samples = {}
    for sig in signals:
        got = series(sig)
        if got is None and derived and sig in derived:
            got = _calculated(sig, derived, vehicle, msgs, series)
        if got is not None:
            samples[sig] = got
    ticks = np.unique(np.concatenate([times(m) for m in msgs])) if clock and msgs else None
    return samples, ticks


def _calculated(sig: str, derived: dict[str, Any], vehicle: str, msgs: dict[str, Any], series):
    from ._derived import clean, series_of

    decoded = sorted({s for i in msgs.values() for s in i.get("signals", {})})

    def get(name: str):
        got = series(name)
        return None if got is None else clean(*got, ordered=True)

    try:
        return series_of(sig, derived, vehicle, get, decoded)
    except UnknownNameError:  # an operand this day's frames do not hold: no samples today
        return None


def _read_partition(store: Store, key: str):
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(store.read_bytes(key)))
    except FileNotFoundError:
        return None


def evaluate_vehicle(store_url: str, storage_options: dict, rules: RuleSet,
                     task: VehicleTask) -> dict[str, Any]:
    """Evaluate one vehicle from ``task.first`` on and write its events (runs on a worker)."""
    import pandas as pd

    store = Store(store_url, storage_options)
    ve = VehicleEvaluator(rules, task.vehicle)
    if task.resume:
        ve.set_state(task.resume)
    open_before = {(r.name, e["start_ns"]) for r, e in ve.open_events()}
    signals = sorted({r.signal for r in ve.rules})
    need_clock = any(r.condition == "absent" for r in ve.rules)
    transitions = []
    saved = list(task.saved)
    for date, version in task.days[task.first:]:
        cur = store.read_json(f"{day_key(task.vehicle, date)}/current.json")
        samples, clock = _day_data(store, task.vehicle, date, version, cur, signals, need_clock,
                                   task.derived)
        transitions += ve.feed(samples, clock)
        saved.append({"date": date, "version": version, "state": ve.get_state()})
    new = events_frame(transitions, [(task.vehicle, r, e) for r, e in ve.open_events()])
    first_date = task.days[task.first][0] if task.first < len(task.days) else "9999-99-99"
    d0 = min([first_date] + [str(np.datetime64(s, "ns"))[:10] for _, s in open_before])
    # partitions from d0 on are rewritten: keep the events finished before this run's days
    # (the ones still open at resume come back from this run, finished or not)
    old_dates = sorted(d[len("date="):] for d in store.ls(f"events/vehicle={task.vehicle}")
                       if d.startswith("date="))
    keep, carried = [], {}
    for d in old_dates:
        if d0 <= d < first_date:
            df = _read_partition(store, events_key(task.vehicle, d))
            if df is None:
                continue
            for row in df.to_dict("records"):
                k = (row["rule"], pd.Timestamp(row["start"]).value)
                if k in open_before:
                    carried[k] = row
                else:
                    keep.append(row)
    if carried:  # fired before this run: its firing value and time stay
        seen = set()
        for i, row in new.iterrows():
            k = (row["rule"], pd.Timestamp(row["start"]).value)
            if k in carried:
                seen.add(k)
                new.loc[i, ["value", "fired_at"]] = [carried[k]["value"], carried[k]["fired_at"]]
        still = {(r.name, e["start_ns"]): e for r, e in ve.open_events()}
        for k, row in carried.items():
            if k not in seen and k in still:  # still going on, nothing new about it but its peak
                row.update(peak=still[k]["peak"],
                           peak_time=pd.Timestamp(still[k]["peak_ns"], unit="ns"))
                keep.append(row)
    allrows = pd.concat([pd.DataFrame(keep, columns=EVENT_COLUMNS), new], ignore_index=True) \
        if keep else new
    allrows = allrows.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"})
    dates = allrows["start"].dt.strftime("%Y-%m-%d") if len(allrows) else pd.Series([], dtype=str)
    written = set()
    for d, part in allrows.groupby(dates, sort=True):
        buf = io.BytesIO()
        part.sort_values(["start", "rule"], kind="stable").reset_index(drop=True).to_parquet(
            buf, index=False)
        store.write_bytes(events_key(task.vehicle, d), buf.getvalue())
        written.add(d)
    for d in old_dates:
        if d >= d0 and d not in written:
            store.rm(f"events/vehicle={task.vehicle}/date={d}")
    store.write_json(state_key(task.vehicle), {"format": EVENTS_FORMAT, "vehicle": task.vehicle,
                                               "rules": rules.digest(), "days": saved})
    return {"vehicle": task.vehicle, "days": len(task.days) - task.first, "events": len(new)}


def evaluate_fleet(store: str | None = None, *, rules: Any = None,
                   catalog: Catalog | str | None = None, vehicles: list[str] | None = None,
                   client: Any = None, scheduler: str | None = None, workers: int | None = None,
                   storage_options: dict | None = None, wait: float = 0.0) -> AlertsReport:
    """Evaluate alert rules over a fleet's decoded store on a dask cluster (incremental).

    Parameters
    ----------
    store
        Store URL (default: the catalog's, else the ``store`` setting).
    rules
        A rule file, YAML text, dict or :class:`~cantelem_sci.alerts.RuleSet`; default: the
        catalog's ``rules:`` section.
    catalog, vehicles, client, scheduler, workers, storage_options, wait
        As for :func:`decode_fleet` (one alert job at a time per store).

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> print(ct.evaluate_fleet(tempfile.mkdtemp(),
    ...                         rules="rules: [{name: hot, signal: CellTempMax, above: 60}]"))
    evaluated 0 vehicle(s) (0 day(s), 0 event(s)) in 0.0 s, 0 up to date
    """
    from .. import _config
    from ._catalog import default_catalog, load_catalog

    if isinstance(catalog, str):
        catalog = load_catalog(catalog)
    if rules is None:
        if catalog is None or catalog.path is None:
            raise ConfigError("evaluate_fleet needs rules: a rule file, or a catalog with a "
                              "rules: section")
        rules = catalog.path
    rs = load_rules(rules)
    if not rs.rules:
        raise ConfigError(f"{rs.path or 'rules'}: no rules to evaluate")
    url = store or (catalog.store if catalog is not None else _config.get("store"))
    so = storage_options if storage_options is not None else (
        catalog.storage_options if catalog is not None else {})
    st = Store(url, so)
    catalog = catalog or default_catalog(st.url, so)  # rules are checked against its DBCs
    with JobLease(st, "alerts", wait=wait):
        return _run(st, so, rs, catalog, check_vehicles(vehicles), client, scheduler, workers)


def _run(st: Store, so: dict, rs: RuleSet, catalog: Catalog, vehicles, client, scheduler,
         workers) -> AlertsReport:
    t0 = time.perf_counter()
    tasks, skipped = plan(st, rs, vehicles, catalog)
    report = AlertsReport(skipped=skipped)
    if tasks:
        results, report.cluster_seconds = map_on_cluster(
            evaluate_vehicle, [[st.url] * len(tasks), [so] * len(tasks), [rs] * len(tasks),
                               tasks], client, scheduler, workers)
        report.evaluated = results
        report.events = sum(r["events"] for r in results)
    report.seconds = time.perf_counter() - t0
    return report


def read_events(store: Store, vehicles: list[str], start: Any = None, end: Any = None, *,
                rule: str | None = None, severity: str | None = None):
    """The events of ``vehicles`` overlapping [start, end], of ``rule`` and ``severity``
    when given (a DataFrame, by start time)."""
    import pandas as pd

    t0 = pd.Timestamp(start) if start is not None else None
    t1 = pd.Timestamp(end) if end is not None else None
    parts = []
    for v in vehicles:
        for d in store.ls(f"events/vehicle={v}"):
            if not d.startswith("date="):
                continue
            if t1 is not None and d[len("date="):] > t1.strftime("%Y-%m-%d"):
                continue
            df = _read_partition(store, events_key(v, d[len("date="):]))
            if df is not None and len(df):
                parts.append(df)
    if not parts:
        return events_frame([])
    df = pd.concat(parts, ignore_index=True)
    if t0 is not None:
        df = df[df["end"].isna() | (df["end"] >= t0)]
    if t1 is not None:
        df = df[df["start"] <= t1]
    if rule is not None:
        df = df[df["rule"] == rule]
    if severity is not None:
        df = df[df["severity"] == severity]
    return df.sort_values(["start", "vehicle", "rule"], kind="stable").reset_index(drop=True)
