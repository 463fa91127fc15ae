"""The numba kernels of the MDF block reader (:mod:`._mdf_blocks`): unsigned fields of
fixed-size records, the records of an unsorted data group split by their ids, and the
variable-length signal data of VLSD channels gathered into rows."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["entries", "rows", "signal_data", "split", "uint_field"]


@njit(cache=True, nogil=True)
def uint_field(rec, b0, nbytes, shift, mask, out):
    """An unsigned little-endian field (``nbytes`` from byte ``b0``, shifted, masked; mask
    -1: all 64 bits) of each record."""
    m = np.uint64(mask) if mask >= 0 else ~np.uint64(0)
    for i in range(rec.shape[0]):
        v = np.uint64(0)
        for j in range(nbytes):
            v |= np.uint64(rec[i, b0 + j]) << np.uint64(8 * j)
        out[i] = (v >> np.uint64(shift)) & m
    return out


@njit(cache=True, nogil=True)
def split(stream, id_size, ids, sizes):
    """(group index, offset of its data) of each record in an unsorted data group's
    ``stream``: ``id_size`` bytes of record id, then ``sizes[g]`` bytes (-1: a u32 length
    and that many bytes). Stops at the first unknown id or a record past the end (its
    offset is returned as ``stop``)."""
    n_max = stream.shape[0] // (id_size + 1) + 1
    group = np.empty(n_max, np.int64)
    where = np.empty(n_max, np.int64)
    pos, k = 0, 0
    while pos + id_size <= stream.shape[0]:
        rid = 0
        for j in range(id_size):
            rid |= np.int64(stream[pos + j]) << (8 * j)
        g = -1
        for i in range(ids.shape[0]):
            if ids[i] == rid:
                g = i
                break
        if g < 0:
            break
        at = pos + id_size
        size = sizes[g]
        if size < 0:
            if at + 4 > stream.shape[0]:
                break
            size = 0
            for j in range(4):
                size |= np.int64(stream[at + j]) << (8 * j)
            at += 4
        if at + size > stream.shape[0]:
            break
        group[k] = g
        where[k] = at
        k += 1
        pos = at + size
    return group[:k], where[:k], pos


@njit(cache=True, nogil=True)
def rows(stream, at, out):
    """The records at offsets ``at`` of ``stream`` as the rows of ``out``."""
    size = out.shape[1]
    for i in range(at.shape[0]):
        out[i] = stream[at[i]:at[i] + size]
    return out


@njit(cache=True, nogil=True)
def entries(stream, at, out):
    """A VLSD group's records (``at``: each one's bytes, after its u32 length) joined as a
    signal-data stream (length, bytes; length, bytes; ...), into ``out``."""
    k = 0
    for i in range(at.shape[0]):
        a = at[i] - 4
        size = 4 + (np.int64(stream[a]) | np.int64(stream[a + 1]) << 8
                    | np.int64(stream[a + 2]) << 16 | np.int64(stream[a + 3]) << 24)
        out[k:k + size] = stream[a:a + size]
        k += size
    return k


@njit(cache=True, nogil=True)
def signal_data(sd, offsets, out):
    """The entries of signal data ``sd`` at ``offsets`` into the rows of ``out`` (zero
    beyond each one's length); False when an offset or a length runs past ``sd``."""
    for i in range(offsets.shape[0]):
        a = np.int64(offsets[i])
        if a < 0 or a + 4 > sd.shape[0]:
            return False
        size = (np.int64(sd[a]) | np.int64(sd[a + 1]) << 8 | np.int64(sd[a + 2]) << 16
                | np.int64(sd[a + 3]) << 24)
        if a + 4 + size > sd.shape[0] or size > out.shape[1]:
            return False
        out[i, :size] = sd[a + 4:a + 4 + size]
    return True
