"""CAN FD frames (64-byte payloads) on the column path of classic frames.

The classic path (:mod:`._columns`) sorts each frame's payload, one 64-bit word, into
message order and decodes every signal as a loop over a contiguous column of words. Here
each frame's payload words (as many as its message holds) are sorted into message order,
and every signal is read through a *window*: the 8 bytes from byte ``o`` of its row,
``o`` chosen so that the signal lies inside them (any signal spanning at most 8 bytes:
every signal of up to 57 bits, and byte-aligned ones of up to 64). Its position is taken
relative to byte ``o``, in both byte orders (little endian: from the least significant
bit of byte ``o``; big endian: from the most significant one), so the classic column
kernel decodes it unchanged. Rows are taken in blocks of :data:`BLOCK`, turned into word
columns once for all the message's signals; a window is then a column, or two
neighbouring columns shifted together. Simple multiplexers use the same partition as on
classic frames, their members read the same way from the group's rows.

A layout with a signal that fits no window, and messages with a multiplexer that is not
simple, keep the generic path (:func:`._kernels.decode_grouped`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ._columns import _bswap, _column_int
from ._kernels import KIND_INT, NAN, _convert, _scratch

#: Bytes a row of the FD row buffer holds.
ROW = 64
#: Windows start at bytes 0..LAST_WINDOW (a window is 8 bytes of a 64-byte row).
LAST_WINDOW = ROW - 8
#: Rows decoded at a time, every signal of the message in turn (128 KiB of rows).
BLOCK = 2048


@dataclass(frozen=True)
class Windows:
    """Per signal (global index): the window's first byte ``win``, the shifts of the field
    within the window ``lsh``/``rsh`` (as :func:`._columns._shifts` gives them) and
    ``nb``, the payload bytes a frame must carry for the signal to be present (255: never,
    the message is shorter). ``ok``: every signal has a window."""

    win: np.ndarray
    lsh: np.ndarray
    rsh: np.ndarray
    nb: np.ndarray
    ok: bool


def windows(pos: np.ndarray, length: np.ndarray, be: np.ndarray, sig_msg_len: np.ndarray
            ) -> Windows:
    """The window of every signal (``pos``: little-endian start bit, or for big endian the
    msb in network bit numbering; ``sig_msg_len``: the length of the signal's message).

    Example
    -------
    >>> w = windows(np.array([0, 100, 8]), np.array([16, 20, 64]), np.array([False, True, False]),
    ...             np.array([64, 64, 64]))
    >>> w.win.tolist(), w.nb.tolist(), w.ok
    ([0, 12, 1], [2, 15, 9], True)
    """
    n = pos.shape[0]
    win = np.zeros(n, np.int64)
    lsh = np.zeros(n, np.uint64)
    rsh = np.zeros(n, np.uint64)
    nb = np.full(n, 255, np.int64)
    ok = True
    for s in range(n):
        p, ln = int(pos[s]), int(length[s])
        first, last = p >> 3, (p + ln - 1) >> 3
        o = max(0, min(first, LAST_WINDOW))
        if last >= o + 8 or ln < 1 or ln > 64:
            ok = False
            continue
        q = p - 8 * o  # the position within the window
        sh = 64 - q - ln if be[s] else q
        win[s], lsh[s], rsh[s] = o, 64 - sh - ln, 64 - ln
        need = (p + ln + 7) >> 3
        if need <= int(sig_msg_len[s]):
            nb[s] = need
    return Windows(win, lsh, rsh, nb, ok)


@njit(cache=True, nogil=True)
def scatter64(msg_of_frame, offsets, msg_len, data, dlc, time, channel, arbitration_id, rows,
              row_dlc, out_time, first_channel, out_sa, sa_of, with_dlc, with_channel,
              with_sa):
    """:func:`._columns.scatter8` for 64-byte payloads (``data`` and ``rows`` ``(n, 8)``
    uint64), copying the words a frame of its message can hold (``msg_len``, bytes). The
    rest of a row is left as it was: a window reaching past the message only reads bits
    that its shifts then drop. Returns whether a frame's channel differs from
    ``first_channel`` of its message (checked with ``with_channel``)."""
    fill = offsets[:-1].astype(np.uint64)
    odd = np.uint8(0)
    n_words = (np.minimum(msg_len, ROW) + 7) // 8
    for f in range(msg_of_frame.shape[0]):
        m = msg_of_frame[f]
        if m >= 0:
            j = fill[m]
            fill[m] = j + np.uint64(1)
            src = data[f]
            dst = rows[j]
            for k in range(n_words[m]):
                dst[k] = src[k]
            out_time[j] = time[f]
            if with_dlc:
                row_dlc[j] = dlc[f]
            if with_channel:
                odd |= channel[f] ^ first_channel[m]
            if with_sa:
                if sa_of[m]:
                    out_sa[j] = arbitration_id[f] & 0xFF
    return odd != 0


@njit(cache=True, nogil=True)
def _column_float(rows, row_dlc, b0, cnt, lsh, rsh, isbe, ln, sgn, kd, cv, sc, of, sci, ofi,
                  nb, lo, hi, out, col, u32, f32, u64, f64):
    """A signal of any kind (IEEE floats too) over ``cnt`` rows of a window."""
    bad = 0
    r_ = rows[b0:b0 + cnt]
    d_ = row_dlc[b0:b0 + cnt]
    o_ = out[col:col + cnt]
    for i in range(cnt):
        r = r_[i]
        if isbe:
            r = _bswap(r)
        raw = (r << lsh) >> rsh
        v = _convert(raw, ln, sgn, kd, cv, sc, of, sci, ofi, u32, f32, u64, f64) \
            if d_[i] >= nb else NAN
        o_[i] = v
        bad += (v < lo) | (v > hi)
    return bad


@njit(cache=True, nogil=True)
def _column(rows, row_dlc, b0, cnt, s, win_lsh, win_rsh, nb, length, be, signed, kind, conv,
            scale, offset, scale_i, offset_i, small, lo, hi, out, col, u32, f32, u64, f64):
    """Signal ``s`` over ``cnt`` rows of its window ``rows``: the classic integer kernel, or
    :func:`_column_float`. Returns the out-of-range count."""
    if kind[s] == KIND_INT:
        return _column_int(rows, row_dlc, b0, cnt, be[s], win_lsh[s], win_rsh[s], signed[s],
                           conv[s], scale[s], offset[s], scale_i[s], offset_i[s], nb[s],
                           lo[s], hi[s], small[s], out, col)
    return _column_float(rows, row_dlc, b0, cnt, win_lsh[s], win_rsh[s], be[s], length[s],
                         signed[s], kind[s], conv[s], scale[s], offset[s], scale_i[s],
                         offset_i[s], nb[s], lo[s], hi[s], out, col, u32, f32, u64, f64)


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


@njit(cache=True, nogil=True)
def decode_columns64(rows, row_dlc, offsets, msg_len, msg_sig0, msg_sig1, win, win_lsh,
                     win_rsh, nb, length, be, signed, kind, conv, scale, offset, scale_i,
                     offset_i, small, parent, lo, hi, col_base, out, out_of_range, cols,
                     tmp_words):
    """:func:`._columns.decode_columns8` on 64-byte rows (``rows``: ``(total, 8)`` uint64).

    Block by block of :data:`BLOCK` rows, the words a frame of the message can hold are
    turned into columns (``cols``, ``(8, BLOCK)`` scratch): one pass over the rows for all
    the message's signals, instead of a strided pass per signal. Each signal is then read
    from its window's column (:func:`_window_column`) by the classic column kernel."""
    u32, f32, u64, f64 = _scratch()
    for m in range(msg_sig0.shape[0]):
        start = offsets[m]
        end = offsets[m + 1]
        nw = (min(msg_len[m], ROW) + 7) // 8
        for b0 in range(start, end, BLOCK):
            cnt = min(BLOCK, end - b0)
            blk = rows[b0:b0 + cnt]
            for i in range(cnt):
                for k in range(nw):
                    cols[k, i] = blk[i, k]
            d_ = row_dlc[b0:b0 + cnt]
            for s in range(msg_sig0[m], msg_sig1[m]):
                if parent[s] >= 0:
                    continue
                w = _window_column(cols, win[s], cnt, tmp_words)
                out_of_range[s] += _column(w, d_, 0, cnt, s, win_lsh, win_rsh, nb, length, be,
                                           signed, kind, conv, scale, offset, scale_i,
                                           offset_i, small, lo, hi, out,
                                           col_base[s] + b0 - start, u32, f32, u64, f64)


@njit(cache=True, nogil=True)
def decode_groups64(rows, row_dlc, offsets, msg_len, grp_msg, grp_mem0, grp_mem1, grp_members,
                    grp_row_base, grp_count, grp_rows, win, win_lsh, win_rsh, nb, length, be,
                    signed, kind, conv, scale, offset, scale_i, offset_i, small, lo, hi,
                    gcol_base, gvalues, out_of_range, cols, tmp_dlc, tmp_words):
    """The members of every group (rows from :func:`._columns.partition_simple`). Block by
    block of :data:`BLOCK` group rows, the rows (``(total, 8)`` uint64) are gathered
    straight into columns (``cols``, ``(8, BLOCK)``; their dlc into ``tmp_dlc``), then each
    member is decoded from its window's column. Member ``s`` of group row ``q`` at
    ``gvalues[gcol_base[s] + q]``."""
    u32, f32, u64, f64 = _scratch()
    for g in range(grp_msg.shape[0]):
        m = grp_msg[g]
        b0 = offsets[m]
        nw = (min(msg_len[m], ROW) + 7) // 8
        r0 = grp_row_base[g]
        for q0 in range(0, grp_count[g], BLOCK):
            cnt = min(BLOCK, grp_count[g] - q0)
            sel = grp_rows[r0 + q0:r0 + q0 + cnt]
            for q in range(cnt):
                i = b0 + sel[q]
                tmp_dlc[q] = row_dlc[i]
                for k in range(nw):
                    cols[k, q] = rows[i, k]
            d_ = tmp_dlc[:cnt]
            for j in range(grp_mem0[g], grp_mem1[g]):
                s = grp_members[j]
                w = _window_column(cols, win[s], cnt, tmp_words)
                out_of_range[s] += _column(w, d_, 0, cnt, s, win_lsh, win_rsh, nb, length, be,
                                           signed, kind, conv, scale, offset, scale_i,
                                           offset_i, small, lo, hi, gvalues,
                                           gcol_base[s] + q0, u32, f32, u64, f64)


@njit(cache=True, nogil=True)
def gather_rows(offsets, grp_msg, grp_row_base, grp_count, grp_rows, row_time, row_channel,
                row_sa, with_channel, with_sa, grp_time, grp_channel, grp_sa):
    """Time, and when asked channel and source address, of every group row."""
    for g in range(grp_msg.shape[0]):
        b0 = offsets[grp_msg[g]]
        r0 = grp_row_base[g]
        for q in range(grp_count[g]):
            i = b0 + grp_rows[r0 + q]
            grp_time[r0 + q] = row_time[i]
            if with_channel:
                grp_channel[r0 + q] = row_channel[i]
            if with_sa:
                grp_sa[r0 + q] = row_sa[i]
