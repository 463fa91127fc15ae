"""The generic path: any payload width and any multiplexer, frame by frame.

Every signal of every message is decoded from the frames' bytes in message order (dense:
multiplexed signals NaN where their multiplexer does not select them), then the groups are
taken from the dense columns (:func:`._dense.compact_from_dense`). It serves what the
column paths do not (CAN FD signals wider than a window, FD messages with general
multiplexers, payloads neither 8 nor 64 bytes wide) and is their reference in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from ._bits import bit_buffers, convert, conversion
from ._dense import compact_from_dense
from ._tables import NAN

if TYPE_CHECKING:  # pragma: no cover
    from ._decode import Prepared


@njit(cache=True, nogil=True, inline="always")
def _extract_le(data, f, pos, length):
    lo = pos >> 3
    sh = pos & 7
    nb = (sh + length + 7) >> 3
    v = np.uint64(0)
    top = nb if nb < 8 else 8
    for k in range(top):
        v |= np.uint64(data[f, lo + k]) << np.uint64(8 * k)
    v >>= np.uint64(sh)
    if nb == 9:
        v |= np.uint64(data[f, lo + 8]) << np.uint64(64 - sh)
    if length < 64:
        v &= (np.uint64(1) << np.uint64(length)) - np.uint64(1)
    return v


@njit(cache=True, nogil=True, inline="always")
def _extract_be(data, f, pos, length):
    last = pos + length - 1
    lo = pos >> 3
    hi = last >> 3
    nb = hi - lo + 1
    sh = 7 - (last & 7)
    v = np.uint64(0)
    if nb <= 8:
        for k in range(nb):
            v = (v << np.uint64(8)) | np.uint64(data[f, lo + k])
        v >>= np.uint64(sh)
    else:
        for k in range(8):
            v = (v << np.uint64(8)) | np.uint64(data[f, lo + 1 + k])
        v >>= np.uint64(sh)
        v |= np.uint64(data[f, lo]) << np.uint64(64 - sh)
    if length < 64:
        v &= (np.uint64(1) << np.uint64(length)) - np.uint64(1)
    return v


@njit(cache=True, nogil=True, inline="always")
def _selected(out, pcol, i, mux_vals, k0, k1):
    """Whether row ``i``'s multiplexer value (dense column ``pcol`` of ``out``) is one of
    ``mux_vals[k0:k1]``."""
    pv = out[pcol + i]
    if pv != pv:
        return False
    mv = np.int64(pv)
    for k in range(k0, k1):
        if mux_vals[k] == mv:
            return True
    return False


@njit(cache=True, nogil=True)
def decode_grouped(frames, order, offsets, tabs, cols):
    """Every signal of every message, column by column (``frames``: ``(data, dlc)``, the
    ``(n, width)`` payload bytes; ``order``: the frames in message order; ``tabs``:
    ``(messages, signals, selecting values)``): signal ``s`` of the i-th frame of its
    message at ``cols.values[cols.base[s] + i]``, NaN where the signal is absent (frame too
    short, multiplexer not selecting it)."""
    data, dlc = frames
    msgs, sigs, mux_vals = tabs
    out = cols.values
    width = data.shape[1]
    bits = bit_buffers()
    for m in range(msgs.length.shape[0]):
        base = offsets[m]
        cnt = offsets[m + 1] - base
        mlen = msgs.length[m]
        for s in range(msgs.sig0[m], msgs.sig1[m]):
            p0 = sigs.pos[s]
            ln = sigs.length[s]
            need = p0 + ln
            col = cols.base[s]
            par = sigs.parent[s]
            pcol = cols.base[par] if par >= 0 else 0
            isbe = sigs.be[s]
            c = conversion(sigs, s)
            for i in range(cnt):
                f = order[base + i]
                avail = min(dlc[f], mlen, width)
                if need > avail * 8 or (par >= 0 and not _selected(
                        out, pcol, i, mux_vals, sigs.mux0[s], sigs.mux1[s])):
                    out[col + i] = NAN
                    continue
                raw = _extract_be(data, f, p0, ln) if isbe else _extract_le(data, f, p0, ln)
                out[col + i] = convert(raw, c, bits)


@njit(cache=True, nogil=True)
def count_out_of_range(cols, rows_of_sig, lo, hi):
    """``cols.out_of_range[s]`` += values of signal ``s`` outside ``[lo[s], hi[s]]``."""
    for s in range(cols.base.shape[0]):
        c = cols.base[s]
        bad = 0
        for i in range(rows_of_sig[s]):
            v = cols.values[c + i]
            bad += (v < lo[s]) | (v > hi[s])
        cols.out_of_range[s] += bad


@njit(cache=True, nogil=True)
def order_by_message(msg_of_frame, offsets):
    """The matched frames in message order (a counting sort; frames of message ``m`` at
    ``offsets[m]:offsets[m + 1]``, in their original order)."""
    fill = offsets[:-1].copy()
    order = np.empty(offsets[-1], np.int64)
    for f in range(msg_of_frame.shape[0]):
        m = msg_of_frame[f]
        if m >= 0:
            order[fill[m]] = f
            fill[m] += 1
    return order


def decode(p: Prepared) -> dict[str, Any]:
    """The generic path for a prepared batch (:class:`._decode.Prepared`): every column
    dense, then the ``group_*`` entries of :func:`._decode.decode_arrays` taken from them."""
    lay = p.layout
    b = p.batch
    rows = p.rows
    if len(lay.messages) and rows.offsets[-1]:
        order = order_by_message(p.frames.msg, rows.offsets)
        np.take(p.frames.time, order, out=rows.time)
        np.take(b.channel, order, out=p.public_rows["channel"])
        np.bitwise_and(b.arbitration_id[order], 0xFF, out=p.public_rows["source_address"],
                       casting="unsafe")
        decode_grouped((b.data, b.dlc), order, rows.offsets, (lay.msgs, lay.sigs,
                                                               lay.mux_vals), p.cols)
        count_out_of_range(p.cols, np.repeat(p.counts, lay.msgs.sig1 - lay.msgs.sig0),
                           lay.sigs.lo, lay.sigs.hi)
    gtab = lay.groups.table
    (row_base, count, grp_rows, gbase, gvalues, grp_time, grp_channel,
     grp_sa) = compact_from_dense(p.cols, rows.offsets, gtab, lay.sigs.pos.shape[0],
                                  (rows.time, p.public_rows["channel"],
                                   p.public_rows["source_address"]))
    return dict(group_count=count, group_row_base=row_base, group_rows=grp_rows,
                group_time=grp_time, group_channel=grp_channel, group_source_address=grp_sa,
                group_values=gvalues, group_col_base=gbase)
