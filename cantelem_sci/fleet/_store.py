"""A fleet store: a local directory (the embedded default) or ``s3://bucket/prefix``.

Layout (see ``docs/fleet-store.md``)::

    raw/vehicle=<id>/date=<D>/<start>-<seq>.zarr[.manifest.json]    edge logger segments
    index/vehicle=<id>.json                                          segment index (+ trips)
    index/trips/vehicle=<id>.json                                    user metadata of trips
    decoded/vehicle=<id>/date=<D>/<version>.zarr                     one group per message
    decoded/vehicle=<id>/date=<D>/current.json                       which version is current
    quarantine/vehicle=<id>.json                                     segments that failed

Everything goes through fsspec, so the same code serves both.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from typing import Any

import numpy as np

from ..errors import ArgumentError, StoreError, UnsupportedSegmentError
from ..frames import FrameBatch
from ..frames._direct import read_segment, read_times
from ..io import SEGMENT_RE


class Store:
    """A store root with JSON helpers; ``url`` is a path or an fsspec URL.

    Example
    -------
    >>> import tempfile
    >>> s = Store(tempfile.mkdtemp())
    >>> s.write_json("index/x.json", {"a": 1}); s.read_json("index/x.json")
    {'a': 1}
    """

    def __init__(self, url: str | os.PathLike[str], storage_options: dict | None = None) -> None:
        import fsspec

        self.url = os.fspath(url).rstrip("/")
        self.storage_options = dict(storage_options or {})
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        except (ImportError, ValueError) as err:
            raise StoreError(f"{self.url}: cannot open the store: {err}") from err
        protos = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protos
        if self.local:
            self.root = os.path.abspath(self.root)
            self.url = self.root

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def uri(self, key: str) -> str:
        """Full URL of ``key`` (for xarray / zarr with ``storage_options``)."""
        if self.local:
            return self.path(key)
        proto = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        return f"{proto}://{self.path(key)}"

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
        """Atomic: a temporary file renamed into place (local) or one PUT (object store)."""
        self.write_bytes(key, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic like :meth:`write_json`."""
        p = self.path(key)
        if self.local:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            tmp = os.path.join(os.path.dirname(p), f".tmp-{uuid.uuid4().hex}")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        else:
            self.fs.pipe_file(p, data)

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

    def read_frames(self, key: str) -> FrameBatch:
        """The raw frames of the segment at ``key``: read from its files directly in a local
        store (:mod:`cantelem_sci.frames._direct`, about 10x faster than xarray for a
        segment), else, or for a segment that reader does not handle, through xarray."""
        if self.local:
            try:
                return read_segment(self.path(key))
            except UnsupportedSegmentError:
                pass
        return FrameBatch.from_dataset(self.open_zarr(key, chunks=None))

    def read_times(self, key: str) -> np.ndarray:
        """The ``time`` column (int64 ns) of the segment at ``key``, read as
        :meth:`read_frames` reads it."""
        if self.local:
            try:
                return read_times(self.path(key))
            except UnsupportedSegmentError:
                pass
        return (self.open_zarr(key, chunks=None)["time"].values
                .astype("datetime64[ns]").view("int64"))

    def open_zarr(self, key: str, **kw: Any):
        import xarray as xr

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Numcodecs codecs are not in the Zarr")
            so = None if self.local else self.storage_options
            return xr.open_zarr(self.uri(key), consolidated=False, storage_options=so, **kw)


def check_vehicles(vehicles: Any) -> list[str] | None:
    """``vehicles`` (None: every vehicle) as a list of ids safe as one path segment and one
    MQTT topic level, or :class:`~cantelem_sci.errors.ArgumentError` naming the first that
    is not.

    Example
    -------
    >>> check_vehicles(["EV0001"]), check_vehicles(None)
    (['EV0001'], None)
    """
    if vehicles is None:
        return None
    if isinstance(vehicles, str):
        vehicles = [vehicles]
    out = list(vehicles)
    for v in out:
        if not isinstance(v, str) or not SEGMENT_RE.match(v) or ".." in v:
            raise ArgumentError(f"vehicle id {v!r}: expected 1-64 characters of A-Z a-z 0-9 "
                                "_ . - starting with a letter or digit, without '..'")
    return out
