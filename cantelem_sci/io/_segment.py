"""Immutable raw-frame segments: Zarr v3 groups in the raw-frame schema, plus a manifest;
the writer (the edge logger's) and the direct reader (the fleet's) side by side.

Key layout (relative to the store root, local or ``s3://bucket/prefix``)::

    raw/vehicle=<id>/date=<YYYY-MM-DD>/<YYYYmmddTHHMMSSZ>-<seq:06d>.zarr            the segment
    raw/vehicle=<id>/date=<YYYY-MM-DD>/<YYYYmmddTHHMMSSZ>-<seq:06d>.zarr.manifest.json

The date and start are those of the segment's first frame (UTC); ``seq`` grows by one per
segment of a logger, across restarts. A segment is written into a hidden temporary directory,
every file is fsynced, and only then is it renamed into place, so a reader never sees half a
segment. The manifest (written last, atomically) lists every file with its size and MD5 and
the segment's metadata (vehicle, start, end, frame count, channels, SHA-256 of the frames,
logger version); readers and the uploader treat a segment without a manifest as absent.

Codecs (chosen on real captures, see the README): ``time`` is delta-encoded
(``numcodecs.delta``) then zstd; every other array zstd; level configurable (default 7).
Plain ``xarray.open_zarr(path)`` opens a segment; GPS fixes recorded beside the frames are
the group ``gps`` (``xarray.open_zarr(path, group="gps")``).

Reading: ``xarray.open_zarr`` and its nine arrays take about 40 ms whatever the segment's
size, most of it zarr-python's per-array metadata and codec setup (1.2 of the 2 s the decode
job spent on a sample vehicle-day of 29 segments). :func:`read_segment` reads the files
directly (:func:`cantelem_sci.frames.read_array`): the same values as
``FrameBatch.from_dataset`` of the opened segment (tested on random segments). A segment
written otherwise (another time encoding, other codecs) raises
:class:`~cantelem_sci.errors.UnsupportedSegmentError` naming what differs, and the caller
opens it with xarray.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import FrameFormatError, SpoolError, UnsupportedSegmentError
from ..frames import (
    DTYPES,
    FIELDS,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    FrameBatch,
    check_schema,
    read_array,
    write_array,
    write_group,
)
from ._journal import GPS_FLOAT, GPS_INT, fsync_dir

CHUNK_FRAMES = 1_000_000
#: The time encoding of a segment (CF, integer nanoseconds since the epoch), written by
#: :func:`write_segment` and required by :func:`read_segment`.
TIME_UNITS = "nanoseconds since 1970-01-01"
TIME_ATTRS = {"units": TIME_UNITS, "calendar": "proleptic_gregorian"}
GPS_UNITS = {"latitude": "deg", "longitude": "deg", "altitude": "m", "speed": "km/h",
             "course": "deg", "hdop": "1"}


def segment_key(vehicle: str, start_ns: int, seq: int) -> str:
    """Relative key of a segment.

    Example
    -------
    >>> segment_key("EV0001", 1_767_225_600_000_000_000, 7)
    'raw/vehicle=EV0001/date=2026-01-01/20260101T000000Z-000007.zarr'
    """
    t = np.datetime64(int(start_ns), "ns").astype("datetime64[s]").item()
    return f"raw/vehicle={vehicle}/date={t:%Y-%m-%d}/{t:%Y%m%dT%H%M%SZ}-{seq:06d}.zarr"


def frames_checksum(b: FrameBatch) -> str:
    """SHA-256 over the frame columns in schema order (identical frames, identical sum)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(b.time, "<i8").tobytes())
    for k in FIELDS:
        h.update(np.ascontiguousarray(getattr(b, k)).tobytes())
    h.update(np.ascontiguousarray(b.data).tobytes())
    return h.hexdigest()


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def file_md5(path: str | Path) -> str:
    """The MD5 (hex) of a file's bytes: what a manifest lists, and S3's ETag of a one-part
    upload."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_arrays(path: Path, batch: FrameBatch, gps: dict[str, np.ndarray] | None,
                  attrs: dict[str, Any], level: int) -> None:
    """The segment's Zarr v3 group at ``path`` (see :mod:`cantelem_sci.frames._zarr3`; the
    same files as zarr-python writes, tested byte for byte, in a tenth of the time)."""
    write_group(path, attrs)
    n = len(batch)
    chunk = max(1, min(n, CHUNK_FRAMES))
    width = batch.data.shape[1]
    if width == 64 and not batch.is_fd.any() and (batch.dlc <= 8).all():
        width = 8
    write_array(path / "time", np.asarray(batch.time, np.int64), chunks=(chunk,), level=level,
                delta=True, attributes=TIME_ATTRS, dimension_names=["frame"])
    for k in FIELDS:
        write_array(path / k, getattr(batch, k), chunks=(chunk,), level=level,
                    attributes={"coordinates": "time"}, dimension_names=["frame"])
    write_array(path / "data", batch.data[:, :width], chunks=(chunk, width), level=level,
                attributes={"coordinates": "time"}, dimension_names=["frame", "byte"])
    if gps is not None and len(gps["time"]):
        gp = path / "gps"
        write_group(gp, {"schema": "cantelem.gps", "schema_version": 1})
        m = len(gps["time"])
        write_array(gp / "time", np.asarray(gps["time"], np.int64), chunks=(m,), level=level,
                    attributes=TIME_ATTRS, dimension_names=["fix"])
        for k in GPS_FLOAT + GPS_INT:
            write_array(gp / k, np.asarray(gps[k]), chunks=(m,), level=level,
                        attributes={"coordinates": "time", "units": GPS_UNITS.get(k, "1")},
                        dimension_names=["fix"])


def write_segment(root: Path, key: str, batch: FrameBatch, gps: dict[str, np.ndarray] | None,
                  meta: dict[str, Any], level: int = 7) -> dict[str, Any]:
    """Write one immutable segment (and its manifest) under ``root``; return the manifest.

    Idempotent: when the segment already exists with a manifest, that manifest is returned;
    when it exists without one (a crash between rename and manifest), the manifest is made.
    """
    root = Path(root)
    final = root / key
    man_path = root / (key + ".manifest.json")
    if man_path.exists() and final.exists():
        return json.loads(man_path.read_text())
    checksum = frames_checksum(batch)
    start = int(batch.time.min()) if len(batch) else int(gps["time"].min())  # type: ignore[index]
    end = int(batch.time.max()) if len(batch) else int(gps["time"].max())  # type: ignore[index]
    attrs = {
        "schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION,
        "channel_names": list(batch.channel_names),
        "vehicle": meta["vehicle"], "seq": int(meta["seq"]),
        "segment_start": str(np.datetime64(start, "ns")) + "Z",
        "segment_end": str(np.datetime64(end, "ns")) + "Z",
        "frame_count": len(batch), "frames_sha256": checksum,
        "gps_count": 0 if gps is None else len(gps["time"]),
        "logger_version": meta.get("logger_version", ""),
    }
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if not final.exists():
            tmp = final.parent / f".tmp-{final.name}"
            shutil.rmtree(tmp, ignore_errors=True)
            _write_arrays(tmp, batch, gps, attrs, level)
            _fsync_tree(tmp)
            os.rename(tmp, final)
            fsync_dir(final.parent)
        files = {}
        for dirpath, _, names in os.walk(final):
            for f in sorted(names):
                p = Path(dirpath) / f
                files[str(p.relative_to(final))] = {"size": p.stat().st_size, "md5": file_md5(p)}
        if gps is not None and len(gps["time"]):  # fixes carry their own (GNSS) time
            attrs["gps_start_ns"] = int(np.min(gps["time"]))
            attrs["gps_end_ns"] = int(np.max(gps["time"]))
        manifest = {"key": key, **attrs, "start_ns": start, "end_ns": end,
                    "clock_steps": int(meta.get("clock_steps", 0)),
                    "clock_step_max_ns": int(meta.get("clock_step_max_ns", 0)),
                    "bytes": sum(v["size"] for v in files.values()), "files": files}
        tmpm = man_path.parent / f".tmp-{man_path.name}"
        with open(tmpm, "w") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmpm, man_path)
        fsync_dir(man_path.parent)
    except OSError as err:
        tmp = final.parent / f".tmp-{final.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        raise SpoolError(f"{final}: cannot write the segment ({err.strerror}); its frames stay "
                         "in the journal and the write is retried") from err
    return manifest


def remove_temporaries(root: Path, vehicle: str | None = None) -> list[Path]:
    """Delete ``.tmp-*`` leftovers of interrupted writes under ``root/raw`` (only under
    ``raw/vehicle=<vehicle>`` when given: another vehicle's logger may be writing in the same
    spool); return them."""
    gone = []
    base = Path(root) / "raw"
    if vehicle is not None:
        base = base / f"vehicle={vehicle}"
    if not base.exists():
        return gone
    for dirpath, dirnames, filenames in os.walk(base):
        for d in list(dirnames):
            if d.startswith(".tmp-"):
                shutil.rmtree(Path(dirpath) / d, ignore_errors=True)
                gone.append(Path(dirpath) / d)
                dirnames.remove(d)
        for f in filenames:
            if f.startswith(".tmp-"):
                (Path(dirpath) / f).unlink(missing_ok=True)
                gone.append(Path(dirpath) / f)
    return gone




def read_segment(path: str | Path) -> FrameBatch:
    """The frames of the raw-frame Zarr group at ``path`` as the edge logger writes it.

    Raises :class:`~cantelem_sci.errors.FrameFormatError` as
    :func:`~cantelem_sci.frames.check_schema` does (missing variables, a newer schema), and
    :class:`~cantelem_sci.errors.UnsupportedSegmentError` for a segment this reader does not
    handle (then open it with xarray).

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> from cantelem_sci.frames import write_array, write_group
    >>> d = Path(tempfile.mkdtemp()) / "seg.zarr"
    >>> b = FrameBatch.from_arrays([5, 6], [0x100, 0x101], np.ones((2, 8), np.uint8))
    >>> write_group(d, {"schema": SCHEMA_NAME, "schema_version": 1, "channel_names": ["can0"]})
    >>> write_array(d / "time", b.time, chunks=(2,), level=1, attributes={"units": TIME_UNITS})
    >>> for k in FIELDS:
    ...     write_array(d / k, getattr(b, k), chunks=(2,), level=1)
    >>> write_array(d / "data", b.data, chunks=(2, 8), level=1)
    >>> read_segment(d).arbitration_id.tolist()
    [256, 257]
    """
    path = Path(path)
    attrs = _group_attrs(path)
    if attrs.get("schema", SCHEMA_NAME) != SCHEMA_NAME:
        raise UnsupportedSegmentError(f"{path}: not a {SCHEMA_NAME} group")
    present = {k for k in ("time", "data") + FIELDS if (path / k / "zarr.json").exists()}
    try:
        check_schema(SimpleNamespace(variables=present, attrs=attrs))
    except FrameFormatError as err:
        raise FrameFormatError(f"{path}: {err}") from err
    t = read_segment_times(path)
    arrs = [read_array(path / k).astype(DTYPES[k], copy=False) for k in FIELDS]
    data = read_array(path / "data").astype(np.uint8, copy=False)
    if data.ndim != 2 or any(a.shape != t.shape for a in arrs) or data.shape[0] != t.shape[0]:
        raise FrameFormatError(f"{path}: arrays of different lengths: time {t.shape}, data "
                               f"{data.shape}")
    return FrameBatch(t, *arrs, data, channel_names=list(attrs.get("channel_names", ["can0"])))


def _group_attrs(path: Path) -> dict[str, Any]:
    """The attributes of the Zarr v3 group at ``path``; ``UnsupportedSegmentError`` when
    there is none readable."""
    try:
        group = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError) as err:
        raise UnsupportedSegmentError(f"{path}: no readable Zarr v3 group: {err}") from err
    if group.get("node_type") != "group":
        raise UnsupportedSegmentError(f"{path}: not a Zarr v3 group")
    return group.get("attributes", {})


def read_segment_gps(path: str | Path) -> dict[str, np.ndarray] | None:
    """The GPS fixes of the segment at ``path`` (its ``gps`` group: ``time`` int64 ns and
    the :data:`GPS_FLOAT` / :data:`GPS_INT` columns), None for a segment without fixes;
    ``UnsupportedSegmentError`` for a group not stored as the edge logger stores it. The
    same arrays as xarray reads, without importing zarr-python (a fresh decode worker spent
    0.15 s on that) or opening the group through it (1 ms a segment without fixes).

    Example
    -------
    >>> import tempfile
    >>> from cantelem_sci.frames import write_array, write_group
    >>> d = Path(tempfile.mkdtemp())
    >>> read_segment_gps(d) is None
    True
    >>> write_group(d / "gps", {"schema": "cantelem.gps", "schema_version": 1})
    >>> write_array(d / "gps" / "time", np.array([7, 9]), chunks=(2,), level=1,
    ...             attributes={"units": TIME_UNITS})
    >>> for k in GPS_FLOAT + GPS_INT:
    ...     write_array(d / "gps" / k, np.zeros(2), chunks=(2,), level=1)
    >>> read_segment_gps(d)["time"].tolist()
    [7, 9]
    """
    gp = Path(path) / "gps"
    if not (gp / "zarr.json").exists():
        return None
    if _group_attrs(gp).get("schema") != "cantelem.gps":
        raise UnsupportedSegmentError(f"{gp}: not a cantelem.gps group")
    out = {"time": read_segment_times(gp)}
    for k in GPS_FLOAT + GPS_INT:
        if (gp / k / "zarr.json").exists():
            out[k] = read_array(gp / k)
            if out[k].shape != out["time"].shape:
                raise FrameFormatError(f"{gp}: {k} has {out[k].shape[0]} values for "
                                       f"{out['time'].shape[0]} fixes")
    return out


def read_segment_times(path: str | Path) -> np.ndarray:
    """The ``time`` column (int64 ns) of the segment at ``path``;
    ``UnsupportedSegmentError`` when it is not stored as the edge logger stores it (int64 in
    :data:`TIME_UNITS`).

    Example
    -------
    >>> import tempfile
    >>> from cantelem_sci.frames import write_array
    >>> d = Path(tempfile.mkdtemp())
    >>> write_array(d / "time", np.array([7, 9]), chunks=(2,), level=1,
    ...             attributes={"units": TIME_UNITS})
    >>> read_segment_times(d).tolist()
    [7, 9]
    """
    path = Path(path)
    try:
        meta = json.loads((path / "time" / "zarr.json").read_text())
    except (OSError, ValueError) as err:
        raise UnsupportedSegmentError(f"{path}/time: no readable array: {err}") from err
    units = meta.get("attributes", {}).get("units")
    if units != TIME_UNITS or meta.get("data_type") != "int64":
        raise UnsupportedSegmentError(f"{path}/time: {meta.get('data_type')} in {units!r}, "
                                      f"expected int64 in {TIME_UNITS!r}")
    return read_array(path / "time")
