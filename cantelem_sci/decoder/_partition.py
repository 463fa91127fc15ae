"""The rows of each multiplexer group: which frames of a message each multiplexer value
selects, as a counting sort of the message's rows by group.

Simple multiplexers (one top-level integer multiplexer per message, each value selecting
one group: pages of cell voltages) go through a direct table (:func:`partition_simple`);
every other kind (nested, several per message, large or repeated values) through a search
per row (:func:`partition_groups`). Both fill a :class:`._tables.GroupRows`' ``count``,
``row_base`` and ``rows``; its reference is :func:`._dense.compact_from_dense`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._bits import bit_buffers, value8
from ._match import lookup


@njit(cache=True, nogil=True)
def _classify_simple(cols, offsets, simple, m, count, gid):
    """The group that each row of message ``m`` selects (``gid``; -1: none, for NaN,
    negative and large values too), counted into ``count``."""
    p = simple.sig[m]
    b0 = offsets[m]
    cnt = offsets[m + 1] - b0
    col = cols.values[cols.base[p]:cols.base[p] + cnt]
    t0 = simple.dir0[m]
    tn = simple.dir1[m] - t0
    tab = simple.group[t0:t0 + tn]
    gd = gid[b0:b0 + cnt]
    for i in range(cnt):  # no stores to shared counters here: the loop stays simple
        pv = col[i]
        g = -1
        if pv == pv:
            key = np.int64(pv)
            if 0 <= key < tn:
                g = tab[np.uint64(key)]
        gd[i] = g
    for i in range(cnt):
        g = gd[i]
        if g >= 0:
            count[g] += 1


@njit(cache=True, nogil=True)
def partition_simple(cols, offsets, simple, grp, gid):
    """The rows of the groups of simple multiplexers (:class:`._tables.SimpleMux`), their
    values read from the decoded columns ``cols``: fills ``grp.count`` and ``grp.row_base``
    of these groups (placed first, in group order) and ``grp.rows``; returns the rows used.
    ``gid`` is scratch with a slot per row (message order).

    Each row's group is looked up once, in a pass of its own, then counted and placed:
    about twice as fast as looking it up in both the counting and the placing pass."""
    n_msg = simple.sig.shape[0]
    for m in range(n_msg):
        if simple.sig[m] >= 0:
            _classify_simple(cols, offsets, simple, m, grp.count, gid)
    used = 0
    for g in range(grp.count.shape[0]):
        grp.row_base[g] = used
        used += grp.count[g]
    fill = grp.row_base.astype(np.uint64)
    for m in range(n_msg):
        if simple.sig[m] < 0:
            continue
        b0 = offsets[m]
        gd = gid[b0:offsets[m + 1]]
        for i in range(gd.shape[0]):
            g = gd[i]
            if g >= 0:
                q = fill[g]
                fill[g] = q + np.uint64(1)
                grp.rows[q] = i
    return used


@njit(cache=True, nogil=True, inline="always")
def _entry(lk, k, pv):
    """The first entry of multiplexer ``k`` (:class:`._tables.MuxLookup`) whose key is the
    value ``pv`` (``lk.lk1[k]``: none)."""
    l1 = lk.lk1[k]
    if pv != pv:
        return l1
    key = np.int64(pv)
    t0 = lk.dir0[k]
    tn = lk.dir1[k] - t0
    if tn >= 0:
        if 0 <= key < tn:
            e = lk.direct[np.uint64(t0 + key)]
            return e if e >= 0 else l1
        return l1
    return lookup(lk.keys, lk.lk0[k], l1, key)


@njit(cache=True, nogil=True)
def partition_groups(rows, tabs, cols, grp, used, first):
    """The rows (indices within their message) of the groups of every multiplexer of
    ``tabs`` = ``(messages, signals, lookup, sig_group)`` that is not simple.

    A multiplexer's domain is every row of its message (top-level multiplexer, value read
    from ``cols``) or the rows of its own group (nested, value decoded here from the
    message-ordered classic ``rows``); each row goes to every group its value selects.
    Fills ``grp.row_base`` and ``grp.count`` (zero for these groups on entry) from ``used``
    on (rows before it belong to the groups :func:`partition_simple` placed). A nested
    multiplexer comes after the one selecting its group, so its domain is known. ``first``:
    scratch, at least the rows of the largest such message. Returns ``(rows of the groups,
    used)``: ``grp.rows``, or a larger copy when it was too small."""
    msgs, sigs, lk, sig_group = tabs
    bits = bit_buffers()
    grp_rows = grp.rows
    count = grp.count
    fill = np.zeros(count.shape[0], np.int64)
    for m in range(lk.mux0.shape[0]):
        b0 = rows.offsets[m]
        mlen = msgs.length[m]
        for k in range(lk.mux0[m], lk.mux1[m]):
            p = lk.sig[k]
            pg = sig_group[p]
            dn = count[pg] if pg >= 0 else rows.offsets[m + 1] - b0
            d0 = grp.row_base[pg] if pg >= 0 else 0
            l1 = lk.lk1[k]
            pcol = cols.values[cols.base[p]:]
            for j in range(dn):
                i = np.uint64(grp_rows[d0 + j] if pg >= 0 else j)
                if pg < 0:
                    pv = pcol[i]
                else:
                    pv = value8(rows.payload[b0 + i], rows.dlc[b0 + i], sigs, p, mlen, bits)
                e = _entry(lk, k, pv)
                first[j] = e
                if e < l1:
                    key = lk.keys[e]
                    while e < l1 and lk.keys[e] == key:
                        count[lk.group[e]] += 1
                        e += 1
            need = 0
            for g in lk.groups[lk.g0[k]:lk.g1[k]]:
                grp.row_base[g] = used + need
                fill[g] = used + need
                need += count[g]
            if used + need > grp_rows.shape[0]:
                bigger = np.empty(used + 2 * need, np.int64)
                bigger[:used] = grp_rows[:used]
                grp_rows = bigger
            for j in range(dn):
                e = first[j]
                if e >= l1:
                    continue
                i = grp_rows[d0 + j] if pg >= 0 else j
                key = lk.keys[e]
                while e < l1 and lk.keys[e] == key:
                    g = lk.group[e]
                    grp_rows[np.uint64(fill[g])] = i
                    fill[g] += 1
                    e += 1
            used += need
    return grp_rows, used
