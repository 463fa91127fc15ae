"""numba kernels of the decoder: grouping frames by message and extracting bit fields.

Small module-level functions on arrays, ``cache=True``. The slow references they are
tested against are cantools itself (``tests/decode``) and :func:`extract_reference`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NAN = np.nan

# conversion codes (mirroring cantools' conversion classes)
CONV_IDENTITY = 0  # IdentityConversion: value = raw
CONV_LINEAR = 1  # LinearConversion: raw * scale + offset in float64
CONV_INTEGER = 2  # LinearIntegerConversion: raw * scale + offset in (exact) integers

KIND_INT = 0
KIND_F32 = 1
KIND_F64 = 2

#: Bit 31 marks an extended (29-bit) id in a match key; J1939 matches on the PGN part.
EXT_BIT = 1 << 31
J1939_MASK = 0x3FFFF00


@njit(cache=True, nogil=True, inline="always")
def lower_bound(keys, lo, hi, key):
    """The first index in ``lo:hi`` of the ascending ``keys`` whose key is at least ``key``
    (``hi`` when none is; binary search)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _lookup(keys, lo, hi, key):
    """First index of ``key`` in the sorted ``keys[lo:hi]`` (``hi`` when absent)."""
    i = lower_bound(keys, lo, hi, key)
    return i if i < hi and keys[i] == key else hi


@njit(cache=True, nogil=True, inline="always")
def _find(keys, vals, lo, hi, key):
    """``vals[i]`` where ``keys[i] == key`` in the sorted ``keys[lo:hi]``, else -1."""
    i = _lookup(keys, lo, hi, key)
    return vals[i] if i < hi else -1


@njit(cache=True, nogil=True)
def match_frames(arbitration_id, is_extended, channel, usable, slot_of_channel, any_slot,
                 keys, vals, bounds, std, result, counts):
    """Message index of each frame (-1: none). Slot ``t`` owns the sorted keys
    ``keys[bounds[2t]:bounds[2t + 1]]`` (id | extended bit 31) and its J1939 keys (PGN part
    of the id | bit 31) ``keys[bounds[2t + 1]:bounds[2t + 2]]``. A frame tries the slot of its
    channel (exact id, then J1939), then the any-channel slot ``any_slot`` the same way.
    Standard (11-bit) ids are looked up directly in ``std[t, id]`` (the same entries).
    ``counts[m]`` is incremented for every frame matched to message ``m``."""
    ext_bit = np.int64(EXT_BIT)
    for f in range(arbitration_id.shape[0]):
        if not usable[f]:
            continue
        key = np.int64(arbitration_id[f]) | (ext_bit if is_extended[f] else 0)
        c = np.int64(channel[f])
        first = slot_of_channel[c] if 0 <= c < slot_of_channel.shape[0] else -1
        for t in (first, any_slot):
            if t < 0:
                continue
            hi = bounds[2 * t + 1]
            if key < 2048:
                m = std[t, key]
            else:
                m = _find(keys, vals, bounds[2 * t], hi, key)
            if m < 0 and is_extended[f]:
                m = _find(keys, vals, hi, bounds[2 * t + 2], (key & J1939_MASK) | ext_bit)
            if m >= 0:
                result[f] = m
                counts[m] += 1
                break


@njit(cache=True, nogil=True)
def match_frames_any(arbitration_id, is_extended, usable, keys, vals, bounds, std0, result,
                     counts):
    """:func:`match_frames` when every DBC applies to any channel (one slot, ``std0`` its
    direct 11-bit table), writing ``result`` for every frame (no prefill needed).

    Two passes: the first matches standard ids through the direct table and marks the
    others (extended ids, or ids above 0x7FF without the extended flag) -2; the second,
    only when some were marked, searches them in the sorted keys. The first loop is
    short enough for LLVM to keep tight: 1.6 ms against 3.4 for :func:`match_frames` on
    the sample's 758 k frames."""
    n_deferred = 0
    for f in range(arbitration_id.shape[0]):
        key = np.int64(arbitration_id[f])
        if key < 2048 and not is_extended[f]:
            m = std0[key] if usable[f] else -1
            result[f] = m
            if m >= 0:
                counts[m] += 1
        else:
            u = usable[f]
            result[f] = -2 if u else -1
            n_deferred += u
    if n_deferred == 0:
        return
    ext_bit = np.int64(EXT_BIT)
    hi = bounds[1]
    end = bounds[2]
    for f in range(arbitration_id.shape[0]):
        if result[f] != -2:
            continue
        ext = is_extended[f]
        key = np.int64(arbitration_id[f]) | (ext_bit if ext else 0)
        m = _find(keys, vals, 0, hi, key)
        if m < 0 and ext:
            m = _find(keys, vals, hi, end, (key & J1939_MASK) | ext_bit)
        result[f] = m
        if m >= 0:
            counts[m] += 1


@njit(cache=True, nogil=True)
def group_by_message(msg_of_frame, n_messages):
    """Counting sort of frames by message index (O(n)); -1 (unmatched) is left out.

    Returns ``(counts, offsets, order)``: frames of message m are
    ``order[offsets[m]:offsets[m] + counts[m]]`` in their original order.
    """
    n = msg_of_frame.shape[0]
    counts = np.zeros(n_messages, np.int64)
    for f in range(n):
        m = msg_of_frame[f]
        if m >= 0:
            counts[m] += 1
    offsets = np.zeros(n_messages + 1, np.int64)
    for m in range(n_messages):
        offsets[m + 1] = offsets[m] + counts[m]
    fill = offsets[:-1].copy()
    order = np.empty(offsets[n_messages], np.int64)
    for f in range(n):
        m = msg_of_frame[f]
        if m >= 0:
            order[fill[m]] = f
            fill[m] += 1
    return counts, offsets, order


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


@njit(cache=True, nogil=True)
def _scratch():
    """One-element buffers that reinterpret raw bits as float32 / float64."""
    u32 = np.zeros(1, np.uint32)
    u64 = np.zeros(1, np.uint64)
    return u32, u32.view(np.float32), u64, u64.view(np.float64)


@njit(cache=True, nogil=True)
def decode_grouped(data, dlc, order, offsets, counts, msg_len, msg_sig0, msg_sig1,
                   pos, length, be, signed, kind, conv, scale, offset, scale_i, offset_i,
                   parent, mux0, mux1, mux_vals, col_base, out):
    """Decode every signal of every message, column by column.

    ``out[col_base[s] + i]`` receives signal s of the i-th frame of its message: the
    physical value as cantools computes it with ``scaling=True``, NaN where the signal is
    absent (frame too short, multiplexer not selecting it).
    """
    width = data.shape[1]
    u32, f32, u64, f64 = _scratch()
    for m in range(msg_len.shape[0]):
        cnt = counts[m]
        if cnt == 0:
            continue
        base = offsets[m]
        mlen = msg_len[m]
        for s in range(msg_sig0[m], msg_sig1[m]):
            p0 = pos[s]
            ln = length[s]
            need = p0 + ln
            col = col_base[s]
            par = parent[s]
            pcol = col_base[par] if par >= 0 else 0
            isbe = be[s]
            sgn = signed[s]
            kd = kind[s]
            cv = conv[s]
            sc = scale[s]
            of = offset[s]
            sci = scale_i[s]
            ofi = offset_i[s]
            for i in range(cnt):
                f = order[base + i]
                avail = dlc[f]
                if avail > mlen:
                    avail = mlen
                if avail > width:
                    avail = width
                if need > avail * 8:
                    out[col + i] = NAN
                    continue
                if par >= 0:
                    pv = out[pcol + i]
                    if pv != pv:
                        out[col + i] = NAN
                        continue
                    mv = np.int64(pv)
                    hit = False
                    for k in range(mux0[s], mux1[s]):
                        if mux_vals[k] == mv:
                            hit = True
                            break
                    if not hit:
                        out[col + i] = NAN
                        continue
                if isbe:
                    raw = _extract_be(data, f, p0, ln)
                else:
                    raw = _extract_le(data, f, p0, ln)
                out[col + i] = _convert(raw, ln, sgn, kd, cv, sc, of, sci, ofi, u32, f32,
                                        u64, f64)


def extract_reference(payload: bytes, pos: int, length: int, big_endian: bool) -> int:
    """Slow, obviously-correct bit extraction with Python ints (for accordance tests).

    ``pos`` is the little-endian start bit, or for big endian the msb's index in
    network (big-endian sequential) bit numbering.
    """
    if big_endian:
        whole = int.from_bytes(payload, "big")
        total = len(payload) * 8
        return (whole >> (total - pos - length)) & ((1 << length) - 1)
    whole = int.from_bytes(payload, "little")
    return (whole >> pos) & ((1 << length) - 1)


@njit(cache=True, nogil=True, inline="always")
def _convert(raw, ln, sgn, kd, cv, sc, of, sci, ofi, u32, f32, u64, f64):
    if kd == KIND_INT:
        if sgn:
            if ln < 64 and (raw >> np.uint64(ln - 1)) & np.uint64(1):
                raw |= ~((np.uint64(1) << np.uint64(ln)) - np.uint64(1))
            iv = np.int64(raw)
            if cv == CONV_IDENTITY:
                return np.float64(iv)
            if cv == CONV_INTEGER:
                return np.float64(iv * sci + ofi)
            return np.float64(iv) * sc + of
        if cv == CONV_IDENTITY:
            return np.float64(raw)
        if cv == CONV_INTEGER:
            return np.float64(np.int64(raw) * sci + ofi)
        return np.float64(raw) * sc + of
    if kd == KIND_F32:
        u32[0] = np.uint32(raw)
        x = np.float64(f32[0])
    else:
        u64[0] = raw
        x = f64[0]
    return x if cv == CONV_IDENTITY else x * sc + of
