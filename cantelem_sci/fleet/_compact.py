"""Multiplexed signals stored compact in a decoded part, read dense.

A multiplexed signal holds a value only in the frames whose multiplexer selects it: the
sample DBC's 96 cell voltages, multiplexed 24 ways, are NaN in 23 of 24 rows of their
message. Written dense, they were 582 MB of float64 a vehicle-hour to build and compress
(most of the decode job's time) for 24 MB of values. The decode job writes each
multiplexer group compact instead, in its message's group:

* ``mux_rows_<k>``: a coordinate on the dimension ``mux_<k>``, the message rows (uint32,
  0-based in the part) that group ``k`` holds;
* each signal of the group: its values on ``mux_<k>``, with the attribute
  :data:`ROWS` naming that coordinate.

Every reader of decoded parts (:mod:`._days`, :mod:`._direct`, the alert job) gives such a
signal back dense on the message's ``time``, NaN where it is not selected: what a query
returns is unchanged. A signal without the attribute is read as it is, so parts written
dense are read the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ROWS", "compact_tree", "dense_dataset", "dense_values", "expand", "public_attrs"]

#: attribute of a compact signal: the name of its rows coordinate
ROWS = "multiplexed_rows"


def compact_tree(tree: Any) -> Any:
    """Rewrite, in place, every message node of a decoded tree whose multiplexed signals
    were not read yet into the compact form above, and return the tree. A signal already
    read (dense in memory) stays dense.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> tree = compact_tree(ct.decode(ct.simulate_vehicle(duration_s=2, seed=1), db))
    >>> ds = tree["BMS_CellVoltages"].dataset
    >>> ds["Cell05_Voltage"].dims, ds["Cell05_Voltage"].attrs[ROWS]
    (('mux_1',), 'mux_rows_1')
    >>> np.array_equal(dense_values(ds, "Cell05_Voltage")[ds["CellGroup"].values == 1],
    ...                ds["Cell05_Voltage"].values)
    True
    """
    import xarray as xr

    from ..decoder import multiplexed_parts

    for node in tree.subtree:
        ds = node.dataset
        found = {name: multiplexed_parts(ds.variables[name]) for name in ds.data_vars}
        found = {k: v for k, v in found.items() if v is not None}
        if not found:
            continue
        groups: dict[Any, int] = {}  # the decoder's group number -> k
        new: dict[str, Any] = {}
        coords: dict[str, Any] = {}
        for name, (values, rows, _, group) in found.items():
            where = group if group >= 0 else name  # unknown group: rows of its own
            if where not in groups:
                k = groups[where] = len(groups)
                coords[f"mux_rows_{k}"] = xr.Variable(f"mux_{k}", rows.astype(np.uint32))
            k = groups[where]
            new[name] = xr.Variable(f"mux_{k}", values,
                                    attrs={**ds[name].attrs, ROWS: f"mux_rows_{k}"})
        out = ds.drop_vars(list(found))
        node.dataset = out.assign_coords(coords).assign(new)
    return tree


def expand(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """The dense column: ``n`` values, NaN except ``values`` at ``rows``.

    Example
    -------
    >>> expand(np.array([1.5, 2.5]), np.array([0, 2], np.uint32), 4).tolist()
    [1.5, nan, 2.5, nan]
    """
    out = np.full(int(n), np.nan)
    out[np.asarray(rows, np.intp)] = values
    return out


def dense_values(ds: Any, var: str) -> np.ndarray:
    """The values of ``var`` of an opened part's message group (``xarray.Dataset``) on its
    ``time``: expanded when stored compact."""
    v = ds[var]
    rows = v.attrs.get(ROWS)
    if rows is None:
        return np.asarray(v.values)
    return expand(np.asarray(v.values, np.float64), np.asarray(ds[rows].values),
                  ds.sizes["time"])


def dense_dataset(ds: Any, sigs: list[str]) -> Any:
    """``ds[sigs]`` (an opened part's message group) with every compact signal expanded
    onto ``time``, lazily when ``ds`` is backed by dask."""
    import xarray as xr

    compact = [s for s in sigs if ROWS in ds[s].attrs]
    if not compact:
        return ds[sigs]
    other = [d for d in ds.dims if d != "time"]
    base = ds.drop_dims(other).drop_vars([v for v in ds.data_vars
                                           if "time" in ds[v].dims and v not in sigs])
    n = ds.sizes["time"]
    for s in compact:
        values, rows = ds[s].data, ds[ds[s].attrs[ROWS]].data
        if hasattr(values, "dask"):
            import dask
            import dask.array as da

            data = da.from_delayed(dask.delayed(expand)(values, rows, n), (n,), np.float64)
        else:
            data = expand(np.asarray(values, np.float64), np.asarray(rows), n)
        base[s] = xr.Variable("time", data, attrs=public_attrs(ds[s].attrs))
    return base[sigs]


def public_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """A signal's attributes as a query returns them (without :data:`ROWS`)."""
    return {k: v for k, v in attrs.items() if k != ROWS}
