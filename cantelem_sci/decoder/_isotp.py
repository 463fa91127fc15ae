"""ISO-TP (ISO 15765-2) reassembly of recorded frames: single, first and consecutive frames
of each stream (channel and identifier) into whole messages, passively.

A logger only listens, so nothing is requested again: a consecutive frame with the wrong
sequence number (lost or out of order), a consecutive frame without a first frame, a first
or single frame that interrupts a message, an impossible length, or a stream that ends in
the middle of a message drops that message and is *reported* (``PROBLEMS``, with the frame)
rather than mended. CAN FD escapes (single frame length in byte 1, first frame length in
bytes 2-5) are read. Flow control frames carry no data and are skipped.

Two kernels: :func:`assign` walks the frames once and gives each frame its message (or a
problem); :func:`gather` copies the payloads of the complete messages into one buffer. Their
reference is ``can-isotp`` (``tests/decoder/test_isotp.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ..errors import ArgumentError

__all__ = ["PROBLEMS", "Reassembled", "reassemble"]

# ``decode_obd`` does the same in one fused pass (``_obd_scan.py``); this step-by-step form
# is public as ``cantelem_sci.decoder.reassemble_isotp`` (for UDS and other ISO-TP users) and
# the reference the fused pass is checked against.

LOST, ORPHAN, INTERRUPTED, BAD_LENGTH, INCOMPLETE, BAD_PCI = 1, 2, 3, 4, 5, 6
#: problem code -> name
PROBLEMS = {LOST: "lost_or_out_of_order", ORPHAN: "consecutive_without_first",
            INTERRUPTED: "interrupted", BAD_LENGTH: "bad_length",
            INCOMPLETE: "incomplete_at_end", BAD_PCI: "unknown_frame_type"}


class _In(NamedTuple):
    stream: np.ndarray  # int64, 0..nstreams-1 per frame, frames in time order
    data: np.ndarray  # uint8 (n, width)
    dlc: np.ndarray  # uint8 (n,)


class _Msgs(NamedTuple):
    frame_msg: np.ndarray  # int64 (n,): message of each frame, -1: none
    first: np.ndarray  # int64: first frame of each message
    last: np.ndarray  # int64: last frame
    length: np.ndarray  # int64: declared payload length
    ok: np.ndarray  # bool: complete
    prob_frame: np.ndarray  # int64: frame of each problem
    prob_code: np.ndarray  # int64


@njit(cache=True, nogil=True)
def note(prob_frame: np.ndarray, prob_code: np.ndarray, k: int, i: int, code: int) -> int:
    """Record problem ``code`` at frame ``i`` as the ``k``-th; return ``k + 1``. (Arrays,
    not the output struct: a call taking the struct costs reference counting.)"""
    prob_frame[k] = i
    prob_code[k] = code
    return k + 1


@njit(cache=True, nogil=True)
def unfinished(cur: np.ndarray, first: np.ndarray, prob_frame: np.ndarray,
               prob_code: np.ndarray, k: int) -> int:
    """Each stream still inside a message at the end: ``INCOMPLETE`` at its first frame."""
    for s in range(cur.shape[0]):
        if cur[s] >= 0:
            k = note(prob_frame, prob_code, k, first[cur[s]], INCOMPLETE)
    return k


def pack(ok: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lengths (0 for incomplete messages), their offsets in one buffer, and the buffer."""
    length = np.where(ok, length, 0)
    offset = np.zeros(length.size, np.int64)
    if length.size:
        np.cumsum(length[:-1], out=offset[1:])
    return length, offset, np.zeros(int(length.sum()), np.uint8)


@njit(cache=True, nogil=True)
def _pci(data: np.ndarray, dlc: np.ndarray, i: int) -> tuple[int, int, int]:
    """(frame type, declared length or sequence number, first data byte) of frame ``i``;
    type -1: invalid length."""
    n = int(dlc[i])
    b0 = int(data[i, 0])
    kind = b0 >> 4
    if kind == 0:
        ln, start = b0 & 0xF, 1
        if ln == 0 and n > 8:
            ln, start = int(data[i, 1]), 2
        if ln == 0 or ln > n - start:
            return -1, 0, 0
        return 0, ln, start
    if kind == 1:
        if n < 8:
            return -1, 0, 0
        ln, start = ((b0 & 0xF) << 8) | int(data[i, 1]), 2
        if ln == 0:
            ln = ((int(data[i, 2]) << 24) | (int(data[i, 3]) << 16) | (int(data[i, 4]) << 8)
                  | int(data[i, 5]))
            start = 6
        if ln <= n - start - 1 or ln == 0:
            return -1, 0, 0
        return 1, ln, start
    return kind, b0 & 0xF, 1


@njit(cache=True, nogil=True)
def assign(fr: _In, nstreams: int, out: _Msgs) -> tuple[int, int]:
    """Walk the frames; return (messages, problems) written into ``out``."""
    cur = np.full(nstreams, -1, np.int64)  # message in progress
    got = np.zeros(nstreams, np.int64)
    seq = np.zeros(nstreams, np.int64)
    skip = np.zeros(nstreams, np.bool_)  # after a loss: swallow the rest of that message
    nm = 0
    npb = 0
    for i in range(fr.stream.shape[0]):
        s = fr.stream[i]
        out.frame_msg[i] = -1
        if fr.dlc[i] == 0:
            npb = note(out.prob_frame, out.prob_code, npb, i, BAD_LENGTH)
            continue
        kind, ln, start = _pci(fr.data, fr.dlc, i)
        if kind == 3:  # flow control: no data
            continue
        if kind == -1 or kind > 3:
            npb = note(out.prob_frame, out.prob_code, npb, i, BAD_LENGTH if kind == -1 else BAD_PCI)
            continue
        if kind == 2:
            if cur[s] < 0:
                if not skip[s]:  # once per run of orphans
                    npb = note(out.prob_frame, out.prob_code, npb, i, ORPHAN)
                    skip[s] = True
                continue
            m = cur[s]
            if ln != seq[s]:
                npb = note(out.prob_frame, out.prob_code, npb, i, LOST)
                cur[s] = -1
                skip[s] = True
                continue
            out.frame_msg[i] = m
            got[s] += min(int(fr.dlc[i]) - 1, out.length[m] - got[s])
            seq[s] = (seq[s] + 1) & 0xF
            if got[s] >= out.length[m]:
                out.ok[m] = True
                out.last[m] = i
                cur[s] = -1
            continue
        # a single or first frame starts a message
        skip[s] = False
        if cur[s] >= 0:
            npb = note(out.prob_frame, out.prob_code, npb, i, INTERRUPTED)
            cur[s] = -1
        m = nm
        nm += 1
        out.frame_msg[i] = m
        out.first[m] = i
        out.last[m] = i
        out.length[m] = ln
        if kind == 0:
            out.ok[m] = True
        else:
            out.ok[m] = False
            got[s] = int(fr.dlc[i]) - start
            seq[s] = 1
            cur[s] = m
    return nm, unfinished(cur, out.first, out.prob_frame, out.prob_code, npb)


@njit(cache=True, nogil=True)
def gather(fr: _In, msgs: _Msgs, offset: np.ndarray, buf: np.ndarray) -> None:
    """Copy the payload bytes of every complete message to ``buf[offset[m]:...]``."""
    pos = np.zeros(offset.shape[0], np.int64)
    for i in range(fr.stream.shape[0]):
        m = msgs.frame_msg[i]
        if m < 0 or not msgs.ok[m]:
            continue
        kind, _, start = _pci(fr.data, fr.dlc, i)
        take = min(int(fr.dlc[i]) - start, msgs.length[m] - pos[m])
        base = offset[m] + pos[m]
        for k in range(take):
            buf[base + k] = fr.data[i, start + k]
        pos[m] += take


class Reassembled(NamedTuple):
    """Complete messages: stream, first and last frame, payload ``buf[offset:offset+length]``;
    problems: ``(frame, code)`` pairs (codes in :data:`PROBLEMS`)."""

    stream: np.ndarray
    first: np.ndarray
    last: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    buf: np.ndarray
    problem_frame: np.ndarray
    problem_code: np.ndarray


def reassemble(stream: np.ndarray, data: np.ndarray, dlc: np.ndarray,
               nstreams: int | None = None) -> Reassembled:
    """Reassemble ISO-TP messages from frames in time order.

    Parameters
    ----------
    stream
        Stream index of each frame (one per channel and identifier), 0-based.
    data, dlc
        Payloads (n, 8 or 64) and their lengths in bytes.

    Example
    -------
    >>> d = np.zeros((3, 8), np.uint8)
    >>> d[0, :8] = [0x10, 0x0B, 0x49, 0x02, 0x01, 0x41, 0x42, 0x43]
    >>> d[1, :8] = [0x21, 0x44, 0x45, 0x46, 0x47, 0x48, 0, 0]
    >>> d[2, :8] = [0x02, 0x41, 0x00, 0, 0, 0, 0, 0]
    >>> r = reassemble(np.array([0, 0, 1]), d, np.full(3, 8, np.uint8))
    >>> bytes(r.buf[r.offset[0]:r.offset[0] + r.length[0]]).hex()
    '4902014142434445464748'
    """
    stream = np.ascontiguousarray(stream, np.int64)
    n = stream.shape[0]
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] != n or data.shape[1] < 8 or np.shape(dlc) != (n,):
        raise ArgumentError(f"reassemble_isotp: expected stream ({n},), data ({n}, 8 or 64) "
                            f"and dlc ({n},), got data {data.shape} and dlc {np.shape(dlc)}")
    if n and (stream.min() < 0 or (nstreams is not None and stream.max() >= nstreams)):
        raise ArgumentError(f"reassemble_isotp: stream indices must be in 0..{nstreams}")
    if nstreams is None:
        nstreams = int(stream.max()) + 1 if n else 0
    fr = _In(stream, np.ascontiguousarray(data, np.uint8), np.ascontiguousarray(dlc, np.uint8))
    out = _Msgs(np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64),
                np.empty(n, np.int64), np.zeros(n, np.bool_), np.empty(n + nstreams, np.int64),
                np.empty(n + nstreams, np.int64))
    nm, npb = assign(fr, nstreams, out) if n else (0, 0)
    ok = out.ok[:nm]
    length, offset, buf = pack(ok, out.length[:nm])
    if nm:
        gather(fr, _Msgs(out.frame_msg, out.first[:nm], out.last[:nm], out.length[:nm], ok,
                         out.prob_frame, out.prob_code), offset, buf)
    keep = np.flatnonzero(ok)
    first = out.first[:nm][keep]
    return Reassembled(stream[first], first, out.last[:nm][keep], offset[keep], length[keep], buf,
                       out.prob_frame[:npb].copy(), out.prob_code[:npb].copy())
