"""The two forms of multiplexed signals, one from the other.

Dense: every multiplexed signal a column over all its message's rows, NaN where its
multiplexer does not select it. Compact: each multiplexer group its own rows (those its
values select) and columns. The column paths decode the compact form;
:func:`expand_groups` turns it dense (``decode_arrays(multiplexed="dense")``; a decoded
tree does the same per column, lazily, :mod:`._lazy`). The generic path decodes dense;
:func:`compact_from_dense` turns it compact, written plainly: it is also the reference of
the column paths' partition.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._tables import NAN


@njit(cache=True, nogil=True)
def expand_groups(cols, offsets, gtab, grp, gcols):
    """The dense form of every multiplexed signal from its group (``grp``: the group rows,
    ``gcols``: their values): column ``cols.values[cols.base[s]:...]`` (one row per frame of
    the message) NaN, except the group's rows, which take the group's values. Every
    multiplexed signal is the member of one group, so each column is written once."""
    for g in range(gtab.msg.shape[0]):
        m = gtab.msg[g]
        n = offsets[m + 1] - offsets[m]
        r0 = grp.row_base[g]
        cnt = grp.count[g]
        sel = grp.rows[r0:r0 + cnt]
        for j in range(gtab.mem0[g], gtab.mem1[g]):
            s = gtab.members[j]
            out = cols.values[cols.base[s]:cols.base[s] + n]
            out[:] = NAN
            src = gcols.values[gcols.base[s]:gcols.base[s] + cnt]
            for q in range(cnt):
                out[np.uint64(sel[q])] = src[q]


@njit(cache=True, nogil=True)
def _selected_rows(cols, offsets, gtab, g):
    """The rows of group ``g``'s message whose (dense) multiplexer value is one of the
    group's ids."""
    b0 = offsets[gtab.msg[g]]
    pcol = cols.base[gtab.parent[g]]
    keep = np.zeros(offsets[gtab.msg[g] + 1] - b0, np.bool_)
    for i in range(keep.shape[0]):
        pv = cols.values[pcol + i]
        if pv == pv:
            for k in range(gtab.ids0[g], gtab.ids1[g]):
                if gtab.ids[k] == np.int64(pv):
                    keep[i] = True
    return np.flatnonzero(keep)


@njit(cache=True, nogil=True)
def compact_from_dense(cols, offsets, gtab, n_sig, meta):
    """The compact form from dense columns: group ``g`` takes the rows of its message whose
    multiplexer value is one of its ids, with their ``meta`` (``(time, channel,
    source address)`` per row). Returns ``(row_base, count, rows, gcol_base, gvalues,
    time, channel, source address)`` laid out as the column paths lay them out."""
    row_time, row_channel, row_sa = meta
    n_g = gtab.msg.shape[0]
    sel = [_selected_rows(cols, offsets, gtab, g) for g in range(n_g)]
    count = np.zeros(n_g, np.int64)
    row_base = np.zeros(n_g, np.int64)
    total = 0
    for g in range(n_g):
        row_base[g] = total
        count[g] = sel[g].shape[0]
        total += count[g]
    gcol_base = np.zeros(n_sig, np.int64)
    vtotal = 0
    for g in range(n_g):
        for j in range(gtab.mem0[g], gtab.mem1[g]):
            gcol_base[gtab.members[j]] = vtotal
            vtotal += count[g]
    gvalues = np.empty(vtotal, np.float64)
    grp_time = np.empty(total, np.int64)
    grp_channel = np.empty(total, np.uint8)
    grp_sa = np.empty(total, np.uint8)
    grp_rows = np.empty(total, np.int64)
    for g in range(n_g):
        b0 = offsets[gtab.msg[g]]
        for q in range(count[g]):
            i = sel[g][q]
            r = row_base[g] + q
            grp_rows[r] = i
            grp_time[r] = row_time[b0 + i]
            grp_channel[r] = row_channel[b0 + i]
            grp_sa[r] = row_sa[b0 + i]
            for j in range(gtab.mem0[g], gtab.mem1[g]):
                s = gtab.members[j]
                gvalues[gcol_base[s] + q] = cols.values[cols.base[s] + i]
    return row_base, count, grp_rows, gcol_base, gvalues, grp_time, grp_channel, grp_sa
