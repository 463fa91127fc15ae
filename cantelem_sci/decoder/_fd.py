"""The CAN FD path (64-byte payloads) on the column kernel of classic frames.

Each frame's payload words (as many as its message holds) are sorted into message order,
and every signal is read through a *window* (:attr:`._layout.Layout.windows`): the 8 bytes
of its row that hold it, with its position taken relative to them, so the classic column
kernel (:func:`._bits.column`) decodes it unchanged. Rows are taken in blocks of
:data:`BLOCK`, turned into word columns once for all the message's signals; a window is
then a column, or two neighbouring columns shifted together. Simple multiplexers use the
partition of classic frames (:func:`._partition.partition_simple`), their members read the
same way from the group's rows.

A layout with a signal that fits no window, and messages with a multiplexer that is not
simple, take the generic path (:mod:`._generic`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from ._bits import bit_buffers, column
from ._channel import channel_column, fill_messages, group_meta
from ._classic import scatter8
from ._partition import partition_simple
from ._plan import group_bases
from ._scratch import gid_buffer, scratch_buffer
from ._tables import Frames, Rows

if TYPE_CHECKING:  # pragma: no cover
    from ._decode import Prepared

#: Bytes a row of the FD row buffer holds.
ROW = 64
#: Rows decoded at a time, every signal of the message in turn (128 KiB of rows).
BLOCK = 2048


@njit(cache=True, nogil=True)
def scatter64(frames, rows, msgs, want):
    """:func:`._classic.scatter8` for 64-byte payloads (``payload`` ``(n, 8)`` uint64): the
    classic scatter on the first word of each payload (with every other column), then the
    words after it that a frame of its message can hold. The rest of a row is left as it
    was: a window reaching past the message only reads bits that its shifts then drop."""
    first_words = Frames(frames.msg, frames.payload[:, 0], frames.dlc, frames.time,
                         frames.channel, frames.arbitration_id)
    first_rows = Rows(rows.offsets, rows.payload[:, 0], rows.dlc, rows.time, rows.channel,
                      rows.sa, rows.first)
    mixed = scatter8(first_words, first_rows, msgs, want)
    msg, data = frames.msg, frames.payload
    out = rows.payload
    fill = rows.offsets[:-1].astype(np.uint64)
    n_words = (np.minimum(msgs.length, ROW) + 7) // 8
    for f in range(msg.shape[0]):
        m = msg[f]
        if m >= 0:
            j = fill[m]
            fill[m] = j + np.uint64(1)
            for k in range(1, n_words[m]):
                out[j, k] = data[f, k]
    return mixed


@njit(cache=True, nogil=True)
def _window_column(cols, o, cnt, tmp_words):
    """The words of window ``o`` of ``cnt`` rows held column by column (``cols[k, i]``:
    word ``k`` of row ``i``): a column itself when ``o`` is a multiple of 8, else two
    neighbouring columns shifted together into ``tmp_words``."""
    a = o >> 3
    r = np.uint64(8 * (o & 7))
    lo = cols[a, :cnt]
    if r == 0:
        return lo
    hi = cols[a + 1, :cnt]  # a <= 6 here: a window starts at byte 56 at most
    left = np.uint64(64) - r
    out = tmp_words[:cnt]
    for i in range(cnt):
        out[i] = (lo[i] >> r) | (hi[i] << left)
    return out


@njit(cache=True, nogil=True, inline="always")
def _block_signals(block, sigs, signals, cols_out, q0, bits):
    """Each signal ``s`` of ``signals`` over a block of rows held as word columns
    (``block``: ``(cols, tmp_words, dlc, win)``), into ``cols_out.values`` from
    ``cols_out.base[s] + q0``."""
    cols, tmp_words, dlc, win = block
    cnt = dlc.shape[0]
    for s in signals:
        w = _window_column(cols, win.win[s], cnt, tmp_words)
        c0 = cols_out.base[s] + q0
        cols_out.out_of_range[s] += column(w, dlc, (win.lsh[s], win.rsh[s], win.nb[s]), sigs,
                                           s, cols_out.values[c0:c0 + cnt], bits)


@njit(cache=True, nogil=True)
def decode_columns64(rows, tabs, cols_out, scratch):
    """:func:`._classic.decode_columns8` on 64-byte rows (``tabs``: ``(messages, signals,
    windows)``; ``scratch``: ``(cols, tmp_words)``, ``(8, BLOCK)`` and ``BLOCK`` uint64).

    Block by block of :data:`BLOCK` rows, the words a frame of the message can hold are
    turned into columns: one pass over the rows for all the message's signals, instead of
    a strided pass per signal."""
    msgs, sigs, win = tabs
    cols, tmp_words = scratch
    bits = bit_buffers()
    for m in range(msgs.sig0.shape[0]):
        start = rows.offsets[m]
        end = rows.offsets[m + 1]
        nw = (min(msgs.length[m], ROW) + 7) // 8
        signals = [s for s in range(msgs.sig0[m], msgs.sig1[m]) if sigs.parent[s] < 0]
        for b0 in range(start, end, BLOCK):
            cnt = min(BLOCK, end - b0)
            blk = rows.payload[b0:b0 + cnt]
            for i in range(cnt):
                for k in range(nw):
                    cols[k, i] = blk[i, k]
            _block_signals((cols, tmp_words, rows.dlc[b0:b0 + cnt], win), sigs, signals,
                           cols_out, b0 - start, bits)


@njit(cache=True, nogil=True)
def decode_groups64(rows, tabs, grp, gcols, scratch):
    """The members of every group (``tabs``: ``(messages, signals, groups, windows)``;
    ``scratch``: ``(cols, tmp_words, tmp_dlc)``). Block by block of :data:`BLOCK` group
    rows, the rows are gathered straight into word columns, then each member is decoded
    from its window's column: member ``s`` of group row ``q`` at
    ``gcols.values[gcols.base[s] + q]``."""
    msgs, sigs, gtab, win = tabs
    cols, tmp_words, tmp_dlc = scratch
    bits = bit_buffers()
    for g in range(gtab.msg.shape[0]):
        m = gtab.msg[g]
        b0 = rows.offsets[m]
        nw = (min(msgs.length[m], ROW) + 7) // 8
        r0 = grp.row_base[g]
        members = gtab.members[gtab.mem0[g]:gtab.mem1[g]]
        for q0 in range(0, grp.count[g], BLOCK):
            cnt = min(BLOCK, grp.count[g] - q0)
            sel = grp.rows[r0 + q0:r0 + q0 + cnt]
            for q in range(cnt):
                i = b0 + sel[q]
                tmp_dlc[q] = rows.dlc[i]
                for k in range(nw):
                    cols[k, q] = rows.payload[i, k]
            _block_signals((cols, tmp_words, tmp_dlc[:cnt], win), sigs, members, gcols, q0,
                           bits)


@njit(cache=True, nogil=True)
def gather_meta(rows, grp_msg, grp, want):
    """Time, and when ``want``-ed channel and source address, of every group row."""
    for g in range(grp_msg.shape[0]):
        b0 = rows.offsets[grp_msg[g]]
        r0 = grp.row_base[g]
        for q in range(grp.count[g]):
            i = b0 + grp.rows[r0 + q]
            grp.time[r0 + q] = rows.time[i]
            if want.channel:
                grp.channel[r0 + q] = rows.channel[i]
            if want.sa:
                grp.sa[r0 + q] = rows.sa[i]


@njit(cache=True, nogil=True)
def decode_rows64(frames, rows, tabs, cols, want, scratch):
    """Scatter, channel and source address columns, and every signal no multiplexer
    selects (``tabs``: ``(messages, signals, windows)``). Returns whether some message
    came on several channels."""
    msgs = tabs[0]
    if want.sa:
        fill_messages(rows.offsets, msgs.sa, rows.sa)
    mixed = scatter64(frames, rows, msgs, want)
    channel_column(frames, rows, want, mixed)
    decode_columns64(rows, tabs, cols, scratch)
    return mixed


def decode(p: Prepared) -> dict[str, Any]:
    """The FD path for a prepared batch (:class:`._decode.Prepared`): fills its rows and
    columns and returns the ``group_*`` entries of :func:`._decode.decode_arrays`."""
    lay = p.layout
    want = p.want
    gtab = lay.groups.table
    win = lay.windows
    cols = scratch_buffer("wcols", 8 * BLOCK, np.uint64).reshape(8, BLOCK)
    tmp_words = scratch_buffer("wwords", BLOCK, np.uint64)
    mixed = decode_rows64(p.frames, p.rows, (lay.msgs, lay.sigs, win), p.cols, want,
                          (cols, tmp_words))
    grp = p.group_rows(p.n_muxed)
    used = partition_simple(p.cols, p.rows.offsets, lay.groups.simple, grp,
                            gid_buffer(p.rows.offsets[-1], len(lay.groups.info)))
    base = np.empty(lay.sigs.pos.shape[0], np.int64)
    n_values = group_bases(grp.count, gtab.sig_group, base)
    grp, gcols = p.group_outputs(used, n_values, None, grp, base)
    gather_meta(p.rows, gtab.msg, grp, want._replace(channel=want.channel and mixed,
                                                     sa=want.sa and lay.groups_j1939))
    group_meta(p.rows, lay.msgs, gtab.msg, grp, (want.channel and not mixed,
                                                  want.sa and not lay.groups_j1939))
    decode_groups64(p.rows, (lay.msgs, lay.sigs, gtab, win), grp, gcols,
                    (cols, tmp_words, scratch_buffer("wdlc", BLOCK, np.uint8)))
    return p.group_result(grp, gcols, used, n_values)
