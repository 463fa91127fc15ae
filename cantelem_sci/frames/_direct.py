"""Raw-frame segments read straight from their Zarr v3 files, without xarray or zarr-python.

Opening a segment with ``xarray.open_zarr`` and reading its nine arrays takes about 40 ms
whatever its size, most of it zarr-python's per-array metadata and codec setup: 1.2 of the
2 s the decode job spent on a sample vehicle-day (29 segments), with the tree written
directly. The edge logger writes its segments with :mod:`._zarr3`, so they are read back
here by :func:`._zarr3.read_array`: the same values as ``FrameBatch.from_dataset`` of the
opened segment (tested on random segments). A segment written otherwise (another time
encoding, other codecs) raises ``UnsupportedSegmentError`` naming what differs, and the
caller opens it with xarray.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..errors import FrameFormatError, UnsupportedSegmentError
from ._schema import DTYPES, FIELDS, SCHEMA_NAME, FrameBatch, check_schema
from ._zarr3 import read_array

#: The time encoding the edge logger writes (CF, integer nanoseconds since the epoch).
TIME_UNITS = "nanoseconds since 1970-01-01"


def read_segment(path: str | Path) -> FrameBatch:
    """The frames of the raw-frame Zarr group at ``path`` as the edge logger writes it.

    Raises :class:`~cantelem_sci.errors.FrameFormatError` as
    :func:`~cantelem_sci.frames.check_schema` does (missing variables, a newer schema), and
    :class:`~cantelem_sci.errors.UnsupportedSegmentError` for a segment this reader does not
    handle (then open it with xarray).

    Example
    -------
    >>> import tempfile, cantelem_sci as ct
    >>> from cantelem_sci.frames._zarr3 import write_array, write_group
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
    try:
        group = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError) as err:
        raise UnsupportedSegmentError(f"{path}: no readable Zarr v3 group: {err}") from err
    attrs = group.get("attributes", {})
    if group.get("node_type") != "group" or attrs.get("schema", SCHEMA_NAME) != SCHEMA_NAME:
        raise UnsupportedSegmentError(f"{path}: not a {SCHEMA_NAME} group")
    present = {k for k in ("time", "data") + FIELDS if (path / k / "zarr.json").exists()}
    try:
        check_schema(SimpleNamespace(variables=present, attrs=attrs))
    except FrameFormatError as err:
        raise FrameFormatError(f"{path}: {err}") from err
    t = read_times(path)
    arrs = [read_array(path / k).astype(DTYPES[k], copy=False) for k in FIELDS]
    data = read_array(path / "data").astype(np.uint8, copy=False)
    if data.ndim != 2 or any(a.shape != t.shape for a in arrs) or data.shape[0] != t.shape[0]:
        raise FrameFormatError(f"{path}: arrays of different lengths: time {t.shape}, data "
                               f"{data.shape}")
    return FrameBatch(t, *arrs, data, channel_names=list(attrs.get("channel_names", ["can0"])))


def read_times(path: str | Path) -> np.ndarray:
    """The ``time`` column (int64 ns) of the segment at ``path``;
    ``UnsupportedSegmentError`` when it is not stored as the edge logger stores it (int64 in
    :data:`TIME_UNITS`).

    Example
    -------
    >>> import tempfile
    >>> from cantelem_sci.frames._zarr3 import write_array
    >>> d = Path(tempfile.mkdtemp())
    >>> write_array(d / "time", np.array([7, 9]), chunks=(2,), level=1,
    ...             attributes={"units": TIME_UNITS})
    >>> read_times(d).tolist()
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
