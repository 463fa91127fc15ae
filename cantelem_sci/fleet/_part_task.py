"""The decode job's task, on a worker: one part of a vehicle-day (:mod:`._parts`) read from
its raw segments, decoded, and published as ``<name>.zarr`` in the day's folder.

A worker holds one part at a time (a segment, or the segments of one closed hour), so its
memory does not grow with the length of a day. The task returns the part's record for the
day's ``current.json`` (written by the job once every part of the day is published) and
the seconds it spent reading, decoding and writing.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

import numpy as np

from ..errors import FrameFormatError
from ..frames import FrameBatch, order_frames
from ._catalog import load_group_dbc
from ._compact import compact_tree
from ._parts import DECODED_FORMAT, LEAD_NS, PartTask, day_key
from ._store import Store
from ._write import EPOCH_NS, NotDirect, time_compressors, write_tree

__all__ = ["decode_part"]

CHUNK = 1 << 20


def _day_bounds(date: str) -> tuple[int, int]:
    t0 = int(np.datetime64(date, "D").astype("datetime64[ns]").astype(np.int64))
    return t0, t0 + 86_400 * 10**9


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
                if var.dtype.kind == "M":  # stated: xarray would sort every time to infer it
                    e[name].update(units=EPOCH_NS, dtype="int64",
                                   compressors=time_compressors())
        if e:
            enc[node.path] = e
    return enc


#: glibc's malloc in a decode worker: blocks up to this size come from the heap, and up to
#: ``_KEEP_FREED`` of freed heap stays with the process (see :func:`_keep_heap`)
_HEAP_BLOCKS, _KEEP_FREED = 32 << 20, 256 << 20
_heap_kept = False


def _keep_heap() -> None:
    """Let this worker reuse the memory of the part before (glibc only; once a process).

    dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_`` set, which also turns off
    glibc's adaptive mmap threshold: every array over 128 kB of every part is then a fresh
    mapping, faulted in page by page, and unmapped again. A part allocates some hundred of
    them. With blocks up to 32 MB from the heap and 256 MB of freed heap kept, the next
    part reuses pages already mapped: the decode job ran 2.10 s against 2.37 s (one worker,
    four vehicle-hours, mean of four fresh clusters each)."""
    global _heap_kept
    if _heap_kept:
        return
    _heap_kept = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, _HEAP_BLOCKS)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, _KEEP_FREED)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: its defaults
        pass


def _one_codec_thread() -> Any:
    """zarr-python's codec thread pool limited to one thread while a task runs (N workers
    then use N cores). A task on a local store needs no zarr-python (segments are read and
    parts written directly), and importing it cost a fresh worker 0.15 s: where it is not
    imported yet, this worker's zarr-python will read the limit from the environment when a
    task (a remote store, a fallback) first imports it."""
    import contextlib

    zarr = sys.modules.get("zarr")
    if zarr is None:
        os.environ.setdefault("ZARR_THREADING__MAX_WORKERS", "1")
        return contextlib.nullcontext()
    return zarr.config.set({"threading.max_workers": 1})


def decode_part(store_url: str, storage_options: dict, task: PartTask) -> dict[str, Any]:
    """Decode one part and publish it; return its record (runs on a dask worker, within
    that worker's one thread: zarr's codec thread pool is limited to one, so N workers use N
    cores)."""
    _keep_heap()
    t0 = time.perf_counter()
    with _one_codec_thread():
        out = _decode_part(Store(store_url, storage_options), task)
    out["seconds"] = time.perf_counter() - t0
    return out


def _read(store: Store, keys: list[str], bad: list[dict] | None) -> tuple[list, dict]:
    """Frames of each segment (None where unreadable: listed in ``bad`` when given) and the
    clock steps their manifests count."""
    out, steps = [], {"clock_steps": 0, "clock_step_max_ns": 0}
    for key in keys:
        try:
            b = store.read_frames(key)  # plain numpy: no dask inside the task
            man = store.read_json(key + ".manifest.json")
            if len(b) != int(man["frame_count"]):
                raise FrameFormatError(f"{key}: {len(b)} frames, manifest says "
                                       f"{man['frame_count']}")
            out.append(b)
            steps["clock_steps"] += int(man.get("clock_steps", 0))  # found by the logger
            steps["clock_step_max_ns"] = max(steps["clock_step_max_ns"],
                                             int(man.get("clock_step_max_ns", 0)))
        except Exception as err:  # missing or corrupt: quarantined, the rest decodes
            out.append(None)
            if bad is not None:
                bad.append({"key": key, "error": f"{type(err).__name__}: {err}"})
    return out, steps


def _frames(store: Store, task: PartTask, bad: list[dict]):
    """The part's own frames in time order, each once (leaving out those its context
    segments hold first), the own segments read, and what ordering did."""
    own, steps = _read(store, task.keys, bad)
    ctx, _ = _read(store, task.context, None)  # an unreadable one is its own part's problem
    batches = [(k, b, True) for k, b in zip(task.keys, own) if b is not None]
    batches += [(k, b, False) for k, b in zip(task.context, ctx) if b is not None]
    batches.sort(key=lambda x: x[0])
    used = [k for k, _, o in batches if o]
    if not used:
        return FrameBatch.empty(), used, {"duplicates": 0, **steps}
    frames, order = order_frames([b for _, b, _ in batches], own=[o for *_, o in batches])
    order["clock_steps"] += steps["clock_steps"]
    order["clock_step_max_ns"] = max(order["clock_step_max_ns"], steps["clock_step_max_ns"])
    return frames, used, order


def _lead_in(store: Store, task: PartTask, first_ns: int) -> FrameBatch | None:
    """The transport-protocol frames of the last :data:`LEAD_NS` of the segment before the
    part, before its first frame (the start of a message the part's frames finish)."""
    from ..decoder import transport_traffic

    if task.lead is None:
        return None
    (b,), _ = _read(store, [task.lead], None)
    if b is None:
        return None
    keep = (b.time < first_ns) & (b.time >= first_ns - LEAD_NS)
    keep &= transport_traffic(b, task.group.protocols)
    return b.take(np.flatnonzero(keep)) if keep.any() else None


def _trim(tree: Any, first_ns: int) -> None:
    """Leave out of every node the rows before ``first_ns`` (the lead-in's own messages)."""
    for name, node in list(tree.children.items()):
        if "time" not in node.dataset.dims or not node.dataset.sizes["time"]:
            continue
        t = node.dataset["time"].values
        if t[0].astype("datetime64[ns]").astype(np.int64) >= first_ns:  # sorted by time
            continue
        keep = np.flatnonzero(t.astype("datetime64[ns]").view(np.int64) >= first_ns)
        if keep.size:
            node.dataset = node.dataset.isel(time=keep)
        else:
            del tree[name]


def _decode_part(store: Store, task: PartTask) -> dict[str, Any]:
    import xarray as xr

    from ..decoder import GPS_NODE, decode_vehicle, gps_dataset, merge_fixes, release_tree

    t0 = time.perf_counter()
    db = load_group_dbc(task.group, task.dbc_sha)
    bad: list[dict] = []
    if task.gps_only:
        frames, used, order = FrameBatch.empty(), list(task.keys), {"duplicates": 0}
        order.update(clock_steps=0, clock_step_max_ns=0)
    else:
        frames, used, order = _frames(store, task, bad)
    lead = _lead_in(store, task, int(frames.time[0])) if len(frames) else None
    if task.gps_only:  # the day's own segments' fixes come first
        gps_keys = [(k, False) for k in task.context] + [(k, True) for k in used]
    else:
        gps_keys = sorted([(k, True) for k in used] + [(k, False) for k in task.context])
    fix_parts = [store.read_gps(k) for k, _ in gps_keys]
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown ids are in the tree's attrs
        if lead is not None:
            tree = decode_vehicle(FrameBatch.concat([lead, frames]), db, task.group.protocols)
            _trim(tree, int(frames.time[0]))
        else:
            tree = decode_vehicle(frames, db, task.group.protocols)
    fixes = merge_fixes(fix_parts, *_day_bounds(task.date), own=[o for _, o in gps_keys])
    if fixes is not None and GPS_NODE not in tree.children:
        tree[GPS_NODE] = xr.DataTree(gps_dataset(fixes))
    tree.attrs.update({"vehicle": task.vehicle, "date": task.date,
                       "dbc_sha256": task.dbc_sha, "dbc_group": task.group.name,
                       "source_segments": used, "quarantined": [b["key"] for b in bad],
                       "version": task.name, "format": DECODED_FORMAT, **order})
    t2 = time.perf_counter()
    files = _write_tree(tree, store, f"{day_key(task.vehicle, task.date)}/{task.name}.zarr")
    t3 = time.perf_counter()
    messages: dict[str, Any] = {}
    for name, node in tree.children.items():
        ds = node.dataset
        t = ds["time"].values
        messages[name] = {
            "frames": int(ds.sizes.get("time", 0)),
            "start_ns": int(t.min().astype("int64")) if t.size else None,
            "end_ns": int(t.max().astype("int64")) if t.size else None,
            "senders": [str(e) for e in (ds.attrs.get("senders") or [])],
            "signals": {s: {k: _plain(v.attrs.get(k)) for k in ("units", "minimum", "maximum",
                                                                   "out_of_range_count")}
                        for s, v in ds.data_vars.items()},
        }
    record = {"name": task.name, "segments": used, "quarantined": bad, "frames": len(frames),
              "start_ns": task.start_ns, "messages": messages, "files": files, **order}
    if task.gps_only:
        record["gps_only"] = True
    if lead is not None:
        record["lead"] = task.lead
    if "obd2" in tree.attrs:
        record["obd2"] = tree.attrs["obd2"]
    release_tree(tree)  # a worker decodes part after part: free this one's columns now
    # write: the columns are decoded lazily, as they are written
    record["timing"] = {"read_s": t1 - t0, "decode_s": t2 - t1, "write_s": t3 - t2}
    return record


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

    compact_tree(tree)  # multiplexed signals as their groups' values (:mod:`._compact`)

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


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


