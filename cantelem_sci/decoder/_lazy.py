"""Dense columns of multiplexed signals, expanded from their compact group on first read."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from . import _memory
from ._tree import _same_slots, time_variable


class ExpandedColumn(BackendArray):
    """A multiplexed signal on its message's time axis (``n`` rows), NaN where the
    multiplexer does not select it, held as its group's ``values`` at message rows ``rows``.

    Nothing is allocated until the column is read. Then it is built once, cached by the
    ``MemoryCachedArray`` that :func:`lazy_variable` wraps it in. For the sample battery
    message, this saves 24 times the memory the signal really holds, for every cell
    nobody looks at.

    Example
    -------
    >>> col = ExpandedColumn(np.array([1.5, 2.5]), np.array([0, 2]), 4)
    >>> lazy_variable(col, {}).values.tolist()
    [1.5, nan, 2.5, nan]
    """

    def __init__(self, values: np.ndarray, rows: np.ndarray, n: int, group: int = -1) -> None:
        self.values = values
        self.rows = rows
        self.group = group  # the layout's number of its multiplexer group (-1: unknown)
        self.shape = (int(n),)
        self.dtype = np.dtype(np.float64)

    def dense(self) -> np.ndarray:
        # pooled huge-page memory (:mod:`._memory`), like the decoded columns: reading the 96
        # cells of the sample half hour (274 MB) took 216-276 ms in the fresh 4 KiB pages of
        # ``numpy.full``, and takes 83-100 ms from the pool
        out = _memory.empty(self.shape[0], np.float64)
        out.fill(np.nan)
        out[self.rows] = self.values
        return out

    def _raw(self, key: tuple[Any, ...]) -> np.ndarray:
        return self.dense()[key]

    def __getitem__(self, key: Any) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.BASIC, self._raw)


#: The key of a whole 1-d array, shared (xarray's indexers are immutable): building it for
#: every column was half the cost of wrapping one.
_WHOLE = indexing.BasicIndexer((slice(None),))


def lazy_variable(col: ExpandedColumn, attrs: dict[str, Any]) -> Any:
    """An ``xarray.Variable`` on ``time`` reading ``col`` on first access (then cached):
    ``MemoryCachedArray(LazilyIndexedArray(col, key))``, the wrappers' slots set directly
    (1 against 5 us a column; the dense sample tree has 96) when that makes what their
    constructors make (checked once per process, :func:`_direct_wrappers_are_identical`)."""
    return time_variable(_wrap(col) if _direct_wrappers_are_identical() else
                         indexing.MemoryCachedArray(indexing.LazilyIndexedArray(col, _WHOLE)),
                         attrs)


def _wrap(col: ExpandedColumn) -> Any:
    lazy = object.__new__(indexing.LazilyIndexedArray)
    lazy.array = col
    lazy.key = _WHOLE
    lazy._shape = col.shape
    cached = object.__new__(indexing.MemoryCachedArray)
    cached.array = lazy
    return cached


@functools.cache
def _direct_wrappers_are_identical() -> bool:
    """Whether :func:`_wrap` makes what the constructors make: the same types, the same
    slots set to the same values, the same dense values when read."""
    try:
        col = ExpandedColumn(np.array([1.5, 2.5]), np.array([0, 2]), 4)
        public = indexing.MemoryCachedArray(indexing.LazilyIndexedArray(col, _WHOLE))
        direct = _wrap(col)
        return (_same_slots(public, direct) and _same_slots(public.array, direct.array)
                and bool(np.array_equal(np.asarray(public), np.asarray(direct),
                                        equal_nan=True)))
    except Exception:  # pragma: no cover - any change in xarray's internals
        return False


def uncached(var: Any) -> Any:
    """``var`` reading its lazy dense column afresh at every read, without caching it in the
    tree: for a writer that reads each column once, so that one column is in memory at a
    time. Any other variable, or a column already read (and cached), is returned as it is.

    Example
    -------
    >>> v = lazy_variable(ExpandedColumn(np.array([1.5]), np.array([1]), 3), {})
    >>> u = uncached(v)
    >>> u.values.tolist(), u is v
    ([nan, 1.5, nan], False)
    >>> _ = v.values  # read through the tree's variable: cached there, so returned as it is
    >>> uncached(v) is v
    True
    """
    import xarray as xr

    data = getattr(var, "_data", None)
    if (isinstance(data, indexing.MemoryCachedArray)
            and isinstance(data.array, indexing.LazilyIndexedArray)
            and isinstance(data.array.array, ExpandedColumn)):
        return xr.Variable(var.dims, data.array, attrs=var.attrs, encoding=var.encoding,
                           fastpath=True)
    return var


def multiplexed_parts(var: Any) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """``(values, rows, n, group)`` of a multiplexed signal's dense variable that was not
    read yet (its group's values, the message rows they sit at, the message's row count,
    the number of its multiplexer group: signals of one group share their rows), for a
    writer that stores the compact form; None for any other variable.

    Example
    -------
    >>> v = lazy_variable(ExpandedColumn(np.array([1.5]), np.array([1]), 3, group=2), {})
    >>> vals, rows, n, group = multiplexed_parts(v)
    >>> vals.tolist(), rows.tolist(), n, group
    ([1.5], [1], 3, 2)
    """
    data = getattr(var, "_data", None)
    if not isinstance(data, indexing.MemoryCachedArray):
        return None  # not a lazy column, or read already (the cache holds the dense array)
    lazy = data.array
    if (not isinstance(lazy, indexing.LazilyIndexedArray)
            or not isinstance(lazy.array, ExpandedColumn)
            or tuple(lazy.key.tuple) != (slice(None),)):  # a selection of the column
        return None
    col = lazy.array
    return col.values, col.rows, col.shape[0], col.group
