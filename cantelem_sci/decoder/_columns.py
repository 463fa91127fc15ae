"""numba kernels of the classic-CAN fast path: frames to message-ordered 64-bit words, then
signals column by column, and multiplexed signals in compact form.

Small module-level functions on arrays, ``cache=True``. Their references are the generic
kernel :func:`._kernels.decode_grouped` (same values, tested on every corpus DBC) and
:func:`compact_from_dense` (the compact form written plainly from the dense one).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._kernels import (
    CONV_IDENTITY,
    CONV_INTEGER,
    KIND_INT,
    NAN,
    _convert,
    _lookup,
    _scratch,
    lower_bound,
)

_M8 = np.uint64(0x00FF00FF00FF00FF)
_M16 = np.uint64(0x0000FFFF0000FFFF)


@intrinsic
def _bits_as_f64(typingctx, x):
    """The float64 whose IEEE bits are the uint64 ``x`` (a register move, no memory)."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_TWO52_BITS = np.uint64(0x4330000000000000)  # the bits of 2.0**52
_BIAS = np.int64(1 << 51)
_TWO52_PLUS_BIAS = 6755399441055744.0  # 2.0**52 + 2.0**51


@njit(cache=True, nogil=True, inline="always")
def _small_int_to_f64(iv):
    """``float64(iv)`` for ``-2**51 <= iv < 2**51``, exactly, in a way that vectorises: the
    biased value becomes the mantissa of 2**52, and subtracting the bias and 2**52 is exact.
    x86 before AVX-512 has no vector int64 -> float64 conversion, so LLVM keeps
    ``np.float64(iv)`` scalar; this is about twice as fast there."""
    return _bits_as_f64(np.uint64(iv + _BIAS) | _TWO52_BITS) - _TWO52_PLUS_BIAS


@njit(cache=True, nogil=True, inline="always")
def _bswap(x):
    x = ((x & _M8) << np.uint64(8)) | ((x >> np.uint64(8)) & _M8)
    x = ((x & _M16) << np.uint64(16)) | ((x >> np.uint64(16)) & _M16)
    return (x << np.uint64(32)) | (x >> np.uint64(32))


@njit(cache=True, nogil=True)
def frame_flags(is_remote, is_error, dlc, channel, usable):
    """One pass over the per-frame flags (the bool arrays viewed as uint8, so the loop
    vectorises): ``usable`` (neither remote nor error) into ``usable``; returns (usable
    frames, every dlc at least 8, any channel other than 0)."""
    n_usable = 0
    short = np.uint8(0)
    chan = np.uint8(0)
    one = np.uint8(1)
    for f in range(usable.shape[0]):
        u = one ^ ((is_remote[f] | is_error[f]) & one)
        usable[f] = u
        n_usable += u
        short |= np.uint8(dlc[f] < 8)
        chan |= channel[f]
    return n_usable, short == 0, chan != 0


@njit(cache=True, nogil=True)
def scatter8(msg_of_frame, offsets, words, dlc, time, channel, arbitration_id, rows, row_dlc,
             out_time, first_channel, out_sa, sa_of, with_dlc, with_channel, with_sa):
    """Counting-sort scatter of frames into message order (frames of message ``m`` at
    ``offsets[m]:offsets[m + 1]``, in their original order): the payload as one
    little-endian 64-bit word, time, and, when asked, the dlc and the low id byte (the
    J1939 source address; only for the messages with ``sa_of[m]``, the J1939 ones: the
    caller fills the others' rows with their id's low byte beforehand, see
    :attr:`._layout.Layout.msg_sa`). One sequential read of every input. (Each column
    scattered costs about a nanosecond a frame, so a dlc that is 8 for every frame is
    filled in by the caller instead.)

    The channel is not scattered: with ``with_channel``, each frame's is compared with
    ``first_channel`` of its message (:mod:`._channel`); returns whether any differs."""
    fill = offsets[:-1].astype(np.uint64)
    odd = np.uint8(0)
    for f in range(msg_of_frame.shape[0]):
        m = msg_of_frame[f]
        if m >= 0:
            j = fill[m]  # unsigned: numba checks signed indices for wraparound (slow)
            fill[m] = j + np.uint64(1)
            rows[j] = words[f]
            out_time[j] = time[f]
            if with_dlc:
                row_dlc[j] = dlc[f]
            if with_channel:
                odd |= channel[f] ^ first_channel[m]
            if with_sa:
                if sa_of[m]:
                    out_sa[j] = arbitration_id[f] & 0xFF
    return odd != 0


@njit(cache=True, nogil=True, inline="always")
def _need_bytes(pos, ln, mlen):
    """Bytes a frame must carry for the signal to be present (9: never, the message is
    shorter than the signal)."""
    nb = (pos + ln + 7) >> 3
    return nb if nb <= mlen and nb <= 8 else 9


@njit(cache=True, nogil=True, inline="always")
def _field(r, isbe, lsh, rsh):
    """The raw (unsigned) field of one 64-bit payload word; :func:`._kernels._convert` signs
    it."""
    if isbe:
        r = _bswap(r)
    return (r << lsh) >> rsh


@njit(cache=True, nogil=True, inline="always")
def _shifts(pos, ln, isbe):
    sh = 64 - pos - ln if isbe else pos
    return np.uint64(64 - sh - ln), np.uint64(64 - ln)


@njit(cache=True, nogil=True)
def _column_int(rows, row_dlc, b0, cnt, isbe, lsh, rsh, sgn, cv, sc, of, sci, ofi, nb,
                lo, hi, small, out, col):
    """One integer signal over ``cnt`` contiguous rows; returns the out-of-range count.

    The branches are loop-invariant, so LLVM unswitches and vectorises the loop. It runs on
    slices: indexing with an offset (``rows[b0 + i]``) makes numba check for negative
    indices and the loop stays scalar, about ten times slower. An identity conversion is
    ``x * 1.0 + 0.0``: the same float64 (never -0.0). ``small``: the integer (after an
    integer conversion) always lies in ``[-2**51, 2**51)`` (:func:`small_integer`), so it
    converts to float64 through :func:`_small_int_to_f64`."""
    if cv == CONV_IDENTITY:
        sc = 1.0
        of = 0.0
    integer = cv == CONV_INTEGER
    r_ = rows[b0:b0 + cnt]
    d_ = row_dlc[b0:b0 + cnt]
    o_ = out[col:col + cnt]
    bad = 0
    for i in range(cnt):
        r = r_[i]
        if isbe:
            r = _bswap(r)
        if small:
            iv = np.int64(r << lsh) >> rsh if sgn else np.int64((r << lsh) >> rsh)
            if integer:
                x = _small_int_to_f64(iv * sci + ofi)
            else:
                x = _small_int_to_f64(iv) * sc + of
        elif sgn:
            iv = np.int64(r << lsh) >> rsh
            x = np.float64(iv * sci + ofi) if integer else np.float64(iv) * sc + of
        else:
            u = (r << lsh) >> rsh
            x = np.float64(np.int64(u) * sci + ofi) if integer else np.float64(u) * sc + of
        v = x if d_[i] >= nb else NAN
        o_[i] = v
        bad += np.int64(v < lo) + np.int64(v > hi)
    return bad


def small_integer(length: int, signed: bool, conv: int, scale_i: int, offset_i: int) -> bool:
    """Whether an integer signal's value (after an integer conversion) always lies in
    ``[-2**51, 2**51)``, the range :func:`_small_int_to_f64` converts exactly."""
    top = 1 << (length - 1 if signed else length)  # |raw| <= top
    if conv == CONV_INTEGER:
        return top * abs(scale_i) + abs(offset_i) < 1 << 51
    return top <= 1 << 51


@njit(cache=True, nogil=True)
def decode_columns8(rows, row_dlc, offsets, msg_len, msg_sig0, msg_sig1, pos, length, be,
                    signed, kind, conv, scale, offset, scale_i, offset_i, small, parent, lo, hi,
                    col_base, out, out_of_range):
    """Every signal that no multiplexer selects (``parent[s] < 0``, multiplexers included) of
    every message, column by column, from message-ordered 64-bit words.

    ``out[col_base[s] + i]`` receives signal ``s`` of the i-th frame of its message: the
    value cantools gives with ``scaling=True``, NaN where the frame is too short.
    ``out_of_range[s]`` counts values outside ``[lo[s], hi[s]]`` (NaN bounds: never).
    Multiplexed signals are decoded by group (:func:`decode_groups8`).
    """
    u32, f32, u64, f64 = _scratch()
    for m in range(msg_sig0.shape[0]):
        b0 = offsets[m]
        cnt = offsets[m + 1] - b0
        if cnt == 0:
            continue
        mlen = msg_len[m]
        for s in range(msg_sig0[m], msg_sig1[m]):
            if parent[s] >= 0:
                continue
            ln = length[s]
            isbe = be[s]
            nb = _need_bytes(pos[s], ln, mlen)
            col = col_base[s]
            if kind[s] == KIND_INT:
                lsh, rsh = _shifts(pos[s], ln, isbe)
                out_of_range[s] += _column_int(rows, row_dlc, b0, cnt, isbe, lsh, rsh,
                                               signed[s], conv[s], scale[s], offset[s],
                                               scale_i[s], offset_i[s], nb, lo[s], hi[s],
                                               small[s], out, col)
                continue
            out_of_range[s] += _column_any(rows, row_dlc, b0, cnt, s, mlen, pos, length, be,
                                           signed, kind, conv, scale, offset, scale_i, offset_i,
                                           lo, hi, out, col, u32, f32, u64, f64)


@njit(cache=True, nogil=True, inline="always")
def _value(word, dl, s, mlen, pos, length, be, signed, kind, conv, scale, offset, scale_i,
           offset_i, u32, f32, u64, f64):
    """Signal ``s`` of one payload word (NaN when the frame is too short)."""
    ln = length[s]
    if dl < _need_bytes(pos[s], ln, mlen):
        return NAN
    lsh, rsh = _shifts(pos[s], ln, be[s])
    raw = _field(word, be[s], lsh, rsh)
    return _convert(raw, ln, signed[s], kind[s], conv[s], scale[s], offset[s], scale_i[s],
                    offset_i[s], u32, f32, u64, f64)


@njit(cache=True, nogil=True)
def _column_any(rows, row_dlc, b0, cnt, s, mlen, pos, length, be, signed, kind, conv, scale,
                offset, scale_i, offset_i, lo, hi, out, col, u32, f32, u64, f64):
    """Signal ``s`` of any kind (IEEE floats too) over ``cnt`` rows, value by value through
    :func:`_value`; returns the out-of-range count."""
    bad = 0
    for i in range(cnt):
        v = _value(rows[b0 + i], row_dlc[b0 + i], s, mlen, pos, length, be, signed, kind, conv,
                   scale, offset, scale_i, offset_i, u32, f32, u64, f64)
        out[col + i] = v
        bad += (v < lo[s]) | (v > hi[s])
    return bad


@njit(cache=True, nogil=True)
def _classify_simple(values, col_base, offsets, msg_fast, fast_dir0, fast_dir1, fast_grp, m,
                     grp_count, gid):
    """The group that each row of message ``m`` selects (``gid``; -1: none, for NaN,
    negative and large values too), counted into ``grp_count``."""
    p = msg_fast[m]
    b0 = offsets[m]
    cnt = offsets[m + 1] - b0
    col = values[col_base[p]:col_base[p] + cnt]
    t0 = fast_dir0[m]
    tn = fast_dir1[m] - t0
    tab = fast_grp[t0:t0 + tn]
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
            grp_count[g] += 1


@njit(cache=True, nogil=True)
def partition_simple(values, col_base, offsets, msg_fast, fast_dir0, fast_dir1, fast_grp,
                     grp_count, grp_row_base, grp_rows, gid):
    """The rows of the groups of simple multiplexers (``msg_fast[m]``: the one top-level
    multiplexer of message ``m`` whose values each select one group, else -1): a counting
    sort of the message's rows by the group of their multiplexer value, read from
    ``values``. Fills ``grp_count`` and ``grp_row_base`` of these groups (placed first, in
    group order) and ``grp_rows``; returns the rows used. ``gid`` is scratch with a slot
    per row (message order). :func:`partition_groups` does the same for any multiplexer
    through a search per row; it is the reference.

    Each row's group is looked up once, in a pass of its own, then counted and placed:
    about twice as fast as looking it up in both the counting and the placing pass."""
    for m in range(msg_fast.shape[0]):
        if msg_fast[m] >= 0:
            _classify_simple(values, col_base, offsets, msg_fast, fast_dir0, fast_dir1,
                             fast_grp, m, grp_count, gid)
    used = 0
    for g in range(grp_count.shape[0]):
        grp_row_base[g] = used
        used += grp_count[g]
    fill = grp_row_base.astype(np.uint64)
    for m in range(msg_fast.shape[0]):
        if msg_fast[m] < 0:
            continue
        b0 = offsets[m]
        gd = gid[b0:offsets[m + 1]]
        for i in range(gd.shape[0]):
            g = gd[i]
            if g >= 0:
                q = fill[g]
                fill[g] = q + np.uint64(1)
                grp_rows[q] = i
    return used


@njit(cache=True, nogil=True)
def partition_groups(rows, row_dlc, offsets, msg_len, msg_mux0, msg_mux1, mux_sig, mux_lk0,
                     mux_lk1, lk_keys, lk_grp, mux_dir0, mux_dir1, lk_direct, mux_g0, mux_g1,
                     mux_groups, sig_group, pos, length, be, signed, kind, conv, scale, offset,
                     scale_i, offset_i, col_base, values, grp_row_base, grp_count, used, first,
                     grp_rows):
    """The rows (indices within their message) of every multiplexer group, in order.

    A multiplexer's domain is every row of its message (top-level multiplexer, value read
    from ``values``) or the rows of its own group (nested, value decoded here); each row
    goes to every group its value selects (entries ``lk_keys[e] == value`` of the
    multiplexer's sorted range, found through ``lk_direct`` for small values). Fills
    ``grp_row_base`` and ``grp_count`` (zero for these groups on entry) so that group
    ``g``'s rows are ``grp_rows[grp_row_base[g]:grp_row_base[g] + grp_count[g]]``, from
    ``used`` on (rows before it belong to the groups :func:`partition_simple` placed); returns
    ``(grp_rows, used)``. A nested multiplexer comes after the one selecting its group, so
    its domain is known. ``first`` (scratch, at least the rows of the largest multiplexed
    message) and ``grp_rows`` (grown when too small) are buffers the caller may reuse.
    """
    u32, f32, u64, f64 = _scratch()
    fill = np.zeros(grp_count.shape[0], np.int64)
    for m in range(msg_mux0.shape[0]):
        b0 = offsets[m]
        mlen = msg_len[m]
        for k in range(msg_mux0[m], msg_mux1[m]):
            p = mux_sig[k]
            pg = sig_group[p]
            dn = grp_count[pg] if pg >= 0 else offsets[m + 1] - b0
            d0 = grp_row_base[pg] if pg >= 0 else 0
            l0 = mux_lk0[k]
            l1 = mux_lk1[k]
            t0 = mux_dir0[k]
            tn = mux_dir1[k] - t0
            pcol = values[col_base[p]:]
            for j in range(dn):
                i = np.uint64(grp_rows[d0 + j] if pg >= 0 else j)
                if pg < 0:
                    pv = pcol[i]
                else:
                    pv = _value(rows[b0 + i], row_dlc[b0 + i], p, mlen, pos, length, be,
                                signed, kind, conv, scale, offset, scale_i, offset_i,
                                u32, f32, u64, f64)
                e = l1
                if pv == pv:
                    key = np.int64(pv)
                    if tn >= 0:
                        if 0 <= key < tn:
                            e = lk_direct[np.uint64(t0 + key)]
                            if e < 0:
                                e = l1
                    else:
                        e = _lookup(lk_keys, l0, l1, key)
                first[j] = e
                if e < l1:
                    key = lk_keys[e]
                    while e < l1 and lk_keys[e] == key:
                        grp_count[lk_grp[e]] += 1
                        e += 1
            need = 0
            for g in mux_groups[mux_g0[k]:mux_g1[k]]:
                grp_row_base[g] = used + need
                fill[g] = used + need
                need += grp_count[g]
            if used + need > grp_rows.shape[0]:
                bigger = np.empty(used + 2 * need, np.int64)
                bigger[:used] = grp_rows[:used]
                grp_rows = bigger
            for j in range(dn):
                e = first[j]
                if e >= l1:
                    continue
                i = grp_rows[d0 + j] if pg >= 0 else j
                key = lk_keys[e]
                while e < l1 and lk_keys[e] == key:
                    g = lk_grp[e]
                    grp_rows[np.uint64(fill[g])] = i
                    fill[g] += 1
                    e += 1
            used += need
    return grp_rows, used


#: Rows of a message gathered into its groups at a time: 0.5 MiB of its payload and time
#: columns, as large as this machine's L2, so they are read from memory once and then
#: served from L2/L3 while every group takes its rows from them (faster than 8 k rows on
#: the sample).
GATHER_BLOCK = 32768


@njit(cache=True, nogil=True)
def gather_groups(rows, row_dlc, offsets, grp_msg, grp_row_base, grp_count, grp_rows,
                  row_time, row_channel, row_sa, with_dlc, with_channel, with_sa, words, dls,
                  grp_time, grp_channel, grp_sa):
    """The rows of every group (see :func:`partition_groups`; ascending within a group)
    copied from the message-ordered columns: payload word (and, when asked, dlc) to
    ``words`` / ``dls``, time, and when asked channel and source address, to ``grp_*``, all
    at ``grp_row_base[g] + q``.

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
        b0 = offsets[m]
        n = offsets[m + 1] - b0
        m_rows = rows[b0:b0 + n]
        m_dlc = row_dlc[b0:b0 + n]
        m_time = row_time[b0:b0 + n]
        m_chan = row_channel[b0:b0 + n]
        m_sa = row_sa[b0:b0 + n]
        for i1 in range(GATHER_BLOCK, n + GATHER_BLOCK, GATHER_BLOCK):
            for g in range(g0, g1):
                r0 = grp_row_base[g]
                sel = grp_rows[r0:r0 + grp_count[g]]
                q0 = cur[g]
                q1 = lower_bound(sel, q0, sel.shape[0], i1)
                cur[g] = q1
                s_ = sel[q0:q1]
                k0 = r0 + q0
                k1 = r0 + q1
                w_ = words[k0:k1]
                t_ = grp_time[k0:k1]
                for q in range(s_.shape[0]):
                    i = np.uint64(s_[q])  # unsigned: no wraparound check
                    w_[q] = m_rows[i]
                    t_[q] = m_time[i]
                if with_dlc:
                    d_ = dls[k0:k1]
                    for q in range(s_.shape[0]):
                        d_[q] = m_dlc[np.uint64(s_[q])]
                if with_channel:
                    c_ = grp_channel[k0:k1]
                    for q in range(s_.shape[0]):
                        c_[q] = m_chan[np.uint64(s_[q])]
                if with_sa:
                    a_ = grp_sa[k0:k1]
                    for q in range(s_.shape[0]):
                        a_[q] = m_sa[np.uint64(s_[q])]
        g0 = g1


@njit(cache=True, nogil=True)
def decode_groups8(words, dls, msg_len, grp_msg, grp_mem0, grp_mem1, grp_members,
                   grp_row_base, grp_count, pos, length, be, signed, kind, conv, scale, offset,
                   scale_i, offset_i, small, lo, hi, gcol_base, gvalues, out_of_range):
    """Members of every group, column by column over the group's gathered payload words
    (:func:`gather_groups`): member ``s`` at ``gvalues[gcol_base[s] + q]``, every member a
    contiguous loop."""
    u32, f32, u64, f64 = _scratch()
    for g in range(grp_msg.shape[0]):
        mlen = msg_len[grp_msg[g]]
        r0 = grp_row_base[g]
        cnt = grp_count[g]
        for j in range(grp_mem0[g], grp_mem1[g]):
            s = grp_members[j]
            col = gcol_base[s]
            ln = length[s]
            isbe = be[s]
            nb = _need_bytes(pos[s], ln, mlen)
            if kind[s] == KIND_INT:
                lsh, rsh = _shifts(pos[s], ln, isbe)
                out_of_range[s] += _column_int(words, dls, r0, cnt, isbe, lsh, rsh, signed[s],
                                               conv[s], scale[s], offset[s], scale_i[s],
                                               offset_i[s], nb, lo[s], hi[s], small[s],
                                               gvalues, col)
                continue
            out_of_range[s] += _column_any(words, dls, r0, cnt, s, mlen, pos, length, be,
                                           signed, kind, conv, scale, offset, scale_i, offset_i,
                                           lo, hi, gvalues, col, u32, f32, u64, f64)


@njit(cache=True, nogil=True)
def expand_groups(values, col_base, offsets, grp_msg, grp_mem0, grp_mem1, grp_members,
                  grp_row_base, grp_count, grp_rows, gvalues, gcol_base):
    """The dense form of every multiplexed signal from its group: column
    ``values[col_base[s]:...]`` (one row per frame of the message) NaN, except the group's
    rows, which take the group's values. Every multiplexed signal is the member of one
    group, so each column is written once."""
    for g in range(grp_msg.shape[0]):
        m = grp_msg[g]
        n = offsets[m + 1] - offsets[m]
        r0 = grp_row_base[g]
        cnt = grp_count[g]
        sel = grp_rows[r0:r0 + cnt]
        for j in range(grp_mem0[g], grp_mem1[g]):
            s = grp_members[j]
            out = values[col_base[s]:col_base[s] + n]
            out[:] = NAN
            src = gvalues[gcol_base[s]:gcol_base[s] + cnt]
            for q in range(cnt):
                out[np.uint64(sel[q])] = src[q]


@njit(cache=True, nogil=True)
def compact_from_dense(values, col_base, offsets, grp_msg, grp_parent, grp_ids0, grp_ids1,
                       grp_ids, grp_mem0, grp_mem1, grp_members, gcol_size, row_time,
                       row_channel, row_sa):
    """The compact form from dense columns, written plainly: group ``g`` takes the rows of
    its message whose parent multiplexer value (dense, NaN when absent) is one of its ids.
    Used for CAN FD payloads and as the reference of :func:`partition_groups` and
    :func:`decode_groups8`. Returns ``(grp_row_base, grp_count, grp_rows, gcol_base,
    gvalues, grp_time, grp_channel, grp_sa)`` laid out as theirs (``gcol_size`` is only a
    shape)."""
    n_g = grp_msg.shape[0]
    sel = []
    for g in range(n_g):
        m = grp_msg[g]
        b0 = offsets[m]
        pcol = col_base[grp_parent[g]]
        keep = np.zeros(offsets[m + 1] - b0, np.bool_)
        for i in range(keep.shape[0]):
            pv = values[pcol + i]
            if pv == pv:
                for k in range(grp_ids0[g], grp_ids1[g]):
                    if grp_ids[k] == np.int64(pv):
                        keep[i] = True
        sel.append(np.flatnonzero(keep))
    grp_count = np.zeros(n_g, np.int64)
    grp_row_base = np.zeros(n_g, np.int64)
    total = 0
    for g in range(n_g):
        grp_row_base[g] = total
        grp_count[g] = sel[g].shape[0]
        total += grp_count[g]
    gcol_base = np.zeros(gcol_size, np.int64)
    vtotal = 0
    for g in range(n_g):
        for j in range(grp_mem0[g], grp_mem1[g]):
            gcol_base[grp_members[j]] = vtotal
            vtotal += grp_count[g]
    gvalues = np.empty(vtotal, np.float64)
    grp_time = np.empty(total, np.int64)
    grp_channel = np.empty(total, np.uint8)
    grp_sa = np.empty(total, np.uint8)
    for g in range(n_g):
        b0 = offsets[grp_msg[g]]
        for q in range(grp_count[g]):
            i = sel[g][q]
            r = grp_row_base[g] + q
            grp_time[r] = row_time[b0 + i]
            grp_channel[r] = row_channel[b0 + i]
            grp_sa[r] = row_sa[b0 + i]
            for j in range(grp_mem0[g], grp_mem1[g]):
                s = grp_members[j]
                gvalues[gcol_base[s] + q] = values[col_base[s] + i]
    grp_rows = np.empty(total, np.int64)
    for g in range(n_g):
        grp_rows[grp_row_base[g]:grp_row_base[g] + grp_count[g]] = sel[g]
    return grp_row_base, grp_count, grp_rows, gcol_base, gvalues, grp_time, grp_channel, grp_sa


@njit(cache=True, nogil=True)
def count_out_of_range(values, col_base, rows_of_sig, lo, hi, out_of_range):
    """``out_of_range[s]`` += values of signal ``s`` outside ``[lo[s], hi[s]]``."""
    for s in range(col_base.shape[0]):
        c = col_base[s]
        bad = 0
        for i in range(rows_of_sig[s]):
            v = values[c + i]
            bad += (v < lo[s]) | (v > hi[s])
        out_of_range[s] += bad
