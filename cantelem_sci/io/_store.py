"""Stores: where segments, indexes and decoded days live. A local directory
(:class:`LocalStore`, the embedded default) or any fsspec URL such as ``s3://bucket/prefix``
(:class:`FsspecStore`), behind one interface (:class:`Store`), as zarr-python keeps its
``LocalStore`` and ``FsspecStore`` behind an ABC.

``Store(url)`` returns the kind the URL names. What differs between the two: how a file is
written atomically (a temporary file renamed into place, or one PUT), how a folder is
published whole (renamed into place, or uploaded file by file before the pointer that names
it is written), how raw segments are read (directly from their files, or through xarray),
whether a logger's journals are at hand (a local spool is the store's folder), and how a
job's lease is held (a lock file, or an expiring lease object: ``fleet/_lease.py``).

Layout (see ``docs/fleet-store.md``)::

    raw/vehicle=<id>/date=<D>/<start>-<seq>.zarr[.manifest.json]    edge logger segments
    index/vehicle=<id>.json                                          segment index (+ trips)
    index/trips/vehicle=<id>.json                                    user metadata of trips
    decoded/vehicle=<id>/date=<D>/<version>.zarr                     one group per message
    decoded/vehicle=<id>/date=<D>/current.json                       which version is current
    quarantine/vehicle=<id>.json                                     segments that failed
"""

from __future__ import annotations

import abc
import json
import os
import tempfile
import time
import uuid
import warnings
from typing import Any, Callable

import numpy as np

from ..errors import StoreError, UnsupportedSegmentError
from ..frames import FrameBatch
from ._journal import durable_frames
from ._segment import read_segment, read_segment_gps, read_segment_times


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


class Store(abc.ABC):
    """A store root with JSON helpers; ``url`` is a path or an fsspec URL.

    Example
    -------
    >>> import tempfile
    >>> s = Store(tempfile.mkdtemp())
    >>> type(s).__name__
    'LocalStore'
    >>> s.write_json("index/x.json", {"a": 1}); s.read_json("index/x.json")
    {'a': 1}
    """

    #: whether the store is a folder of this machine (then a logger's spool may be in it)
    local = False

    def __new__(cls, url: str | os.PathLike[str] = "", storage_options: dict | None = None):
        if cls is Store:
            cls = LocalStore if _is_local(os.fspath(url)) else FsspecStore
        return super().__new__(cls)

    def __init__(self, url: str | os.PathLike[str], storage_options: dict | None = None) -> None:
        import fsspec

        self.url = os.fspath(url).rstrip("/")
        self.storage_options = dict(storage_options or {})
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        except (ImportError, ValueError) as err:
            raise StoreError(f"{self.url}: cannot open the store: {err}") from err

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """Full URL of ``key`` (for xarray / zarr with ``storage_options``)."""

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def read_json(self, key: str, default: Any = None) -> Any:
        try:
            return json.loads(self.fs.cat_file(self.path(key)))
        except FileNotFoundError:
            if default is not None:
                return default
            raise
        except ValueError as err:
            raise StoreError(f"{self.uri(key)}: not valid JSON: {err}") from err

    def write_json(self, key: str, obj: Any) -> None:
        """Atomic: readers see the old object or the new one, never a part."""
        self.write_bytes(key, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    @abc.abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic like :meth:`write_json`."""

    def read_bytes(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def sizes(self, key: str) -> dict[str, int]:
        """``{path relative to key: size in bytes}`` of every file under ``key`` (empty when
        absent); one listing, recursive."""
        base = self.path(key).rstrip("/") + "/"
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        out = {}
        for p, info in found.items():
            if info.get("type", "file") == "file":
                rel = p.split(base.lstrip("/") if not p.startswith("/") else base, 1)[-1]
                out[rel] = int(info.get("size") or 0)
        return out

    def ls(self, key: str) -> list[str]:
        """Names (not paths) directly under ``key``; empty when absent."""
        try:
            entries = self.fs.ls(self.path(key), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def rm(self, key: str, recursive: bool = True) -> None:
        try:
            self.fs.rm(self.path(key), recursive=recursive)
        except FileNotFoundError:
            pass

    def put_dir(self, local_dir: str | os.PathLike[str], key: str) -> None:
        """Upload the files under ``local_dir`` to ``key`` (one PUT each, concurrently)."""
        src = os.fspath(local_dir).rstrip("/") + "/"  # the contents, not the folder itself
        try:
            self.fs.put(src, self.path(key) + "/", recursive=True)
        except OSError as err:
            raise StoreError(f"{self.uri(key)}: cannot upload {local_dir}: {err}") from err

    @abc.abstractmethod
    def publish_dir(self, key: str, write: Callable[[str], dict[str, int]]) -> dict[str, int]:
        """Make the folder ``write(path)`` writes (returning ``{file: size}``) appear whole
        at ``key``; a folder already there with other files (a crash's) is replaced, one with
        the same files kept. Returns the files."""

    def read_frames(self, key: str) -> FrameBatch:
        """The raw frames of the segment at ``key``."""
        return FrameBatch.from_dataset(self.open_zarr(key, chunks=None))

    def read_gps(self, key: str) -> dict[str, np.ndarray] | None:
        """The GPS fixes of the segment at ``key`` (its ``gps`` group), None without any."""
        try:
            ds = self.open_zarr(key, group="gps", chunks=None)
        except (FileNotFoundError, KeyError, OSError, ValueError):
            return None
        out = {k: np.asarray(v.values) for k, v in ds.variables.items() if k != "time"}
        out["time"] = ds["time"].values.astype("datetime64[ns]").view("int64")
        return out

    def read_times(self, key: str) -> np.ndarray:
        """The ``time`` column (int64 ns) of the segment at ``key``, read as
        :meth:`read_frames` reads it."""
        return (self.open_zarr(key, chunks=None)["time"].values
                .astype("datetime64[ns]").view("int64"))

    def open_zarr(self, key: str, **kw: Any):
        import xarray as xr

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
            return xr.open_zarr(self.uri(key), consolidated=False,
                                storage_options=self._zarr_options(), **kw)

    def _zarr_options(self) -> dict | None:
        return self.storage_options

    def age_s(self, key: str) -> float:
        """Seconds since ``key`` was last modified (infinite where the store cannot tell)."""
        return float("inf")

    def journal_frames(self, vehicle: str) -> FrameBatch:
        """What a logger writing into this store's folder has made durable in its journals
        and not yet turned into segments (empty for a remote store)."""
        return FrameBatch.empty()


class LocalStore(Store):
    """A folder of this machine."""

    local = True

    def __init__(self, url: str | os.PathLike[str], storage_options: dict | None = None) -> None:
        super().__init__(url, storage_options)
        self.root = os.path.abspath(self.root)
        self.url = self.root

    def uri(self, key: str) -> str:
        return self.path(key)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic: a temporary file, fsynced, renamed into place."""
        p = self.path(key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        tmp = os.path.join(os.path.dirname(p), f".tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)

    def publish_dir(self, key: str, write: Callable[[str], dict[str, int]]) -> dict[str, int]:
        """Written under a ``.partial`` name, then renamed into place."""
        final = self.path(key)
        partial = f"{final[:-len('.zarr')] if final.endswith('.zarr') else final}." \
                  f"{uuid.uuid4().hex[:12]}.partial"
        files = write(partial)
        try:
            os.rename(partial, final)
            return files
        except OSError:  # the same version is there already (another job, or a crash's)
            pass
        if self.sizes(key) != files:  # incomplete or damaged: replace it
            broken = f"{partial}.old"
            os.rename(final, broken)
            os.rename(partial, final)
            self.rm(os.path.relpath(broken, self.root))
        else:
            self.rm(os.path.relpath(partial, self.root))
        return files

    def read_frames(self, key: str) -> FrameBatch:
        """Read from the segment's files directly (:func:`~cantelem_sci.io.read_segment`, about
        10x faster than xarray), or through xarray for a segment that reader does not
        handle."""
        try:
            return read_segment(self.path(key))
        except UnsupportedSegmentError:
            return super().read_frames(key)

    def read_gps(self, key: str) -> dict[str, np.ndarray] | None:
        try:
            return read_segment_gps(self.path(key))
        except (OSError, ValueError, RuntimeError):  # another layout, or damaged: as before
            return super().read_gps(key)

    def read_times(self, key: str) -> np.ndarray:
        try:
            return read_segment_times(self.path(key))
        except UnsupportedSegmentError:
            return super().read_times(key)

    def age_s(self, key: str) -> float:
        return time.time() - os.path.getmtime(self.path(key))

    def journal_frames(self, vehicle: str) -> FrameBatch:
        return durable_frames(self.root, vehicle)

    def _zarr_options(self) -> dict | None:
        return None


class FsspecStore(Store):
    """Any fsspec URL (``s3://bucket/prefix``, ``memory://``, ...)."""

    def uri(self, key: str) -> str:
        proto = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        return f"{proto}://{self.path(key)}"

    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic: one PUT."""
        self.fs.pipe_file(self.path(key), data)

    def publish_dir(self, key: str, write: Callable[[str], dict[str, int]]) -> dict[str, int]:
        """Written to a temporary folder, then uploaded whole (the pointer naming it is
        written after)."""
        with tempfile.TemporaryDirectory(prefix="cantelem-publish-") as tmp:
            files = write(os.path.join(tmp, "dir"))
            self.put_dir(os.path.join(tmp, "dir"), key)
        return files
