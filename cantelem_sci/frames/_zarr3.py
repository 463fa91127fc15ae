"""Zarr v3 arrays and groups written directly: the edge logger's segments and the decode
job's trees (:mod:`cantelem_sci.fleet._write`).

zarr-python spends about 4 ms creating and 2.5 ms writing each array of a segment (its
synchronous API runs every call through an event loop, with metadata validation, codec
pipeline setup and store probes), about 60 ms for the nine arrays of a segment of any size.
A segment is a handful of small regular arrays written once, so this module writes the
files the Zarr v3 specification defines for them: ``zarr.json`` per group and array, and
one file per chunk (chunk key encoding ``default`` with ``/``), each chunk encoded by
``numcodecs.delta`` (optional), ``bytes`` (little endian) and ``zstd`` through numcodecs,
as zarr-python's codecs do, or by ``bytes`` and ``blosc`` (LZ4 with byte shuffle: the
decoded parts' time arrays, which it compresses 9x faster than zstd and smaller). Like
zarr-python, chunks holding only the fill value are not written, and an edge chunk is
padded to the full chunk shape with the fill value.

The output is tested byte for byte against zarr-python writing the same arrays (every
``zarr.json`` equal as JSON, every chunk file equal), and read back with zarr and xarray.
:func:`read_array` reads these arrays back (the uploader's latency figures), so the logger
never imports zarr-python. Only numpy and numcodecs are imported here: the logger stays
light.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FrameFormatError, UnsupportedSegmentError

_DATA_TYPES = {np.dtype(t): t for t in ("bool", "int8", "int16", "int32", "int64", "uint8",
                                         "uint16", "uint32", "uint64", "float32", "float64")}


#: The compressors :func:`write_array` writes (``compressor``): zstd at the given level, or
#: Blosc LZ4 with byte shuffle (a time array's high bytes barely change: 6.5 against 60 ms
#: a vehicle-hour's 1.5 M timestamps, 4 against 16 ms to read, 0.42 against 0.48 the size)
COMPRESSORS = ("zstd", "blosc-lz4")


def blosc_lz4(typesize: int) -> dict[str, Any]:
    """The Zarr v3 codec JSON of Blosc LZ4 with byte shuffle, as zarr-python's
    ``BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")`` writes it for items of
    ``typesize`` bytes (also the encoding the decode job gives ``to_zarr``).

    Example
    -------
    >>> blosc_lz4(8)["configuration"]["shuffle"]
    'shuffle'
    """
    return {"name": "blosc", "configuration": {"typesize": typesize, "cname": "lz4",
                                               "clevel": 5, "shuffle": "shuffle",
                                               "blocksize": 0}}


#: Zarr v3's JSON for the float fill values JSON has no number for.
_SPECIAL_FLOATS = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}


def _fill_json(dtype: np.dtype, fill: Any) -> Any:
    if dtype.kind == "b":
        return bool(fill)
    if dtype.kind == "f":
        f = float(fill)
        if f != f:
            return "NaN"
        if f in (np.inf, -np.inf):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    return int(fill)


def _fill_from_json(value: Any) -> Any:
    return _SPECIAL_FLOATS.get(value, value) if isinstance(value, str) else value


def write_group(path: Path, attributes: dict[str, Any]) -> None:
    """A group's ``zarr.json`` in the directory ``path`` (made if missing)."""
    os.makedirs(path, exist_ok=True)
    _write_json(Path(path) / "zarr.json", {"attributes": attributes, "zarr_format": 3,
                                           "node_type": "group"})


def write_array(path: Path, values: np.ndarray, *, chunks: tuple[int, ...], level: int,
                delta: bool = False, attributes: dict[str, Any] | None = None,
                dimension_names: list[str] | None = None, fill_value: Any = 0,
                compressor: str = "zstd") -> None:
    """One array in the directory ``path``: its ``zarr.json`` and its chunks, compressed by
    zstd at ``level`` or by ``compressor="blosc-lz4"`` (:data:`COMPRESSORS`).

    Example
    -------
    >>> import tempfile, zarr
    >>> d = Path(tempfile.mkdtemp()) / "a"
    >>> write_array(d, np.arange(5, dtype="int64"), chunks=(4,), level=3, delta=True)
    >>> zarr.open_array(str(d), mode="r")[:].tolist()
    [0, 1, 2, 3, 4]
    """
    from numcodecs import Blosc, Delta, Zstd

    values = np.asarray(values)
    dtype = values.dtype
    if compressor not in COMPRESSORS:
        raise FrameFormatError(f"{path}: compressor {compressor!r}; expected one of "
                               f"{', '.join(COMPRESSORS)}")
    if dtype not in _DATA_TYPES:
        raise FrameFormatError(f"{path}: dtype {dtype} is not supported by the segment writer; "
                        f"expected one of {', '.join(sorted(_DATA_TYPES.values()))}")
    if len(chunks) != values.ndim:
        raise FrameFormatError(f"{path}: chunks {chunks} do not match the {values.ndim} "
                               "dimensions")
    codecs: list[dict[str, Any]] = []
    if delta:
        codecs.append({"name": "numcodecs.delta", "configuration": {"dtype": _DATA_TYPES[dtype]}})
    codecs.append({"name": "bytes", "configuration": {"endian": "little"}}
                  if dtype.itemsize > 1 else {"name": "bytes"})
    if compressor == "zstd":
        codecs.append({"name": "zstd", "configuration": {"level": level, "checksum": False}})
        codec = Zstd(level=level, checksum=False)
    else:
        codecs.append(blosc_lz4(dtype.itemsize))
        codec = Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE, blocksize=0,
                      typesize=dtype.itemsize)
    meta = {
        "shape": list(values.shape), "data_type": _DATA_TYPES[dtype],
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": _fill_json(dtype, fill_value), "codecs": codecs,
        "attributes": attributes or {},
    }
    if dimension_names is not None:
        meta["dimension_names"] = list(dimension_names)
    meta.update(zarr_format=3, node_type="array", storage_transformers=[])
    os.makedirs(path, exist_ok=True)
    _write_json(Path(path) / "zarr.json", meta)
    little = dtype.newbyteorder("<")
    fill = np.asarray(fill_value, dtype)
    grid = [-(-s // c) if s else 0 for s, c in zip(values.shape, chunks)]
    for index in np.ndindex(*grid):
        sel = tuple(slice(i * c, min((i + 1) * c, s))
                    for i, c, s in zip(index, chunks, values.shape))
        block = values[sel]
        if _only_fill(block, fill):
            continue  # only the fill value: not written (zarr-python's default)
        if block.shape != tuple(chunks):
            full = np.full(chunks, fill, dtype)
            full[tuple(slice(0, n) for n in block.shape)] = block
            block = full
        raw = np.ascontiguousarray(block, little)
        if delta:
            raw = np.frombuffer(Delta(dtype=little).encode(raw), little)
        key = Path(path, "c", *map(str, index))
        os.makedirs(key.parent, exist_ok=True)
        with open(key, "wb") as fh:
            fh.write(codec.encode(raw))  # (numcodecs takes the array's buffer: no copy)


def _only_fill(block: np.ndarray, fill: np.ndarray) -> bool:
    """Whether a chunk holds nothing but the fill value, decided as zarr-python decides it: for
    a float fill of zero bit for bit (a -0.0 is data, and its sign is kept), otherwise by value
    with NaN equal to NaN. Checked piece by piece, so a chunk with data usually answers after
    its first piece (a decoded day's chunks are large and few hold only the fill)."""
    flat = block.reshape(-1)
    for i in range(0, flat.shape[0], _PIECE):
        if not _only_fill_piece(flat[i:i + _PIECE], fill):
            return False
    return True


#: Values checked at a time by :func:`_only_fill` (512 KiB of float64: within the L2 cache).
_PIECE = 1 << 16


def _only_fill_piece(block: np.ndarray, fill: np.ndarray) -> bool:
    if block.dtype.kind == "f":
        if fill == 0:
            bits = np.ascontiguousarray(block).view(f"u{block.dtype.itemsize}")
            return not (bits != fill.view(f"u{block.dtype.itemsize}")).any()
        return bool(np.all((block == fill) | (np.isnan(block) & np.isnan(fill))))
    return not (block != fill).any()


def read_array(path: Path) -> np.ndarray:
    """An array written by :func:`write_array` (the codecs and chunk layout this module
    writes; anything else raises ``UnsupportedSegmentError`` naming the array), read without zarr-python.

    Example
    -------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "t"
    >>> write_array(d, np.array([5, 7, 7, 0, 9], "int64"), chunks=(2,), level=1, delta=True)
    >>> read_array(d).tolist()
    [5, 7, 7, 0, 9]
    """
    from numcodecs import Blosc, Delta, Zstd

    meta = json.loads((Path(path) / "zarr.json").read_text())
    names = [c["name"] for c in meta.get("codecs", [])]
    if (meta.get("node_type") != "array" or meta.get("data_type") not in _DATA_TYPES.values()
            or names not in (["bytes", "zstd"], ["numcodecs.delta", "bytes", "zstd"],
                             ["bytes", "blosc"])
            or meta["chunk_key_encoding"]["configuration"].get("separator") != "/"):
        raise UnsupportedSegmentError(f"{path}: not an array as the segment writer writes them "
                                      f"(codecs {names}, data type {meta.get('data_type')})")
    dtype = np.dtype(meta["data_type"]).newbyteorder("<")
    shape = tuple(meta["shape"])
    chunks = tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])
    blosc = names[-1] == "blosc"
    codec = Blosc() if blosc else Zstd()
    one = Path(path, "c", *["0"] * len(shape))
    if chunks == shape and all(shape) and one.exists():
        # one chunk, the whole array (a segment's usual layout): inflated in place when its
        # frame header says it holds exactly the array
        buf = one.read_bytes()
        out = np.empty(shape, dtype)
        if (_blosc_content_size(buf) if blosc else _zstd_content_size(buf)) == out.nbytes:
            codec.decode(buf, out=out)
            if names[0] == "numcodecs.delta":
                np.cumsum(out, out=out)  # numcodecs' Delta.decode, without a copy
            return out.astype(dtype.newbyteorder("="), copy=False)
    out = np.full(shape, _fill_from_json(meta["fill_value"]), dtype)
    grid = [-(-s // c) if s else 0 for s, c in zip(shape, chunks)]
    for index in np.ndindex(*grid):
        key = Path(path, "c", *map(str, index))
        if not key.exists():
            continue  # only the fill value
        raw = np.frombuffer(codec.decode(key.read_bytes()), dtype)
        if names[0] == "numcodecs.delta":
            raw = np.asarray(Delta(dtype=dtype).decode(raw), dtype)
        block = raw.reshape(chunks)
        sel = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, shape))
        out[sel] = block[tuple(slice(0, x.stop - x.start) for x in sel)]
    return out.astype(dtype.newbyteorder("="), copy=False)


def _blosc_content_size(buf: bytes) -> int | None:
    """The decompressed size a Blosc frame's header declares (bytes 4-7, little endian; bytes
    12-15 the frame's own length), or None for a buffer that is no whole frame."""
    if len(buf) < 16 or int.from_bytes(buf[12:16], "little") != len(buf):
        return None
    return int.from_bytes(buf[4:8], "little")


def _zstd_content_size(buf: bytes) -> int | None:
    """The decompressed size a zstd frame's header declares (RFC 8878, 3.1.1.1), or None."""
    if len(buf) < 6 or buf[:4] != b"\x28\xb5\x2f\xfd":
        return None
    fhd = buf[4]
    fcs_flag, single = fhd >> 6, (fhd >> 5) & 1
    pos = 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3]
    size = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if size == 0 or len(buf) < pos + size:
        return None
    value = int.from_bytes(buf[pos:pos + size], "little")
    return value + 256 if size == 2 else value


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    # on one line: without ``indent`` the json module's C encoder writes it (a decoded part
    # has some 180 of them: 45 ms less a part than zarr-python's indented form, equal JSON)
    with open(path, "w") as fh:
        fh.write(json.dumps(obj))
