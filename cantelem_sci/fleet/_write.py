"""Decoded trees written as Zarr v3 without zarr-python: xarray's encoding, direct files.

``DataTree.to_zarr`` spends 15-20 ms on each array in zarr-python's synchronous API (array
creation, attributes and chunk writes, each a round trip through its event loop). A
vehicle-day of the sample vehicle has 143 arrays: writing them took 3.2 of the 4.5 s the
decode job spent on it, and decoding 0.04 s. :func:`write_tree` encodes every node the
way ``to_zarr`` does, with xarray's own functions (coordinates attribute, CF encoding of
time, fill values, attribute values), and writes the files with
:mod:`cantelem_sci.frames._zarr3`. Tested file for file against ``to_zarr``: the same
files, every ``zarr.json`` equal as JSON and every chunk equal byte for byte.

It handles what a decode writes: 1-D numeric or bool variables with chunks given in the
encoding, JSON-ready attributes. For anything else it raises ``NotImplementedError``, with
nothing written, and the caller writes with ``to_zarr``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..frames import blosc_lz4, write_array, write_group

#: zstd level of zarr-python's default v3 codecs (``bytes`` then ``zstd``, no checksum).
ZSTD_LEVEL = 0

#: integer nanoseconds since the epoch: times written without conversion
EPOCH_NS = "nanoseconds since 1970-01-01"
#: the encoding keys this writer applies (``to_zarr`` writes any other)
_KEYS = {"chunks", "units", "dtype", "compressors"}


def time_compressors() -> list[dict[str, Any]]:
    """The ``compressors`` encoding of a decoded part's int64 time arrays: Blosc LZ4 with
    byte shuffle (:func:`~cantelem_sci.frames.blosc_lz4`; JSON, which ``to_zarr``
    takes as it is), which this writer writes without zarr-python."""
    return [blosc_lz4(8)]


def _compressor(where: str, enc: dict[str, Any], dtype: np.dtype) -> str:
    """The :func:`write_array` compressor of an encoding's ``compressors`` for values
    written as ``dtype`` (zstd without); ``NotDirect`` for any other."""
    if "compressors" not in enc:
        return "zstd"
    if list(enc["compressors"]) == [blosc_lz4(dtype.itemsize)]:
        return "blosc-lz4"
    raise NotDirect(f"{where}: compressors {enc['compressors']!r}")


class NotDirect(Exception):
    """A tree the direct writer does not handle (the caller falls back to ``to_zarr``);
    never leaves the package."""

def write_tree(tree: Any, path: str | Path, encoding: dict[str, dict[str, Any]]) -> None:
    """Write ``tree`` (an ``xarray.DataTree``) to the local directory ``path`` as
    ``tree.to_zarr(path, mode="w", zarr_format=3, consolidated=False, encoding=encoding)``
    writes it (a directory already at ``path`` is removed first), where ``encoding`` gives
    every variable its ``chunks``.

    Raises ``NotImplementedError`` for a variable this writer does not handle: before any
    file is written, as the variables are checked first (or, should xarray's encoding of one
    still fail while writing, after removing what was written).

    Example
    -------
    >>> import tempfile, xarray as xr, cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> tree = ct.decode(ct.simulate_vehicle(duration_s=2, seed=1), db)
    >>> enc = {n.path: {k: {"chunks": (v.size,)} for k, v in n.dataset.variables.items()}
    ...        for n in tree.subtree if n.dataset.variables}
    >>> d = tempfile.mkdtemp() + "/day.zarr"
    >>> write_tree(tree, d, enc)
    >>> back = xr.open_datatree(d, engine="zarr", consolidated=False)
    >>> float(back["BMS_PackStatus"]["SOC"][0]) == float(tree["BMS_PackStatus"]["SOC"][0])
    True
    """
    plan = [(_node_dir(Path(path), node, tree),) + _plan_node(node, node is tree,
                                                               encoding.get(node.path, {}))
            for node in tree.subtree]
    if os.path.isdir(path):  # mode "w": what was there goes
        shutil.rmtree(path)
    for where, attrs, arrays in plan:
        write_group(where, attrs)
        for name, var, chunks, compressor in arrays:
            # encoded and read one at a time: a dense multiplexed column is built for its
            # write and dropped after it (not cached in the tree), so the next one reuses its
            # pooled memory while it is still in the cache
            try:
                values, kw = _encode_array(name, var, chunks)
            except (TypeError, ValueError, NotDirect) as err:  # checked before: not expected
                shutil.rmtree(path)
                raise NotDirect(f"{where} {name!r}: {err}") from err
            write_array(where / name, values, level=ZSTD_LEVEL, compressor=compressor, **kw)


def _node_dir(root: Path, node: Any, tree: Any) -> Path:
    rel = node.relative_to(tree)
    return root if rel in ("", ".") else root.joinpath(*rel.split("/"))


def _plan_node(node: Any, at_root: bool, enc: dict[str, Any]
               ) -> tuple[dict[str, Any], list[tuple[str, Any, tuple[int, ...], str]]]:
    """A node's group attributes and its arrays ``(name, variable, chunks, compressor)``,
    the variables with the coordinates attribute set (``dump_to_store``) and checked;
    nothing is read."""
    from xarray.backends.zarr import encode_zarr_attr_value
    from xarray.conventions import encode_dataset_coordinates

    from ..decoder import uncached

    ds = node.to_dataset(inherit=at_root)
    variables, attrs = encode_dataset_coordinates(ds)
    group_attrs = {k: encode_zarr_attr_value(v) for k, v in attrs.items()}
    _check_json(node.path, group_attrs)
    arrays = []
    for name, var in variables.items():
        where = f"{node.path} {name!r}"
        if name not in enc or "chunks" not in enc[name] or not set(enc[name]) <= _KEYS:
            raise NotDirect(f"{where}: no chunks in the encoding, or more than "
                            f"{sorted(_KEYS)}")
        if var.ndim != 1 or var.dtype.kind not in "biufM" or var.size == 0:
            raise NotDirect(f"{where}: {var.ndim}-D {var.dtype}, {var.size} values")
        _check_json(where, var.attrs)
        v = uncached(var)
        more = {k: enc[name][k] for k in ("units", "dtype") if k in enc[name]}
        if more:  # as to_zarr applies an encoding: over the variable's own
            v = v.copy(deep=False)
            v.encoding = {**var.encoding, **more}
        compressor = _compressor(where, enc[name], np.dtype(enc[name].get("dtype", var.dtype)))
        arrays.append((name, v, tuple(enc[name]["chunks"]), compressor))
    return group_attrs, arrays


def _encode_array(name: str, var: Any, chunks: tuple[int, ...]
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """One variable's values and :func:`write_array` keywords, encoded as xarray's zarr
    backend encodes them (``ZarrStore.store`` and ``set_variables`` with ``mode="w"``)."""
    from xarray.backends.zarr import FillValueCoder, encode_zarr_variable

    epoch = _epoch_ns(var)
    if epoch is not None:
        return epoch, {"chunks": chunks, "dimension_names": list(var.dims), "fill_value": 0,
                       "attributes": {**var.attrs, "units": EPOCH_NS,
                                      "calendar": "proleptic_gregorian"}}
    v = encode_zarr_variable(var, name=name, zarr_format=3)
    values = np.asarray(v.values)
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise NotDirect(f"encoded as {values.ndim}-D {values.dtype}")
    a = dict(v.attrs)
    fill = v.encoding.get("fill_value")
    if fill is None:
        fill = math.nan if values.dtype.kind == "f" else 0
    if "_FillValue" in a:  # moved to the end and encoded, as set_variables does
        fv = a.pop("_FillValue")
        if fv is not None:
            a["_FillValue"] = FillValueCoder.encode(fv, values.dtype)
    return values, {"chunks": chunks, "attributes": a, "dimension_names": list(v.dims),
                    "fill_value": fill}


def _epoch_ns(var: Any) -> np.ndarray | None:
    """The int64 values of a datetime64[ns] variable to be encoded as integer nanoseconds
    since the epoch, without NaT (what xarray would write, without sorting the times to
    infer units it is told), else None."""
    e = var.encoding
    if (var.dtype != np.dtype("datetime64[ns]") or e.get("units") != EPOCH_NS
            or np.dtype(e.get("dtype", "f8")) != np.int64 or set(e) - {"units", "dtype"}
            or {"units", "calendar", "_FillValue"} & set(var.attrs)):
        return None
    values = np.asarray(var.values).view(np.int64)
    if values.size and values.min() == np.iinfo(np.int64).min:  # NaT
        return None
    return values


def _check_json(where: str, attrs: dict[str, Any]) -> None:
    try:
        json.dumps(attrs, allow_nan=True)
    except TypeError as err:
        raise NotDirect(f"{where}: attributes are not JSON: {err}") from err
