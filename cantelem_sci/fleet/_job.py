"""The decode job: raw segments -> decoded Zarr stores, in parallel on dask.distributed.

Unit of work: one vehicle-day. Its output ``decoded/vehicle=<id>/date=<D>/<version>.zarr``
holds one group per DBC message, each with its own ``time`` axis (no forced union of
timestamps), and attrs naming the DBC SHA-256 and the source segments. ``version`` is a
hash of the decoder format, the DBC contents and the day's segment checksums, so:

* a day whose ``current.json`` already names that version is skipped (incremental);
* a crash mid-job leaves at most a partial version folder that ``current.json`` does not
  name; the re-run writes the same version again, byte for byte, then switches
  ``current.json`` (one atomic write) and removes other versions: the store ends exactly as
  after an uninterrupted run;
* a changed DBC changes the version of every day of the vehicles it decodes (and only
  those), which are decoded again.

A missing or corrupt segment is reported, listed in ``quarantine/vehicle=<id>.json`` and
in the day's ``current.json``, and skipped; the rest of the day decodes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FrameFormatError
from ..frames import FrameBatch, order_frames
from ._catalog import Catalog, DbcGroup, group_sha, load_group_dbc
from ._index import refresh_index
from ._lease import JobLease
from ._store import Store, check_vehicles
from ._write import NotDirect, write_tree

DECODED_FORMAT = "cantelem.decoded/1"
#: part of every day's version: a change in what the job makes of the same segments (here:
#: frames sorted and deduplicated) decodes every day again
DECODE_RULES = "ordered-dedup/1"
CHUNK = 1 << 20


@dataclass
class DayTask:
    vehicle: str
    date: str
    keys: list[str]
    shas: list[str]
    frames: int
    group: DbcGroup
    dbc_sha: str
    version: str
    #: segments of other days holding GPS fixes of this day (fixes go by their own time)
    gps_keys: list[str] = field(default_factory=list)


@dataclass
class JobReport:
    """What a decode job did: the vehicle-days ``decoded`` (one dict each), those ``skipped``
    as up to date, the trip summaries computed again (``summarized``), those ``repaired`` (found damaged and decoded again), the segments
    ``quarantined``, the exact ``duplicates`` dropped and the ``clock_steps`` back found, the
    ``frames`` decoded, the job's wall time in ``seconds``, and how much of it went to
    starting and stopping a cluster the job made itself (``cluster_seconds``; 0 with a given
    client or scheduler)."""

    decoded: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    repaired: list[dict[str, str]] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)
    frames: int = 0
    duplicates: int = 0
    clock_steps: int = 0
    seconds: float = 0.0
    cluster_seconds: float = 0.0
    #: trip summaries computed (the rest of each vehicle's table was up to date), and the
    #: seconds of that step
    summarized: int = 0
    summary_seconds: float = 0.0

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
            what += (f" ({self.frames:,} frames in {self.seconds:.1f} s, "
                     f"{rate / 1e6:.2f} M frames/s{c})")
        return f"{what}, {self.skipped} up to date{q}"


def day_key(vehicle: str, date: str) -> str:
    return f"decoded/vehicle={vehicle}/date={date}"


def _verify(store: Store, dkey: str, cur: dict[str, Any]) -> str | None:
    """What is wrong with a day's published version (None: every file listed in
    ``current.json`` is there with its size)."""
    want = cur.get("files")
    if want is None:  # written before files were recorded: trusted
        return None
    got = store.sizes(f"{dkey}/{cur['version']}.zarr")
    missing = [f for f in want if f not in got]
    if missing:
        return f"{len(missing)} file(s) missing, e.g. {missing[0]}"
    wrong = [f for f, n in want.items() if got[f] != n]
    if wrong:
        return f"{len(wrong)} file(s) of the wrong size, e.g. {wrong[0]}"
    return None


def plan(store: Store, catalog: Catalog, vehicles: list[str] | None = None,
         index: dict[str, dict] | None = None, verify: bool = True,
         repaired: list[dict[str, str]] | None = None) -> tuple[list[DayTask], int]:
    """The vehicle-days to decode, and how many are already up to date. With ``verify``, a
    day whose published files do not match ``current.json`` is decoded again (and listed in
    ``repaired``)."""
    index = index if index is not None else refresh_index(store, vehicles, catalog.trip_gap)
    tasks: list[DayTask] = []
    skipped = 0
    repaired = repaired if repaired is not None else []
    for vehicle, idx in sorted(index.items()):
        if vehicles and vehicle not in vehicles:
            continue
        group = catalog.group_for(vehicle)
        dsha = group_sha(group)
        days: dict[str, list[dict]] = {}
        retired = idx.get("retired", {})  # days retention deleted: left as they are
        for seg in idx["segments"]:
            if seg["date"] not in retired:
                days.setdefault(seg["date"], []).append(seg)
        for seg in idx["segments"]:  # a day with fixes only in another day's segments
            if seg.get("gps"):
                for d in np.arange(np.datetime64(seg.get("gps_start_ns", seg["start_ns"]), "ns")
                                   .astype("datetime64[D]"),
                                   np.datetime64(seg.get("gps_end_ns", seg["end_ns"]), "ns")
                                   .astype("datetime64[D]") + 1).astype(str).tolist():
                    if d not in retired:
                        days.setdefault(d, [])
        for date, segs in sorted(days.items()):
            segs = sorted(segs, key=lambda s: s["key"])
            gps_keys = _gps_from_other_days(idx["segments"], date, retired)
            h = hashlib.sha256(f"{DECODED_FORMAT}|{DECODE_RULES}|{dsha}".encode())
            for s in segs:
                h.update(f"|{s['key']}:{s['sha256']}".encode())
            for k in gps_keys:
                h.update(f"|gps:{k}".encode())
            version = h.hexdigest()[:20]
            cur = store.read_json(f"{day_key(vehicle, date)}/current.json",
                                  default={"version": None})
            if cur.get("version") == version:
                problem = _verify(store, day_key(vehicle, date), cur) if verify else None
                if problem is None:
                    skipped += 1
                    continue
                repaired.append({"vehicle": vehicle, "date": date, "problem": problem})
            tasks.append(DayTask(vehicle, date, [s["key"] for s in segs],
                                 [s["sha256"] for s in segs], sum(s["frames"] for s in segs),
                                 group, dsha, version, gps_keys))
    return tasks, skipped


def _day_bounds(date: str) -> tuple[int, int]:
    t0 = int(np.datetime64(date, "D").astype("datetime64[ns]").astype(np.int64))
    return t0, t0 + 86_400 * 10**9


def _gps_from_other_days(segments: list[dict], date: str, retired: dict) -> list[str]:
    """Keys of segments filed under another day whose GPS fixes fall (partly) on ``date``."""
    t0, t1 = _day_bounds(date)
    return sorted(s["key"] for s in segments
                  if s.get("gps") and s["date"] != date and s["date"] not in retired
                  and s.get("gps_start_ns", s["start_ns"]) < t1
                  and s.get("gps_end_ns", s["end_ns"]) >= t0)


def _encoding(tree) -> dict[str, dict[str, Any]]:
    enc: dict[str, dict[str, Any]] = {}
    for node in tree.subtree:
        ds = node.dataset
        if not ds.variables:
            continue
        e = {}
        for name, var in ds.variables.items():
            if var.ndim == 1 and var.size:
                e[name] = {"chunks": (min(var.size, CHUNK),)}
        if e:
            enc[node.path] = e
    return enc


def decode_day(store_url: str, storage_options: dict, task: DayTask) -> dict[str, Any]:
    """Decode one vehicle-day (runs on a dask worker, within that worker's one thread: zarr's
    codec thread pool is limited to one, so N workers use N cores)."""
    import zarr

    t0 = time.perf_counter()
    with zarr.config.set({"threading.max_workers": 1}):
        out = _decode_day(store_url, storage_options, task)
    out["seconds"] = time.perf_counter() - t0
    return out


def _decode_day(store_url: str, storage_options: dict, task: DayTask) -> dict[str, Any]:
    import xarray as xr

    from ..decoder import GPS_NODE, decode_vehicle, gps_dataset, merge_fixes, release_tree

    store = Store(store_url, storage_options)
    db = load_group_dbc(task.group, task.dbc_sha)
    batches, used, bad = [], [], []
    steps, step_max = 0, 0
    for key, sha in zip(task.keys, task.shas):
        try:
            b = store.read_frames(key)  # plain numpy: no dask inside the task
            man = store.read_json(key + ".manifest.json")
            if len(b) != int(man["frame_count"]):
                raise FrameFormatError(f"{key}: {len(b)} frames, manifest says "
                                       f"{man['frame_count']}")
            batches.append(b)
            used.append(key)
            steps += int(man.get("clock_steps", 0))  # found by the logger before sorting
            step_max = max(step_max, int(man.get("clock_step_max_ns", 0)))
        except Exception as err:  # missing or corrupt: quarantined, the rest decodes
            bad.append({"key": key, "error": f"{type(err).__name__}: {err}"})
    # time order, each frame once: duplicated or overlapping segments, clock steps
    frames, order = order_frames(batches) if batches else (FrameBatch.empty(), {})
    if batches:
        order["clock_steps"] += steps
        order["clock_step_max_ns"] = max(order["clock_step_max_ns"], step_max)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown ids are in the tree's attrs
        tree = decode_vehicle(frames, db, task.group.protocols)
    fixes = merge_fixes([store.read_gps(k) for k in used + list(task.gps_keys)],
                        *_day_bounds(task.date))
    if fixes is not None and GPS_NODE not in tree.children:
        tree[GPS_NODE] = xr.DataTree(gps_dataset(fixes))
    tree.attrs.update({"vehicle": task.vehicle, "date": task.date, "dbc_sha256": task.dbc_sha,
                       "dbc_group": task.group.name, "source_segments": used,
                       "quarantined": [b["key"] for b in bad], "version": task.version,
                       "format": DECODED_FORMAT, **order})
    dkey = day_key(task.vehicle, task.date)
    out = f"{dkey}/{task.version}.zarr"
    files = _write_tree(tree, store, out)
    messages: dict[str, Any] = {}
    for name, node in tree.children.items():
        ds = node.dataset
        t = ds["time"].values
        messages[name] = {
            "frames": int(ds.sizes.get("time", 0)),
            "start_ns": int(t.min().astype("int64")) if t.size else None,
            "end_ns": int(t.max().astype("int64")) if t.size else None,
            "signals": {s: {k: _plain(v.attrs.get(k)) for k in ("units", "minimum", "maximum",
                                                                   "out_of_range_count")}
                        for s, v in ds.data_vars.items()},
        }
    current = {"version": task.version, "dbc_sha256": task.dbc_sha, "dbc_group": task.group.name,
               "vehicle": task.vehicle, "date": task.date, "source_segments": used,
               "quarantined": bad, "frames": len(frames), "messages": messages,
               "format": DECODED_FORMAT, "files": files, **order}
    if "obd2" in tree.attrs:
        current["obd2"] = tree.attrs["obd2"]
    release_tree(tree)  # a worker decodes day after day: free this one's columns now
    store.write_json(f"{dkey}/current.json", current)
    for name in store.ls(dkey):
        if name.endswith(".zarr") and name != f"{task.version}.zarr":
            store.rm(f"{dkey}/{name}")
        elif name.endswith(".partial") and _stale(store, f"{dkey}/{name}"):
            store.rm(f"{dkey}/{name}")  # left by a crashed job
    return {"vehicle": task.vehicle, "date": task.date, "version": task.version,
            "frames": len(frames), "quarantined": bad, **order}


def _write_tree(tree: Any, store: Store, key: str) -> dict[str, int]:
    """Write a decoded tree to ``key`` as a whole, and return its files' sizes.

    Readers and other jobs never see a part of it: on a local store it is written to a
    folder of its own (``.<uuid>.partial``) and renamed into place (a rename is atomic; when
    another job published the same version first, its copy is kept if complete). On an
    object store it is written to a local temporary folder and uploaded file by file (one
    PUT each, concurrently; zarr writing in place lists and probes the store around every
    array, about four requests per object): the version name is a hash of the inputs, so
    two jobs upload the same bytes, and ``current.json`` names the version only once it is
    all there.

    The files are written by :func:`._write.write_tree` (xarray's encoding, files written
    directly: 5x faster than ``to_zarr``, the same files); ``to_zarr`` writes a tree it does
    not handle."""

    def write(target: str) -> dict[str, int]:
        encoding = _encoding(tree)
        try:
            write_tree(tree, target, encoding)
        except NotDirect:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning)
                tree.to_zarr(target, mode="w", zarr_format=3, consolidated=False,
                             encoding=encoding)
        return {os.path.relpath(os.path.join(d, f), target): os.path.getsize(os.path.join(d, f))
                for d, _, names in os.walk(target) for f in names}

    return store.publish_dir(key, write)


def _stale(store: Store, key: str, age_s: float = 3600.0) -> bool:
    """Whether a ``.partial`` folder is older than ``age_s`` (a crashed job's, not a running
    one's)."""
    try:
        return store.age_s(key) > age_s
    except OSError:
        return False


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def get_client(scheduler: str | None = None, workers: int | None = None):
    """A dask.distributed client: ``scheduler`` (an address, or a ``Client``) or a new
    LocalCluster of ``workers`` processes with one thread each. Returns (client, owned):
    owned ``"cluster"`` for a LocalCluster made here, ``"client"`` for a client of an
    address (not made the default client, so the caller's stays), else False."""
    from distributed import Client, LocalCluster

    from .. import _config

    scheduler = _config.get("scheduler", scheduler)
    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler, False
    if scheduler:
        return Client(scheduler, set_as_default=False), "client"
    n = int(_config.get("workers", workers))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), "cluster"


@contextlib.contextmanager
def using_cluster(client: Any, scheduler: str | None, workers: int | None):
    """``(client, spent)`` for the block: ``client``, else one of :func:`get_client` (closed
    after the block, with the LocalCluster made here); ``spent[0]``: the seconds spent
    starting and stopping a cluster made here."""
    owned, spent = False, [0.0]
    if client is None:
        t = time.perf_counter()
        client, owned = get_client(scheduler, workers)
        spent[0] = time.perf_counter() - t if owned == "cluster" else 0.0
    try:
        yield client, spent
    finally:
        if owned == "client":
            client.close()  # a scheduler's address: its connections, not its cluster
        elif owned:
            t = time.perf_counter()
            cluster = client.cluster
            client.close()
            cluster.close()
            spent[0] += time.perf_counter() - t


def map_on_cluster(fn, args: list[list], client: Any, scheduler: str | None,
                   workers: int | None, progress: bool = False) -> tuple[list, float]:
    """``fn`` over the argument lists on ``client`` (else a scheduler, else a LocalCluster
    made for this call and closed after it); returns the results and the seconds spent
    starting and stopping a cluster made here."""
    with using_cluster(client, scheduler, workers) as (client, spent):
        futures = client.map(fn, *args, pure=False)
        if progress:
            from distributed import progress as _progress

            _progress(futures)
        results = client.gather(futures)
    return results, spent[0]


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
        results, _ = map_on_cluster(
            decode_day, [[st.url] * len(tasks), [so] * len(tasks), tasks], client, None, None,
            progress)
        for r in results:
            report.decoded.append(r)
            report.frames += r["frames"]
            report.duplicates += r.get("duplicates", 0)
            report.clock_steps += r.get("clock_steps", 0)
            report.quarantined += [dict(q, vehicle=r["vehicle"]) for q in r["quarantined"]]
        _update_quarantine(st, report.quarantined)
    if todo:  # after every day is published: a trip may span days decoded by two workers
        t0 = time.perf_counter()
        done, _ = map_on_cluster(summarize_vehicle, [[st.url] * len(todo), [so] * len(todo),
                                                     [catalog] * len(todo), todo],
                                 client, None, None, False)
        report.summarized = sum(d["computed"] for d in done)
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
