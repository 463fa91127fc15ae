"""One pass over raw frames for OBD-II: answer identifiers, ISO-TP, PID split, fused.

:func:`scan` walks every frame once: it keeps the frames on an OBD-II answer identifier,
follows each stream's ISO-TP state exactly as :func:`._isotp.assign` does (the same
problems, at the same frames), and when a message completes it splits a service 01/02
answer into its PIDs, each a row of its (stream, service, PID) group holding the frame of
the answer's last packet and the PID's data bytes; other answers (service 09, negative)
are kept whole. It runs twice: once counting (group sizes, payload bytes), once filling
arrays sized by the count. The reference is the step-by-step path (``reassemble`` then the
split, kept in ``tests/decoder/obd_reference.py``); ``tests/decoder/test_obd.py`` checks the
two agree.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._isotp import BAD_LENGTH, BAD_PCI, INCOMPLETE, INTERRUPTED, LOST, ORPHAN

__all__ = ["ECUS_PER_CHANNEL", "ScanOut", "scan_obd"]

ECUS_PER_CHANNEL = 264  # 8 standard (0x7E8-0x7EF) and 256 extended (0x18DAF1xx) answer ids
ROW_BYTES = 8  # a PID's data (at most 4 bytes) and a freeze frame's number
#: counters: PID rows, whole messages, their bytes, problems, answers cut short
N_ROWS, N_OTHER, N_OTHER_BYTES, N_PROBLEMS, N_BAD = 0, 1, 2, 3, 4


class _Frames(NamedTuple):
    aid: np.ndarray
    ext: np.ndarray
    remote: np.ndarray
    error: np.ndarray
    chan: np.ndarray
    dlc: np.ndarray
    data: np.ndarray


class _State(NamedTuple):
    busy: np.ndarray  # bool per stream: a message in progress
    got: np.ndarray
    seq: np.ndarray
    skip: np.ndarray
    length: np.ndarray
    first: np.ndarray
    sbuf: np.ndarray  # (streams, longest declared length) bytes of messages in progress


class ScanOut(NamedTuple):
    """What a scan gives (see the module docstring)."""

    count: np.ndarray  # int64 (streams * 512,): rows per group
    start: np.ndarray  # int64: first row of each group (filled in between the passes)
    pos: np.ndarray  # int64: fill cursor per group
    row_frame: np.ndarray
    row_data: np.ndarray  # uint8 (rows, ROW_BYTES)
    o_stream: np.ndarray
    o_frame: np.ndarray
    o_off: np.ndarray
    o_len: np.ndarray
    o_buf: np.ndarray
    problems: np.ndarray  # int64 (problems, 3): frame, code, stream
    n: np.ndarray  # int64 counters (N_*)
    seen: np.ndarray  # int64 (streams,): answer frames per stream


@njit(cache=True, nogil=True)
def _problem(where: np.ndarray, n: np.ndarray, fill: bool, i: int, code: int, s: int) -> None:
    """Record problem ``code`` at frame ``i`` of stream ``s`` (rows of ``where``: frame,
    code, stream). Arrays, not the output struct: passing the struct costs reference
    counting at every call site."""
    k = n[N_PROBLEMS]
    if fill:
        where[k, 0] = i
        where[k, 1] = code
        where[k, 2] = s
    n[N_PROBLEMS] = k + 1


@njit(cache=True, nogil=True)
def scan(fr: _Frames, lens: np.ndarray, st: _State, out: ScanOut, fill: bool) -> int:
    """One pass (see the module docstring); ``st.sbuf`` is wide enough for the longest
    first-frame length; returns that length."""
    longest = 0
    for i in range(fr.aid.shape[0]):
        if fr.remote[i] or fr.error[i]:
            continue
        a = np.int64(fr.aid[i])
        if fr.ext[i]:
            if (a & 0x1FFFFF00) != 0x18DAF100:
                continue
            s = np.int64(fr.chan[i]) * 264 + 8 + (a & 0xFF)
        else:
            if a < 0x7E8 or a > 0x7EF:
                continue
            s = np.int64(fr.chan[i]) * 264 + (a - 0x7E8)
        out.seen[s] += 1
        n = np.int64(fr.dlc[i])
        if n == 0:
            _problem(out.problems, out.n, fill, i, BAD_LENGTH, s)
            continue
        b0 = np.int64(fr.data[i, 0])
        kind = b0 >> 4
        ln = 0
        start = 1
        if kind == 0:
            ln = b0 & 0xF
            if ln == 0 and n > 8:
                ln = np.int64(fr.data[i, 1])
                start = 2
            if ln == 0 or ln > n - start:
                kind = -1
        elif kind == 1:
            if n < 8:
                kind = -1
            else:
                ln = ((b0 & 0xF) << 8) | np.int64(fr.data[i, 1])
                start = 2
                if ln == 0:
                    ln = ((np.int64(fr.data[i, 2]) << 24) | (np.int64(fr.data[i, 3]) << 16)
                          | (np.int64(fr.data[i, 4]) << 8) | np.int64(fr.data[i, 5]))
                    start = 6
                if ln <= n - start - 1 or ln == 0:
                    kind = -1
        if kind == 3:
            continue
        if kind == -1 or kind > 3:
            _problem(out.problems, out.n, fill, i, BAD_LENGTH if kind == -1 else BAD_PCI, s)
            continue
        mlen = -1  # the length of a message completed by this frame (in st.sbuf[s])
        if kind == 2:
            if not st.busy[s]:
                if not st.skip[s]:
                    _problem(out.problems, out.n, fill, i, ORPHAN, s)
                    st.skip[s] = True
                continue
            if (b0 & 0xF) != st.seq[s]:
                _problem(out.problems, out.n, fill, i, LOST, s)
                st.busy[s] = False
                st.skip[s] = True
                continue
            take = min(n - 1, st.length[s] - st.got[s])
            for b in range(take):
                st.sbuf[s, st.got[s] + b] = fr.data[i, 1 + b]
            st.got[s] += take
            st.seq[s] = (st.seq[s] + 1) & 0xF
            if st.got[s] < st.length[s]:
                continue
            st.busy[s] = False
            mlen = st.length[s]
        else:
            st.skip[s] = False
            if st.busy[s]:
                _problem(out.problems, out.n, fill, i, INTERRUPTED, s)
                st.busy[s] = False
            if kind == 0:
                for b in range(ln):
                    st.sbuf[s, b] = fr.data[i, start + b]
                mlen = ln
            else:
                longest = max(longest, ln)
                st.busy[s] = True
                st.first[s] = i
                st.length[s] = ln
                take = min(n - start, ln)
                for b in range(take):
                    st.sbuf[s, b] = fr.data[i, start + b]
                st.got[s] = take
                st.seq[s] = 1
                continue
        # a complete answer: a service 01/02 one splits into PIDs, any other is kept whole
        # (here, not in a helper: a call taking the output struct costs reference counting)
        sid = np.int64(st.sbuf[s, 0])
        if mlen >= 2 and (sid == 0x41 or sid == 0x42):
            head = 1 if sid == 0x41 else 2
            k = 1
            while k < mlen:
                pid = np.int64(st.sbuf[s, k])
                pl = lens[pid]
                if pl == 0 or k + head + pl > mlen:
                    out.n[N_BAD] += 1
                    break
                g = s * 512 + (sid - 0x41) * 256 + pid
                if fill:
                    r = out.pos[g]
                    out.row_frame[r] = i
                    for b in range(pl + head - 1):  # freeze frames: the frame number first
                        out.row_data[r, b] = st.sbuf[s, k + 1 + b]
                    out.pos[g] = r + 1
                else:
                    out.count[g] += 1
                out.n[N_ROWS] += 1
                k += head + pl
            continue
        m = out.n[N_OTHER]
        o = out.n[N_OTHER_BYTES]
        if fill:
            out.o_stream[m] = s
            out.o_frame[m] = i
            out.o_off[m] = o
            out.o_len[m] = mlen
            for b in range(mlen):
                out.o_buf[o + b] = st.sbuf[s, b]
        out.n[N_OTHER] = m + 1
        out.n[N_OTHER_BYTES] = o + mlen
    for s in range(st.busy.shape[0]):
        if st.busy[s]:
            _problem(out.problems, out.n, fill, st.first[s], INCOMPLETE, s)
    return longest


def _longest(fr: _Frames) -> int:
    """The longest length a first frame may declare: 4095 on classic CAN (12 bits); with
    CAN FD frames, the longest 32-bit escape length present (numpy, before the passes)."""
    if not fr.dlc.size or int(fr.dlc.max()) <= 8:
        return 4095
    kind = fr.data[:, 0] >> 4
    ff = np.flatnonzero((kind == 1) & (fr.dlc >= 8) & ~fr.remote & ~fr.error)
    d = fr.data[ff].astype(np.int64)
    ln = ((d[:, 0] & 0xF) << 8) | d[:, 1]
    esc = (d[:, 2] << 24) | (d[:, 3] << 16) | (d[:, 4] << 8) | d[:, 5]
    return max(4095, int(np.where(ln == 0, esc, ln).max(initial=0)))


def _empty_out(groups: int, rows: int, others: int, other_bytes: int, problems: int,
               streams: int) -> ScanOut:
    return ScanOut(np.zeros(groups, np.int64), np.zeros(groups, np.int64),
                   np.zeros(groups, np.int64), np.empty(rows, np.int64),
                   np.zeros((rows, ROW_BYTES), np.uint8), np.empty(others, np.int64),
                   np.empty(others, np.int64), np.empty(others, np.int64),
                   np.empty(others, np.int64), np.empty(other_bytes, np.uint8),
                   np.empty((problems, 3), np.int64), np.zeros(8, np.int64),
                   np.zeros(streams, np.int64))


def scan_obd(aid: np.ndarray, ext: np.ndarray, remote: np.ndarray, error: np.ndarray,
             chan: np.ndarray, dlc: np.ndarray, data: np.ndarray, lens: np.ndarray) -> ScanOut:
    """Both passes over the frames; the outputs filled (see :class:`ScanOut`).

    Example
    -------
    >>> d = np.zeros((1, 8), np.uint8)
    >>> d[0, :4] = [0x03, 0x41, 0x0D, 0x32]
    >>> lens = np.zeros(256, np.int64); lens[0x0D] = 1
    >>> o = scan_obd(np.array([0x7E8], np.uint32), np.zeros(1, bool), np.zeros(1, bool),
    ...              np.zeros(1, bool), np.zeros(1, np.uint8), np.full(1, 8, np.uint8), d, lens)
    >>> int(o.count[0x0D]), int(o.row_data[0, 0])
    (1, 50)
    """
    nch = int(chan.max()) + 1 if chan.size else 1
    streams = nch * ECUS_PER_CHANNEL
    fr = _Frames(np.ascontiguousarray(aid, np.uint32), np.ascontiguousarray(ext, np.bool_),
                 np.ascontiguousarray(remote, np.bool_), np.ascontiguousarray(error, np.bool_),
                 np.ascontiguousarray(chan, np.uint8),
                 np.ascontiguousarray(dlc, np.uint8), np.ascontiguousarray(data, np.uint8))
    width = _longest(fr)  # (>= 4095: single frames, up to 62 bytes, are copied in too)

    def state() -> _State:
        return _State(np.zeros(streams, np.bool_), np.zeros(streams, np.int64),
                      np.zeros(streams, np.int64), np.zeros(streams, np.bool_),
                      np.zeros(streams, np.int64), np.zeros(streams, np.int64),
                      np.zeros((streams, width), np.uint8))

    groups = streams * 512
    first = _empty_out(groups, 0, 0, 0, 0, streams)
    scan(fr, lens, state(), first, False)
    n = first.n
    out = _empty_out(groups, int(n[N_ROWS]), int(n[N_OTHER]), int(n[N_OTHER_BYTES]),
                     int(n[N_PROBLEMS]), streams)
    np.cumsum(first.count[:-1], out=out.start[1:])
    out.pos[:] = out.start
    out.count[:] = first.count
    scan(fr, lens, state(), out, True)
    return out
