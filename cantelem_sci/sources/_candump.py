"""Vectorised reader of ``candump -L`` logs (numba), frame-by-frame equal to python-can's.

Line grammar (python-can's ``CanutilsLogReader``)::

    (<seconds>.<fraction>) <channel> <ID>#<hex data>          classic frame
    (<seconds>.<fraction>) <channel> <ID>#R[<dlc>]           remote frame
    (<seconds>.<fraction>) <channel> <ID>##<flags><hex data> CAN FD frame
    ... optionally followed by `` T`` or `` R`` (direction)

IDs longer than 3 hex digits are extended; ``CAN_ERR_FLAG | CAN_ERR_BUSERROR`` marks an
error frame. Timestamps are parsed exactly to the nanosecond (python-can goes via float).
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import numpy as np
from numba import njit

from ..errors import LogFormatError
from ..frames import FrameBatch

CAN_ERR_FLAG = 0x20000000
CAN_ERR_BUSERROR = 0x00000080

_ERRORS = {
    1: "expected '(' and a timestamp such as (1612345678.123456)",
    2: "expected digits in the timestamp",
    3: "expected ')' after the timestamp",
    4: "expected a channel name after the timestamp",
    5: "expected a hex id followed by '#'",
    6: "expected an even number of hex digits of data",
    7: "expected at most 64 bytes of data (CAN FD, '##')",
    12: "expected at most 8 bytes of data in a classic frame (CAN FD frames use '##')",
    8: "expected the line to end (or ' T' / ' R')",
    9: "expected a decimal dlc after 'R'",
    10: "expected a single CAN FD flags digit after '##'",
    11: "expected an id of at most 29 bits",
}


@njit(cache=True, nogil=True)
def _hexval(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@njit(cache=True, nogil=True)
def _is_space(c):
    return c == 32 or c == 9 or c == 13


@njit(cache=True, nogil=True)
def _scan(buf):
    """Lines (non-empty) and the widest payload in hex digits."""
    n = 0
    widest = 0
    i = 0
    L = buf.shape[0]
    while i < L:
        j = i
        nonblank = False
        hexrun = 0
        best = 0
        while j < L and buf[j] != 10:
            c = buf[j]
            if not _is_space(c):
                nonblank = True
            if _hexval(c) >= 0:
                hexrun += 1
                if hexrun > best:
                    best = hexrun
            else:
                hexrun = 0
            j += 1
        if nonblank:
            n += 1
            if best > widest:
                widest = best
        i = j + 1
    return n, widest


@njit(cache=True, nogil=True)
def _parse(buf, n, width, time, aid, dlc, ext, fd, rtr, err, rx, chan, data, chans):
    """Fill the arrays; returns (frames, error_line, error_code, error_column).

    ``chans`` (k x 2) receives the byte span of the first occurrence of each channel name.
    """
    L = buf.shape[0]
    i = 0
    line = 0
    k = 0
    nch = 0
    while i < L:
        line += 1
        start = i
        end = i
        while end < L and buf[end] != 10:
            end += 1
        i = end + 1
        # trim
        a = start
        b = end
        while a < b and _is_space(buf[a]):
            a += 1
        while b > a and _is_space(buf[b - 1]):
            b -= 1
        if a == b:
            continue
        # direction suffix
        is_rx = True
        if b - a >= 2 and buf[b - 2] == 32:
            d = buf[b - 1] | 32
            if d == 114 or d == 116:  # r / t
                is_rx = d == 114
                b -= 2
                while b > a and _is_space(buf[b - 1]):
                    b -= 1
        p = a
        if buf[p] != 40:  # (
            return k, line, 1, p - start
        p += 1
        sec = np.int64(0)
        nd = 0
        while p < b and 48 <= buf[p] <= 57:
            sec = sec * 10 + (buf[p] - 48)
            p += 1
            nd += 1
        if nd == 0 or nd > 12:
            return k, line, 2, p - start
        frac = np.int64(0)
        nf = 0
        if p < b and buf[p] == 46:
            p += 1
            while p < b and 48 <= buf[p] <= 57:
                if nf < 9:
                    frac = frac * 10 + (buf[p] - 48)
                nf += 1
                p += 1
        while nf < 9:
            frac *= 10
            nf += 1
        if p >= b or buf[p] != 41:
            return k, line, 3, p - start
        p += 1
        if p >= b or not _is_space(buf[p]):
            return k, line, 4, p - start
        while p < b and _is_space(buf[p]):
            p += 1
        c0 = p
        while p < b and not _is_space(buf[p]):
            p += 1
        c1 = p
        if c1 == c0 or p >= b:
            return k, line, 4, c0 - start
        # channel index
        ci = -1
        for q in range(nch):
            s0 = chans[q, 0]
            s1 = chans[q, 1]
            if s1 - s0 == c1 - c0:
                same = True
                for r in range(c1 - c0):
                    if buf[s0 + r] != buf[c0 + r]:
                        same = False
                        break
                if same:
                    ci = q
                    break
        if ci < 0:
            if nch >= chans.shape[0]:
                return k, line, 4, c0 - start
            chans[nch, 0] = c0
            chans[nch, 1] = c1
            ci = nch
            nch += 1
        while p < b and _is_space(buf[p]):
            p += 1
        # id
        idv = np.int64(0)
        nid = 0
        while p < b and buf[p] != 35:
            h = _hexval(buf[p])
            if h < 0:
                return k, line, 5, p - start
            idv = idv * 16 + h
            nid += 1
            p += 1
            if nid > 8:
                return k, line, 11, p - start
        if nid == 0 or p >= b:
            return k, line, 5, p - start
        p += 1  # '#'
        is_fd = False
        if p < b and buf[p] == 35:
            is_fd = True
            p += 1
            if p >= b or not (48 <= buf[p] <= 57):
                return k, line, 10, p - start
            p += 1
        remote = False
        nbytes = 0
        if p < b and (buf[p] | 32) == 114:
            remote = True
            p += 1
            dv = 0
            while p < b and 48 <= buf[p] <= 57:
                dv = dv * 10 + (buf[p] - 48)
                p += 1
            nbytes = dv
        else:
            while p + 1 < b and _hexval(buf[p]) >= 0 and _hexval(buf[p + 1]) >= 0:
                if nbytes >= width:
                    return k, line, 7, p - start
                data[k, nbytes] = _hexval(buf[p]) * 16 + _hexval(buf[p + 1])
                nbytes += 1
                p += 2
            if p < b and _hexval(buf[p]) >= 0:
                return k, line, 6, p - start
        if p != b:
            return k, line, 8, p - start
        if not is_fd and not remote and nbytes > 8:
            return k, line, 12, p - start
        time[k] = sec * 1000000000 + frac
        chan[k] = ci
        rx[k] = is_rx
        fd[k] = is_fd
        rtr[k] = remote
        ext[k] = nid > 3
        if (idv & 0x20000000) != 0 and (idv & 0x80) != 0:
            err[k] = True
            rtr[k] = False
            fd[k] = False
            dlc[k] = 0
            for r in range(width):
                data[k, r] = 0
        else:
            if remote and nbytes > 64:
                return k, line, 9, p - start
            dlc[k] = nbytes
        aid[k] = idv & 0x1FFFFFFF
        k += 1
    return k, 0, 0, nch


def parse_candump_bytes(buf: bytes, path: str = "<bytes>") -> FrameBatch:
    """Parse candump ``-L`` text (bytes) into a :class:`FrameBatch`.

    Raises
    ------
    LogFormatError
        Naming ``path``, the line and the column, and what was expected.

    Example
    -------
    >>> b = parse_candump_bytes(b"(1.5) can0 123#DEAD\\n")
    >>> hex(int(b.arbitration_id[0])), int(b.dlc[0])
    ('0x123', 2)
    """
    arr = np.frombuffer(buf, np.uint8)
    n, widest = _scan(arr)
    width = 64 if widest > 16 else 8  # longest run of hex digits: 16 for 8 data bytes
    time = np.zeros(n, np.int64)
    aid = np.zeros(n, np.uint32)
    dlc = np.zeros(n, np.uint8)
    ext = np.zeros(n, np.bool_)
    fd = np.zeros(n, np.bool_)
    rtr = np.zeros(n, np.bool_)
    err = np.zeros(n, np.bool_)
    rx = np.zeros(n, np.bool_)
    chan = np.zeros(n, np.uint8)
    data = np.zeros((n, width), np.uint8)
    chans = np.zeros((255, 2), np.int64)
    k, line, code, extra = _parse(arr, n, width, time, aid, dlc, ext, fd, rtr, err, rx, chan,
                                  data, chans)
    if code:
        text = bytes(arr[_line_start(arr, line):]).split(b"\n", 1)[0].decode("utf-8", "replace")
        raise LogFormatError(
            f"{path}:{line}:{extra + 1}: {_ERRORS[code]}; got {text.strip()[:120]!r}")
    names = [bytes(arr[chans[q, 0]:chans[q, 1]]).decode("utf-8", "replace") for q in range(extra)]
    batch = FrameBatch(time[:k], aid[:k], dlc[:k], ext[:k], fd[:k], rtr[:k], err[:k], chan[:k],
                       data[:k], channel_names=names or ["can0"])
    batch.is_rx = rx[:k]  # type: ignore[attr-defined]
    return batch


def _line_start(arr: np.ndarray, line: int) -> int:
    if line <= 1:
        return 0
    nl = np.flatnonzero(arr == 10)
    return int(nl[line - 2]) + 1 if line - 2 < nl.shape[0] else arr.shape[0]


def _read_gzip(path: str) -> bytes:
    """The decompressed bytes; damage is reported at the line reached (within 4 KiB)."""
    out = bytearray()
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 12):
                out += chunk
    except (OSError, EOFError, zlib.error) as err:
        raise LogFormatError(
            f"{path}:{out.count(10) + 1}: damaged gzip data after {len(out)} decompressed bytes "
            f"({type(err).__name__}: {err}); expected a complete gzip stream") from err
    return bytes(out)


def read_candump(path: str, **_: Any) -> FrameBatch:
    """Read a candump ``-L`` log (``.log``, ``.log.gz``) with the vectorised parser (always
    strict: damage is refused with the line and column)."""
    if str(path).endswith(".gz"):
        return parse_candump_bytes(_read_gzip(path), str(path))
    try:
        with open(path, "rb") as fh:
            buf = fh.read()
    except OSError as err:
        raise LogFormatError(f"{path}: cannot read: {err}") from err
    return parse_candump_bytes(buf, str(path))
