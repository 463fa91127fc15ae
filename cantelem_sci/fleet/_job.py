"""The decode job: raw segments -> decoded Zarr parts, in parallel on dask.distributed.

Unit of work: one part of a vehicle-day (:mod:`._parts`): a new segment, or the segments
of an hour the vehicle has moved on from. Each part ``decoded/vehicle=<id>/date=<D>/<name>.zarr``
holds one group per DBC message, each with its own ``time`` axis (no forced union of
timestamps), and attrs naming the DBC SHA-256 and its source segments. ``name`` is a hash of
the decoder format, the DBC contents and the checksums of the segments it reads, so:

* a part already named in its day's ``current.json`` is not decoded again (incremental: a
  new segment costs only itself);
* a crash mid-job leaves at most parts that ``current.json`` does not name; the re-run
  writes the same parts again, byte for byte, then switches ``current.json`` (one atomic
  write, by the job once every part of the day is published) and removes parts it no
  longer names: the store ends exactly as after an uninterrupted run;
* a changed DBC changes the name of every part of the vehicles it decodes (and only those),
  which are decoded again.

A missing or corrupt segment is reported, listed in ``quarantine/vehicle=<id>.json`` and
in its part's record, and skipped; the rest of the day decodes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._catalog import Catalog, group_sha
from ._cluster import get_client, map_on_cluster, using_cluster
from ._index import refresh_index
from ._lease import JobLease
from ._part_task import decode_part
from ._parts import (DECODE_RULES, DECODED_FORMAT, DayTask, PartTask, current_doc, day_key,
                     day_parts, day_version)
from ._store import Store, check_vehicles

__all__ = ["DECODED_FORMAT", "DECODE_RULES", "DayTask", "JobReport", "PartTask",
           "decode_day", "decode_fleet", "decoded_vehicles", "day_key", "get_client",
           "map_on_cluster", "plan", "publish_day", "using_cluster"]


@dataclass
class JobReport:
    """What a decode job did: the vehicle-days ``decoded`` (one dict each, with how many
    ``parts`` of it), those ``skipped`` as up to date, the trip summaries computed again
    (``summarized``), the days ``repaired`` (a part found damaged and decoded again), the
    segments ``quarantined``, the exact ``duplicates`` dropped and the ``clock_steps`` back
    found, the ``frames`` decoded, the job's wall time in ``seconds``, how much of it went to
    starting and stopping a cluster the job made itself (``cluster_seconds``; 0 with a given
    client or scheduler), and where the rest went (``times``: planning and publishing on the
    job's side; reading, decoding and writing summed over the workers' tasks)."""

    decoded: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    repaired: list[dict[str, str]] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)
    frames: int = 0
    parts: int = 0
    duplicates: int = 0
    clock_steps: int = 0
    seconds: float = 0.0
    cluster_seconds: float = 0.0
    #: trip summaries computed (the rest of each vehicle's table was up to date), and the
    #: seconds of that step
    summarized: int = 0
    summary_seconds: float = 0.0
    times: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("plan_s", "read_s", "decode_s", "write_s", "publish_s"), 0.0))

    def __str__(self) -> str:
        q = f", {len(self.quarantined)} segment(s) quarantined" if self.quarantined else ""
        if self.duplicates:
            q += f", {self.duplicates:,} duplicate frame(s) dropped"
        if self.clock_steps:
            q += f", {self.clock_steps} clock step(s) back (frames sorted by time)"
        if self.repaired:
            q += (f", {len(self.repaired)} damaged vehicle-day(s) decoded again ("
                  f"{self.repaired[0]['vehicle']} {self.repaired[0]['date']}: "
                  f"{self.repaired[0]['problem']})")
        if self.summarized:
            q += (f", {self.summarized} trip summar{'y' if self.summarized == 1 else 'ies'} "
                  f"updated in {self.summary_seconds:.1f} s")
        what = f"decoded {len(self.decoded)} vehicle-day(s)"
        if self.decoded:
            rate = self.frames / self.seconds if self.seconds else 0.0
            c = (f"; {self.cluster_seconds:.1f} s of it starting and stopping the cluster"
                 if self.cluster_seconds else "")
            t = self.times
            what += (f" ({self.frames:,} frames in {self.seconds:.1f} s, "
                     f"{rate / 1e6:.2f} M frames/s{c}; {self.parts} part(s); tasks read "
                     f"{t['read_s']:.1f} s, decode {t['decode_s']:.1f} s, write "
                     f"{t['write_s']:.1f} s; plan {t['plan_s']:.1f} s, publish "
                     f"{t['publish_s']:.1f} s)")
        return f"{what}, {self.skipped} up to date{q}"


def _verify(sizes: dict[str, int], rec: dict[str, Any]) -> str | None:
    """What is wrong with a published part (None: every file its record lists is there with
    its size); ``sizes``: the day folder's files."""
    want = rec.get("files")
    if want is None:  # written before files were recorded: trusted
        return None
    base = f"{rec['name']}.zarr/"
    missing = [f for f in want if base + f not in sizes]
    if missing:
        return f"{len(missing)} file(s) missing, e.g. {rec['name']}.zarr/{missing[0]}"
    wrong = [f for f, n in want.items() if sizes[base + f] != n]
    if wrong:
        return f"{len(wrong)} file(s) of the wrong size, e.g. {rec['name']}.zarr/{wrong[0]}"
    return None


def _gps_days(seg: dict) -> list[str]:
    lo = np.datetime64(seg.get("gps_start_ns", seg["start_ns"]), "ns").astype("datetime64[D]")
    hi = np.datetime64(seg.get("gps_end_ns", seg["end_ns"]), "ns").astype("datetime64[D]")
    return np.arange(lo, hi + 1).astype(str).tolist()


def plan(store: Store, catalog: Catalog, vehicles: list[str] | None = None,
         index: dict[str, dict] | None = None, verify: bool = True,
         repaired: list[dict[str, str]] | None = None, now_ns: int | None = None
         ) -> tuple[list[DayTask], int]:
    """The vehicle-days whose parts (:mod:`._parts`) are not all published, with the parts
    to decode, and how many days are up to date. With ``verify``, a part whose files do not
    match its record is decoded again (and its day listed in ``repaired``). Hours are
    closed as of ``now_ns`` (default: the clock's time)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    index = index if index is not None else refresh_index(store, vehicles, catalog.trip_gap)
    tasks: list[DayTask] = []
    skipped = 0
    repaired = repaired if repaired is not None else []
    for vehicle, idx in sorted(index.items()):
        if vehicles and vehicle not in vehicles:
            continue
        group = catalog.group_for(vehicle)
        dsha = group_sha(group)
        retired = idx.get("retired", {})  # days retention deleted: left as they are
        live = [s for s in idx["segments"] if s["date"] not in retired]
        days: dict[str, list[dict]] = {}
        gps: dict[str, list[dict]] = {}
        for seg in live:
            days.setdefault(seg["date"], []).append(seg)
        for seg in live:  # fixes filed under another day go to that day's GPS part
            if seg.get("gps"):
                for d in _gps_days(seg):
                    if d != seg["date"] and d not in retired:
                        gps.setdefault(d, []).append(seg)
                        days.setdefault(d, [])
        for date in sorted(days):
            parts = day_parts(vehicle, date, days[date], live, gps.get(date, []), dsha,
                              bool(group.protocols), now_ns)
            names = [p.name for p in parts]
            version = day_version(names)
            dkey = day_key(vehicle, date)
            cur = store.read_json(f"{dkey}/current.json", default={"version": None})
            have = {r["name"]: r for r in cur.get("parts", [])}
            sizes = store.sizes(dkey) if verify and have else {}
            todo = []
            for p in parts:
                p.group, p.dbc_sha = group, dsha
                problem = None
                if p.name in have and verify:
                    problem = _verify(sizes, have[p.name])
                    if problem is not None:
                        repaired.append({"vehicle": vehicle, "date": date, "problem": problem})
                if p.name not in have or problem is not None:
                    todo.append(p)
            if not todo and cur.get("version") == version:
                skipped += 1
                continue
            tasks.append(DayTask(vehicle, date, version, names, todo,
                                 {n: r for n, r in have.items() if n in names}, group, dsha,
                                 sum(p.frames for p in todo)))
    return tasks, skipped


def decode_day(store_url: str, storage_options: dict, task: DayTask) -> dict[str, Any]:
    """Decode the parts of one vehicle-day here, one after the other, and publish the day
    (what the job does for a day on its workers)."""
    store = Store(store_url, storage_options)
    done = {p.name: decode_part(store_url, storage_options, p) for p in task.parts}
    return publish_day(store, task, done)


def publish_day(store: Store, task: DayTask, done: dict[str, dict[str, Any]]
                ) -> dict[str, Any]:
    """Write the day's ``current.json`` from its parts' records (one atomic write: readers
    see the old parts or the new), then remove the parts it no longer names; return what
    was decoded of the day."""
    records = []
    for name in task.names:
        rec = dict(done[name]) if name in done else task.have[name]
        rec.pop("timing", None)
        rec.pop("seconds", None)
        records.append(rec)
    dkey = day_key(task.vehicle, task.date)
    cur = current_doc(task, records)
    store.write_json(f"{dkey}/current.json", cur)
    keep = {f"{n}.zarr" for n in task.names}
    for name in store.ls(dkey):
        if name.endswith(".zarr") and name not in keep:
            store.rm(f"{dkey}/{name}")
        elif name.endswith(".partial") and _stale(store, f"{dkey}/{name}"):
            store.rm(f"{dkey}/{name}")  # left by a crashed job
        elif name.startswith(".tmp-"):  # a write a crashed job began (one job at a time)
            store.rm(f"{dkey}/{name}")
    new = [done[n] for n in task.names if n in done]
    out = {"vehicle": task.vehicle, "date": task.date, "version": task.version,
           "parts": len(new), "frames": sum(r["frames"] for r in new),
           "quarantined": [q for r in new for q in r["quarantined"]],
           "duplicates": sum(r.get("duplicates", 0) for r in new),
           "clock_steps": sum(r.get("clock_steps", 0) for r in new)}
    return out


def _stale(store: Store, key: str, age_s: float = 3600.0) -> bool:
    """Whether a ``.partial`` folder is older than ``age_s`` (a crashed job's, not a running
    one's)."""
    try:
        return store.age_s(key) > age_s
    except OSError:
        return False

def decode_fleet(store: str | None = None, *, catalog: Catalog | str | None = None,
                 vehicles: list[str] | None = None, client: Any = None,
                 scheduler: str | None = None, workers: int | None = None,
                 storage_options: dict | None = None, progress: bool = True,
                 wait: float = 0.0, verify: bool = True, summaries: bool = True) -> JobReport:
    """Decode every new raw segment of a fleet store on a dask cluster.

    One decode job at a time per store (:class:`~cantelem_sci.fleet._lease.JobLease`): a
    second one raises :class:`~cantelem_sci.errors.StoreBusyError` naming the first, or
    waits ``wait`` seconds for it. Each day is published whole; with ``verify`` (default),
    a day whose files do not match its ``current.json`` is decoded again.

    Parameters
    ----------
    store
        Store URL (default: the catalog's, else the ``store`` setting).
    catalog
        A :class:`Catalog` or a catalog YAML path; default: the sample EV DBC for everyone.
    client, scheduler, workers
        An existing ``distributed.Client``; else a scheduler address (``CANTELEM_SCHEDULER``);
        else a LocalCluster of ``workers`` processes (``CANTELEM_WORKERS``, default 2).
    progress
        Show dask's progress bar (a widget in notebooks, a bar on the terminal).
    summaries
        Bring the stored trip summaries (:mod:`._summaries`) of the vehicles decoded up to
        date (and make those missing), after the days are published.

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> print(ct.decode_fleet(tempfile.mkdtemp(), progress=False))   # nothing to decode yet
    decoded 0 vehicle-day(s), 0 up to date
    """
    from .. import _config
    from ._catalog import default_catalog, load_catalog

    if isinstance(catalog, str):
        catalog = load_catalog(catalog)
    url = store or (catalog.store if catalog is not None else _config.get("store"))
    so = storage_options if storage_options is not None else (
        catalog.storage_options if catalog is not None else {})
    catalog = catalog or default_catalog(url, so)
    st = Store(url, so)
    with JobLease(st, "decode", wait=wait):
        return _run(st, so, catalog, check_vehicles(vehicles), client, scheduler, workers,
                    progress, verify, summaries)


def _run(st: Store, so: dict, catalog: Catalog, vehicles, client, scheduler, workers,
         progress: bool, verify: bool, summaries: bool) -> JobReport:
    from ._summaries import summary_key

    t0 = time.perf_counter()
    repaired: list[dict[str, str]] = []
    tasks, skipped = plan(st, catalog, vehicles, verify=verify, repaired=repaired)
    report = JobReport(skipped=skipped, repaired=repaired)
    report.times["plan_s"] = time.perf_counter() - t0
    # trip summaries: vehicles with a day decoded now, or without a stored table yet
    todo = sorted({t.vehicle for t in tasks} | {
        v for v in decoded_vehicles(st) if (vehicles is None or v in vehicles)
        and not st.exists(summary_key(v))}) if summaries else []
    if tasks or todo:
        with using_cluster(client, scheduler, workers) as (client, spent):
            _decode_and_summarize(st, so, catalog, tasks, todo, client, progress, report)
        report.cluster_seconds = spent[0]
    report.seconds = time.perf_counter() - t0
    return report


def decoded_vehicles(store: Store) -> list[str]:
    """Vehicle ids with a ``decoded/vehicle=<id>`` folder."""
    return [n[len("vehicle="):] for n in store.ls("decoded") if n.startswith("vehicle=")]


def _decode_and_summarize(st: Store, so: dict, catalog: Catalog, tasks: list[DayTask],
                          todo: list[str], client: Any, progress: bool,
                          report: JobReport) -> None:
    from ._summaries import summarize_vehicle

    if tasks:
        parts = [p for t in tasks for p in t.parts]
        results, _ = map_on_cluster(
            decode_part, [[st.url] * len(parts), [so] * len(parts), parts], client, None, None,
            progress) if parts else ([], 0.0)
        done: dict[tuple[str, str, str], dict] = {}
        for p, r in zip(parts, results):
            done[(p.vehicle, p.date, p.name)] = r
            for k, v in r["timing"].items():
                report.times[k] += v
        report.parts = len(parts)
        t0 = time.perf_counter()

        def publish(t: DayTask) -> dict[str, Any]:
            return publish_day(st, t, {n: done[(t.vehicle, t.date, n)] for n in t.names
                                       if (t.vehicle, t.date, n) in done})

        # every part of a day is published: its current.json next (an object store's
        # requests wait on the network: several days at once)
        with ThreadPoolExecutor(1 if getattr(st, "local", False) else 16) as pool:
            published = list(pool.map(publish, tasks))
        for r in published:
            report.decoded.append(r)
            report.frames += r["frames"]
            report.duplicates += r.get("duplicates", 0)
            report.clock_steps += r.get("clock_steps", 0)
            report.quarantined += [dict(q, vehicle=r["vehicle"]) for q in r["quarantined"]]
        _update_quarantine(st, report.quarantined)
        report.times["publish_s"] = time.perf_counter() - t0
    if todo:  # after every day is published: a trip may span days decoded by two workers
        t0 = time.perf_counter()
        done_s, _ = map_on_cluster(summarize_vehicle, [[st.url] * len(todo), [so] * len(todo),
                                                       [catalog] * len(todo), todo],
                                   client, None, None, False)
        report.summarized = sum(d["computed"] for d in done_s)
        report.summary_seconds = time.perf_counter() - t0


def _update_quarantine(store: Store, bad: list[dict[str, str]]) -> None:
    by_vehicle: dict[str, list] = {}
    for b in bad:
        by_vehicle.setdefault(b["vehicle"], []).append({"key": b["key"], "error": b["error"]})
    for v, items in by_vehicle.items():
        key = f"quarantine/vehicle={v}.json"
        old = store.read_json(key, default={"vehicle": v, "segments": []})
        seen = {s["key"] for s in old["segments"]}
        old["segments"] += [s for s in items if s["key"] not in seen]
        store.write_json(key, old)
