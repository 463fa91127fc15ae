"""J1939 transport protocol (SAE J1939-21) reassembly of recorded frames: BAM broadcasts and
RTS/CTS connections into whole multi-packet messages, passively.

A session is one sender and one destination on one channel (``0xFF`` for a broadcast). The
connection management frame (TP.CM, PGN 0xEC00) announces the size, the packet count and the
PGN; the data frames (TP.DT, PGN 0xEB00) carry 7 bytes each behind a sequence number. A
listener cannot ask again, so a packet with an unexpected sequence number (lost, out of
order), data without an announcement, an announcement that interrupts a session, an abort,
or a session still open at the end drops that message and is reported (``PROBLEMS``). For
RTS/CTS, the receiver's CTS may ask for packets again: the expected sequence number follows
it, so retransmitted packets are taken once.

Frames come in as rows (stream, kind, data): ``kind`` 0 for TP.CM from the sender (BAM,
RTS, abort), 1 for TP.CM from the receiver (CTS, end-of-message ack, abort), 2 for TP.DT.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._isotp import note, pack, unfinished

__all__ = ["PROBLEMS", "J1939Messages", "reassemble_tp", "tp_rows"]

# the codes ISO-TP uses (``_isotp``) where the cause is the same
LOST, ORPHAN, INTERRUPTED, BAD_ANNOUNCEMENT, INCOMPLETE, ABORTED = 1, 2, 3, 4, 5, 6
PROBLEMS = {LOST: "lost_or_out_of_order", ORPHAN: "data_without_announcement",
            INTERRUPTED: "interrupted", BAD_ANNOUNCEMENT: "bad_announcement",
            INCOMPLETE: "incomplete_at_end", ABORTED: "aborted"}
PF_CM, PF_DT = 0xEC, 0xEB
BAM, RTS, CTS, EOMA, ABORT = 0x20, 0x10, 0x11, 0x13, 0xFF


class _In(NamedTuple):
    stream: np.ndarray  # int64
    kind: np.ndarray  # int64: 0 sender CM, 1 receiver CM, 2 DT
    data: np.ndarray  # uint8 (n, >= 8)


class _Out(NamedTuple):
    first: np.ndarray
    last: np.ndarray
    size: np.ndarray
    pgn: np.ndarray
    ok: np.ndarray
    frame_msg: np.ndarray  # DT frame -> message, -1: not taken
    prob_frame: np.ndarray
    prob_code: np.ndarray


@njit(cache=True, nogil=True)
def assign_tp(fr: _In, nstreams: int, out: _Out) -> tuple[int, int]:
    """Walk the frames; return (messages, problems)."""
    cur = np.full(nstreams, -1, np.int64)
    expect = np.zeros(nstreams, np.int64)  # next sequence number
    npk = np.zeros(nstreams, np.int64)  # packets announced
    skip = np.zeros(nstreams, np.bool_)
    nm = 0
    npb = 0
    for i in range(fr.stream.shape[0]):
        s = fr.stream[i]
        d = fr.data[i]
        out.frame_msg[i] = -1
        if fr.kind[i] == 2:
            if cur[s] < 0:
                if not skip[s]:
                    npb = note(out.prob_frame, out.prob_code, npb, i, ORPHAN)
                    skip[s] = True
                continue
            m = cur[s]
            sq = int(d[0])
            if sq != expect[s]:
                npb = note(out.prob_frame, out.prob_code, npb, i, LOST)
                cur[s] = -1
                skip[s] = True
                continue
            out.frame_msg[i] = m
            expect[s] += 1
            out.last[m] = i
            if sq == npk[s]:
                out.ok[m] = True
                cur[s] = -1
            continue
        ctrl = int(d[0])
        if ctrl == ABORT:  # from either side
            if cur[s] >= 0:
                npb = note(out.prob_frame, out.prob_code, npb, i, ABORTED)
                cur[s] = -1
                skip[s] = True
            continue
        if fr.kind[i] == 1:  # from the receiver
            if ctrl == CTS and cur[s] >= 0:
                nxt = int(d[2])
                if int(d[1]) > 0 and 1 <= nxt <= expect[s]:
                    expect[s] = nxt  # a packet asked again (or the next one)
            continue
        if ctrl != BAM and ctrl != RTS:
            continue
        size = int(d[1]) | int(d[2]) << 8
        n = int(d[3])
        if size < 9 or size > 1785 or n != (size + 6) // 7:
            npb = note(out.prob_frame, out.prob_code, npb, i, BAD_ANNOUNCEMENT)
            cur[s] = -1
            skip[s] = True
            continue
        if cur[s] >= 0:
            npb = note(out.prob_frame, out.prob_code, npb, i, INTERRUPTED)
        skip[s] = False
        m = nm
        nm += 1
        cur[s] = m
        expect[s] = 1
        npk[s] = n
        out.first[m] = i
        out.last[m] = i
        out.size[m] = size
        out.pgn[m] = int(d[5]) | int(d[6]) << 8 | int(d[7]) << 16
        out.ok[m] = False
    return nm, unfinished(cur, out.first, out.prob_frame, out.prob_code, npb)


@njit(cache=True, nogil=True)
def gather_tp(fr: _In, out: _Out, offset: np.ndarray, buf: np.ndarray) -> None:
    """Copy the 7 data bytes of each taken packet into its message's place."""
    for i in range(fr.stream.shape[0]):
        m = out.frame_msg[i]
        if m < 0 or not out.ok[m]:
            continue
        pos = (int(fr.data[i, 0]) - 1) * 7
        for k in range(7):
            if pos + k < out.size[m]:
                buf[offset[m] + pos + k] = fr.data[i, 1 + k]


class J1939Messages(NamedTuple):
    """Complete messages: stream, first (announcement) and last frame, PGN, payload
    ``buf[offset:offset+size]``; problems as ``(frame, code)``."""

    stream: np.ndarray
    first: np.ndarray
    last: np.ndarray
    pgn: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    buf: np.ndarray
    problem_frame: np.ndarray
    problem_code: np.ndarray


def tp_rows(arbitration_id: np.ndarray, channel: np.ndarray, data: np.ndarray,
            usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the TP frames among the ``usable`` (extended, not remote or error) frames:
    (frame index, stream key, kind); the key is (channel, sender, destination), so a
    receiver's CTS lands on its session. Works on the whole batch's arrays: only the TP
    frames are copied.

    Example
    -------
    >>> ids = np.array([0x1CECFF00, 0x1CEBFF00, 0x18FEF100])
    >>> idx, key, kind = tp_rows(ids, np.zeros(3, np.uint8), np.full((3, 8), 0x20, np.uint8))
    >>> idx.tolist(), kind.tolist()
    ([0, 1], [0, 2])
    """
    pf_all = (np.asarray(arbitration_id, np.uint32) >> 16) & 0xFF  # (uint32: no wide copy)
    hit = (pf_all == PF_CM) | (pf_all == PF_DT)
    if usable is not None:
        hit &= usable
    idx = np.flatnonzero(hit)
    aid = np.asarray(arbitration_id)[idx].astype(np.int64)
    pf = (aid >> 16) & 0xFF
    sa, da = aid & 0xFF, (aid >> 8) & 0xFF
    ctrl = data[idx, 0]
    from_rx = (pf == PF_CM) & ((ctrl == CTS) | (ctrl == EOMA))
    kind = np.where(pf == PF_DT, 2, np.where(from_rx, 1, 0))
    sender = np.where(from_rx, da, sa)
    dest = np.where(from_rx, sa, da)
    # an abort may come from either side: the sender's stream first, then the receiver's
    ab = np.flatnonzero((pf == PF_CM) & (ctrl == ABORT) & (da != 0xFF))
    if ab.size:
        s0, d0 = sender[ab], dest[ab]
        idx = np.concatenate([idx, idx[ab]])
        kind = np.concatenate([kind, np.ones(ab.size, np.int64)])
        sender = np.concatenate([sender, d0])
        dest = np.concatenate([dest, s0])
        order = np.argsort(idx, kind="stable")
        idx, kind, sender, dest = idx[order], kind[order], sender[order], dest[order]
    key = (np.asarray(channel, np.int64)[idx] << 16) | (sender << 8) | dest
    return idx, key, kind.astype(np.int64)


def reassemble_tp(stream: np.ndarray, kind: np.ndarray, data: np.ndarray,
                  nstreams: int | None = None) -> J1939Messages:
    """Reassemble J1939 TP messages from rows in time order (see the module docstring).

    Example
    -------
    >>> d = np.array([[0x20, 18, 0, 3, 0xFF, 0xCA, 0xFE, 0x00],
    ...               [1, 0x43, 0xFF, 0xD4, 3, 9, 0x7E, 0x90],
    ...               [2, 0x0C, 0x14, 2, 0x61, 2, 9, 1],
    ...               [3, 0x61, 2, 0x0C, 3, 0xFF, 0xFF, 0xFF]], np.uint8)
    >>> r = reassemble_tp(np.zeros(4, np.int64), np.array([0, 2, 2, 2]), d)
    >>> hex(int(r.pgn[0])), int(r.size[0])
    ('0xfeca', 18)
    """
    stream = np.ascontiguousarray(stream, np.int64)
    n = stream.shape[0]
    if nstreams is None:
        nstreams = int(stream.max()) + 1 if n else 0
    fr = _In(stream, np.ascontiguousarray(kind, np.int64), np.ascontiguousarray(data, np.uint8))
    out = _Out(np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64),
               np.empty(n, np.int64), np.zeros(n, np.bool_), np.empty(n, np.int64),
               np.empty(n + nstreams, np.int64), np.empty(n + nstreams, np.int64))
    nm, npb = assign_tp(fr, nstreams, out) if n else (0, 0)
    ok = out.ok[:nm]
    size, offset, buf = pack(ok, out.size[:nm])
    if nm:
        gather_tp(fr, _Out(out.first[:nm], out.last[:nm], out.size[:nm], out.pgn[:nm], ok,
                           out.frame_msg, out.prob_frame, out.prob_code), offset, buf)
    keep = np.flatnonzero(ok)
    first = out.first[:nm][keep]
    return J1939Messages(stream[first], first, out.last[:nm][keep], out.pgn[:nm][keep],
                         offset[keep], size[keep], buf, out.prob_frame[:npb].copy(),
                         out.prob_code[:npb].copy())
