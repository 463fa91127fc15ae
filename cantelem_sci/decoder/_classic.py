"""The classic-CAN path (8-byte payloads): frames to message-ordered 64-bit words, signals
column by column, multiplexed signals by group.

Steps, each a kernel: scatter the frames into message order (:func:`scatter8`), decode
every signal no multiplexer selects (:func:`decode_columns8`), sort the multiplexed
messages' rows into their groups (:mod:`._partition`), gather each group's rows
(:func:`gather_groups`) and decode its members (:func:`decode_groups8`).

The group outputs are the only ones whose sizes are unknown before the kernels run: a
group's rows are known once its multiplexer values are decoded. When they can be bounded
beforehand (:func:`._plan.group_bound`: only simple multiplexers whose groups have the same
number of members), every step runs in one kernel call (:func:`decode_classic`); between
calls the interpreter would allocate cold, just after the kernels have streamed tens of
megabytes through the caches (0.6-0.8 ms of a 12-15 ms decode of the sample vehicle's half
hour). Otherwise the partition runs first and the group outputs are allocated once their
size is known (:func:`decode_groups`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from ._bits import bit_buffers, column, fit8
from ._channel import channel_column, fill_messages, group_meta
from ._match import lower_bound
from ._partition import partition_groups, partition_simple
from ._plan import group_bases, group_bound
from ._scratch import gid_buffer, scratch_buffer
from ._tables import Wanted

if TYPE_CHECKING:  # pragma: no cover
    from ._decode import Prepared


@njit(cache=True, nogil=True)
def scatter8(frames, rows, msgs, want):
    """Counting-sort scatter of frames into message order (frames of message ``m`` at
    ``rows.offsets[m]:rows.offsets[m + 1]``, in their original order): the payload as one
    64-bit word, time, and when ``want``-ed the dlc and the J1939 source address (only for
    the J1939 messages' frames: the other rows are a fill, :mod:`._channel`). One
    sequential read of every input. Returns whether a frame's channel differs from its
    message's first (:mod:`._channel`). (Each column scattered costs about a nanosecond a
    frame, so a dlc that is 8 for every frame is filled in by the caller instead.)

    The arrays are taken out of their structs before the loop: read through an inlined
    helper inside it, the same code ran 50x slower."""
    msg, payload, dlc, time, channel, arbitration_id = frames
    offsets, out_payload, out_dlc, out_time, _, out_sa, first = rows
    with_dlc, with_channel, with_sa = want
    sa_of = msgs.j1939
    fill = offsets[:-1].astype(np.uint64)
    odd = np.uint8(0)
    for f in range(msg.shape[0]):
        m = msg[f]
        if m >= 0:
            j = fill[m]  # unsigned: numba checks signed indices for wraparound (slow)
            fill[m] = j + np.uint64(1)
            out_payload[j] = payload[f]
            out_time[j] = time[f]
            if with_dlc:
                out_dlc[j] = dlc[f]
            if with_channel:
                odd |= channel[f] ^ first[m]
            if with_sa:
                if sa_of[m]:
                    out_sa[j] = arbitration_id[f] & 0xFF
    return odd != 0


@njit(cache=True, nogil=True)
def decode_columns8(rows, msgs, sigs, cols):
    """Every signal that no multiplexer selects (multiplexers included) of every message,
    column by column: signal ``s`` of the i-th row of its message at
    ``cols.values[cols.base[s] + i]``, the value cantools gives with ``scaling=True``, NaN
    where the frame is too short; ``cols.out_of_range[s]`` counts values outside the DBC
    range."""
    bits = bit_buffers()
    for m in range(msgs.sig0.shape[0]):
        b0 = rows.offsets[m]
        b1 = rows.offsets[m + 1]
        if b1 == b0:
            continue
        words = rows.payload[b0:b1]
        dlc = rows.dlc[b0:b1]
        for s in range(msgs.sig0[m], msgs.sig1[m]):
            if sigs.parent[s] >= 0:
                continue
            c0 = cols.base[s]
            cols.out_of_range[s] += column(words, dlc, fit8(sigs, s, msgs.length[m]), sigs, s,
                                           cols.values[c0:c0 + b1 - b0], bits)


#: Rows of a message gathered into its groups at a time: 0.5 MiB of its payload and time
#: columns, as large as this machine's L2, so they are read from memory once and then
#: served from L2/L3 while every group takes its rows from them (faster than 8 k rows on
#: the sample).
GATHER_BLOCK = 32768


@njit(cache=True, nogil=True, inline="always")
def _gather(src, sel, dst):
    for q in range(sel.shape[0]):
        dst[q] = src[np.uint64(sel[q])]  # unsigned: no wraparound check


@njit(cache=True, nogil=True)
def gather_groups(rows, grp_msg, grp, want):
    """The rows of every group copied from the message-ordered columns: payload word, time,
    and when ``want``-ed dlc, channel and source address, all at ``grp.row_base[g] + q``.

    A group's rows are spread over its whole message, so gathering group after group would
    read each message once per group (24 times for the sample battery message). The rows
    are taken block by block instead: each block of a message, read once, serves all its
    groups. A group's rows within a block are found by a binary search, and then copied by
    plain counted loops (a loop that tested each row against the block's end was 1.2-1.35x
    slower on the sample)."""
    n_grp = grp_msg.shape[0]
    cur = np.zeros(n_grp, np.int64)
    g0 = 0
    while g0 < n_grp:  # the groups of one message are consecutive
        m = grp_msg[g0]
        g1 = g0 + 1
        while g1 < n_grp and grp_msg[g1] == m:
            g1 += 1
        b0 = rows.offsets[m]
        n = rows.offsets[m + 1] - b0
        for i1 in range(GATHER_BLOCK, n + GATHER_BLOCK, GATHER_BLOCK):
            for g in range(g0, g1):
                r0 = grp.row_base[g]
                sel = grp.rows[r0:r0 + grp.count[g]]
                q0 = cur[g]
                q1 = lower_bound(sel, q0, sel.shape[0], i1)
                cur[g] = q1
                s_ = sel[q0:q1]
                k0 = r0 + q0
                k1 = r0 + q1
                _gather(rows.payload[b0:b0 + n], s_, grp.payload[k0:k1])
                _gather(rows.time[b0:b0 + n], s_, grp.time[k0:k1])
                if want.dlc:
                    _gather(rows.dlc[b0:b0 + n], s_, grp.dlc[k0:k1])
                if want.channel:
                    _gather(rows.channel[b0:b0 + n], s_, grp.channel[k0:k1])
                if want.sa:
                    _gather(rows.sa[b0:b0 + n], s_, grp.sa[k0:k1])
        g0 = g1


@njit(cache=True, nogil=True)
def decode_groups8(grp, msgs, sigs, gtab, gcols):
    """The members of every group, column by column over the group's gathered payload
    words: member ``s`` of group row ``q`` at ``gcols.values[gcols.base[s] + q]``."""
    bits = bit_buffers()
    for g in range(gtab.msg.shape[0]):
        mlen = msgs.length[gtab.msg[g]]
        r0 = grp.row_base[g]
        r1 = r0 + grp.count[g]
        words = grp.payload[r0:r1]
        dlc = grp.dlc[r0:r1]
        for j in range(gtab.mem0[g], gtab.mem1[g]):
            s = gtab.members[j]
            c0 = gcols.base[s]
            gcols.out_of_range[s] += column(words, dlc, fit8(sigs, s, mlen), sigs, s,
                                            gcols.values[c0:c0 + r1 - r0], bits)


@njit(cache=True, nogil=True)
def decode_rows8(frames, rows, tabs, cols, want):
    """Scatter, channel and source address columns, and every signal no multiplexer selects
    (``tabs``: ``(messages, signals)``). Returns whether some message came on several
    channels."""
    msgs, sigs = tabs
    if want.sa:  # the rows of messages other than J1939 ones: a fill (see _channel)
        fill_messages(rows.offsets, msgs.sa, rows.sa)
    mixed = scatter8(frames, rows, msgs, want)
    channel_column(frames, rows, want, mixed)
    decode_columns8(rows, msgs, sigs, cols)
    return mixed


@njit(cache=True, nogil=True)
def finish_groups(rows, tabs, grp, gcols, want, mixed):
    """Gather the group rows and decode their members (``tabs``: ``(messages, signals,
    groups, J1939 messages have groups)``); the channel and source address columns of the
    groups are gathered where they vary within a message, else filled."""
    msgs, sigs, gtab, groups_sa = tabs
    gather_groups(rows, gtab.msg, grp,
                  Wanted(want.dlc, want.channel and mixed, want.sa and groups_sa))
    group_meta(rows, msgs, gtab.msg, grp, (want.channel and not mixed,
                                            want.sa and not groups_sa))
    decode_groups8(grp, msgs, sigs, gtab, gcols)


@njit(cache=True, nogil=True)
def decode_classic(frames, rows, tabs, cols, grp, gcols, want, gid):
    """Every step in one call, the group outputs sized beforehand by
    :func:`._plan.group_bound` (``tabs``: ``(messages, signals, groups, simple
    multiplexers, J1939 messages have groups)``). Returns ``(group rows used, group values
    used)``."""
    msgs, sigs, gtab, simple, groups_sa = tabs
    mixed = decode_rows8(frames, rows, (msgs, sigs), cols, want)
    used = partition_simple(cols, rows.offsets, simple, grp, gid)
    n_values = group_bases(grp.count, gtab.sig_group, gcols.base)
    finish_groups(rows, (msgs, sigs, gtab, groups_sa), grp, gcols, want, mixed)
    return used, n_values


def decode(p: Prepared) -> dict[str, Any]:
    """The classic path for a prepared batch (:class:`._decode.Prepared`): fills its rows
    and columns and returns the ``group_*`` entries of :func:`._decode.decode_arrays`."""
    lay = p.layout
    want = p.want
    grp_tab = lay.groups.table
    total = p.rows.offsets[-1]
    bound = group_bound(p.counts, lay.msg_slow, lay.per_group)
    tabs = (lay.msgs, lay.sigs)
    if bound >= 0:
        grp, gcols = p.group_outputs(p.n_muxed, bound, scratch_buffer("gwords", p.n_muxed,
                                                                       np.uint64))
        used, n_values = decode_classic(p.frames, p.rows, (*tabs, grp_tab, lay.groups.simple,
                                                           lay.groups_j1939),
                                        p.cols, grp, gcols, want,
                                        gid_buffer(total, len(lay.groups.info)))
        return p.group_result(grp, gcols, used, n_values)
    mixed = decode_rows8(p.frames, p.rows, tabs, p.cols, want)
    grp = p.group_rows(p.n_muxed)
    used = partition_simple(p.cols, p.rows.offsets, lay.groups.simple, grp,
                            gid_buffer(total, len(lay.groups.info)))
    if p.max_slow:
        rows, used = partition_groups(p.rows, (*tabs, lay.groups.lookup, grp_tab.sig_group),
                                      p.cols, grp, used,
                                      scratch_buffer("first", p.max_slow, np.int64))
        grp = grp._replace(rows=rows)
    base = np.empty(lay.sigs.pos.shape[0], np.int64)
    n_values = group_bases(grp.count, grp_tab.sig_group, base)
    grp, gcols = p.group_outputs(used, n_values, scratch_buffer("gwords", used, np.uint64),
                                 grp, base)
    finish_groups(p.rows, (*tabs, grp_tab, lay.groups_j1939), grp, gcols, want, mixed)
    return p.group_result(grp, gcols, used, n_values)

