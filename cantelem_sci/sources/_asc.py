"""Vector ASC read by a compiled text parser (numba), frame by frame equal to python-can's.

The header (``date``, ``base``, comments, ``internal events logged``) is read as python-can's
``ASCReader`` reads it; the body is one pass of :func:`_parse` over the bytes. It takes the
lines python-can takes (its message pattern: classic, remote and error frames, ``CANFD``
lines) with python-can's field rules, and skips the rest (statistics, chip status, J1939TP,
comments). A line outside the grammar it knows exactly (a ``0x`` byte, a non-ASCII character
in a frame line, an option such as ``relative_timestamp=False``) sends the whole file to
python-can's reader (:func:`~cantelem_sci.sources._pycan.read_pycan`), so the two never differ.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
from numba import njit

from ..frames import FrameBatch
from ._candump import _read_gzip
from ._damage import batch_from_columns
from ._pycan import read_pycan
from ._textscan import (FALLBACK, TOO_MANY_CHANNELS, WIDE, all_digits, channel_index, digits,
                        lone_cr, odd, parse_columns, read_bytes, tokens)

__all__ = ["read_asc"]

_CAN_FD_DLC = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64], np.int64)
_MAX_TOKENS = 96
_COLUMNS = ("time", "aid", "dlc", "size", "ext", "rtr", "fd", "err", "rx", "chan", "code", "line")
_ERRORFRAME = np.frombuffer(b"errorframe", np.uint8)
_CANFD = np.frombuffer(b"canfd", np.uint8)
_DATE = re.compile(r"date\s+\w+\s+(?P<datetime_string>.+)", re.IGNORECASE)
_BASE = re.compile(r"base\s+(?P<base>hex|dec)(?:\s+timestamps\s+(?P<timestamp_format>"
                   r"absolute|relative))?", re.IGNORECASE)
_EVENTS = re.compile(r"(?P<no_events>no)?\s*internal\s+events\s+logged", re.IGNORECASE)


@njit(cache=True, nogil=True, inline="always")
def _lower(c):
    return c | 32 if 65 <= c <= 90 else c


@njit(cache=True, nogil=True)
def _starts(b, s, e, word):
    """Token ``b[s:e]`` starts with ``word`` (lower case ASCII), ignoring case."""
    if e - s < word.shape[0]:
        return False
    for q in range(word.shape[0]):
        if _lower(b[s + q]) != word[q]:
            return False
    return True


@njit(cache=True, nogil=True)
def _is_word(b, s, e):
    for q in range(s, e):
        c = b[q]
        if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95):
            return False
    return True


@njit(cache=True, nogil=True)
def _ts(b, s, e):
    """ns of a ``digits.digits`` token; -1 when it is not one, -2 when its seconds have more
    than 12 digits."""
    sec = np.int64(0)
    q = s
    while q < e and 48 <= b[q] <= 57:
        sec = sec * 10 + (b[q] - 48)
        q += 1
    if q == s or q >= e or b[q] != 46 or q + 1 >= e:
        return -1
    long = q - s > 12
    q += 1
    frac = np.int64(0)
    nf = 0
    while q < e:
        if not 48 <= b[q] <= 57:
            return -1
        if nf < 9:
            frac = frac * 10 + (b[q] - 48)
            nf += 1
        q += 1
    if long:
        return -2
    while nf < 9:
        frac *= 10
        nf += 1
    return sec * 1_000_000_000 + frac


@njit(cache=True, nogil=True)
def _id(b, s, e, base):
    """(id, extended) of an id token (``123``, ``18EBFF00x``); id -1 outside the grammar."""
    ext = e - s > 1 and (b[e - 1] | 32) == 120
    return digits(b, s, e - 1 if ext else e, base, 8), ext


@njit(cache=True, nogil=True)
def _is_message(b, tok, nt):
    """python-can's pattern ``\\d+\\.\\d+\\s+(\\d+\\s+(\\w+\\s+(Tx|Rx)|ErrorFrame)|CANFD)`` on the
    tokens: 1 a classic line, 2 a CANFD line, 0 neither, -1 a time too long to parse here."""
    t = _ts(b, tok[0, 0], tok[0, 1])
    if t == -1 or nt < 2:
        return 0
    kind = 0
    if _starts(b, tok[1, 0], tok[1, 1], _CANFD):
        kind = 2
    elif all_digits(b, tok[1, 0], tok[1, 1]) and nt >= 3:
        if _starts(b, tok[2, 0], tok[2, 1], _ERRORFRAME):
            kind = 1
        elif nt >= 4 and _is_word(b, tok[2, 0], tok[2, 1]) and tok[3, 1] - tok[3, 0] >= 2:
            d0 = _lower(b[tok[3, 0]])
            if (d0 == 116 or d0 == 114) and _lower(b[tok[3, 0] + 1]) == 120:
                kind = 1
    if kind and t == -2:
        return -1
    return kind


@njit(cache=True, nogil=True)
def _parse(b, start, base, cols, data, chans):
    """One pass over the body ``b[start:]``, filling ``cols`` (time, id, dlc, size, ext, rtr,
    fd, err, rx, channel index, DLC as written, line; a row per line at least) and ``data``.
    Returns (frames, channels, wide, status, line); status WIDE when ``data`` has 8-byte
    rows and a frame needs 64."""
    time, aid, dlcs, sizes, ext, rtr, fd, err, rx, chan, code, lines = cols
    tok = np.zeros((_MAX_TOKENS, 2), np.int64)
    L = b.shape[0]
    i = start
    line = 0
    k = 0
    nch = 0
    wide = False
    while i < L:
        line += 1
        nt, strange, e = tokens(b, i, tok)
        i = e + 1
        if strange == 2:
            return k, nch, wide, FALLBACK, line
        if nt == 0:
            continue
        if odd(b[tok[0, 0]]):
            return k, nch, wide, FALLBACK, line  # str.strip may remove it
        kind = _is_message(b, tok, nt)
        if kind == 0:
            continue
        if kind < 0 or strange or nt >= _MAX_TOKENS:
            return k, nch, wide, FALLBACK, line
        is_fd = kind == 2
        if is_fd:
            if tok[1, 1] - tok[1, 0] != 5 or not _exact_canfd(b, tok[1, 0]) or nt < 3:
                continue  # python-can: "ts CANFD" alone, or not "CANFD" in capitals
            if nt < 5:
                return k, nch, wide, FALLBACK, line  # python-can raises
            ch = digits(b, tok[2, 0], tok[2, 1], 10, 9)
            body = 4
        else:
            ch = digits(b, tok[1, 0], tok[1, 1], 10, 9)
            body = 2
        if ch < 0:
            return k, nch, wide, FALLBACK, line
        v_id = np.int64(0)
        v_ext = False
        v_rtr = False
        v_err = False
        v_dlc = np.int64(0)
        v_code = np.int64(0)
        v_rx = True
        first = 0
        count = 0
        if _starts(b, tok[body, 0], tok[body, 1], _ERRORFRAME):
            v_err = True
            v_ext = True  # python-can's Message default
            if is_fd:
                v_rx = _is_rx(b, tok[3, 0], tok[3, 1])
        elif not is_fd:  # ts ch id dir (d|r) dlc data...
            if nt < 5:
                return k, nch, wide, FALLBACK, line
            v_id, v_ext = _id(b, tok[2, 0], tok[2, 1], base)
            v_rx = _is_rx(b, tok[3, 0], tok[3, 1])
            if v_id < 0:
                return k, nch, wide, FALLBACK, line
            if _lower(b[tok[4, 0]]) == 114:  # r: remote
                v_rtr = True
                if nt > 5 and all_digits(b, tok[5, 0], tok[5, 1]):
                    v_dlc = digits(b, tok[5, 0], tok[5, 1], base, 6)
                    if v_dlc < 0:
                        return k, nch, wide, FALLBACK, line
                    v_code = v_dlc
            else:
                if nt < 6:
                    return k, nch, wide, FALLBACK, line
                v_code = digits(b, tok[5, 0], tok[5, 1], base, 6)
                if v_code < 0:
                    return k, nch, wide, FALLBACK, line
                v_dlc = _CAN_FD_DLC[v_code] if v_code <= 15 else 64
                first = 6
                count = min(8, v_dlc)
        else:  # ts CANFD ch dir id [name] brs esi dlc length data...
            if nt < 7:
                return k, nch, wide, FALLBACK, line
            v_rx = _is_rx(b, tok[3, 0], tok[3, 1])
            v_id, v_ext = _id(b, tok[4, 0], tok[4, 1], base)
            at = 7 if all_digits(b, tok[5, 0], tok[5, 1]) else 8  # the dlc token
            if v_id < 0 or nt < at + 3:
                return k, nch, wide, FALLBACK, line
            v_dlc = digits(b, tok[at, 0], tok[at, 1], base, 6)
            length = digits(b, tok[at + 1, 0], tok[at + 1, 1], 10, 6)
            if v_dlc < 0 or length < 0 or length > 64:
                return k, nch, wide, FALLBACK, line
            if length == 0:
                v_rtr = True
            else:
                v_dlc = length
            first = at + 2
            count = length
        count = min(count, nt - first) if count > 0 else 0
        if is_fd or v_dlc > 8 or count > 8:
            wide = True
            if data.shape[1] < 64:
                return k, nch, wide, WIDE, line
        for r in range(count):
            v = digits(b, tok[first + r, 0], tok[first + r, 1], base, 3)
            if v < 0 or v > 255:
                return k, nch, wide, FALLBACK, line
            data[k, r] = v
        c = channel_index(chans, nch, ch - 1)
        if c < 0:
            return k, nch, wide, TOO_MANY_CHANNELS, line
        if c == nch:
            nch += 1
        time[k] = _ts(b, tok[0, 0], tok[0, 1])
        aid[k] = v_id
        dlcs[k] = v_dlc
        sizes[k] = count
        ext[k] = v_ext
        rtr[k] = v_rtr
        fd[k] = is_fd
        err[k] = v_err
        rx[k] = v_rx
        chan[k] = c
        code[k] = v_code
        lines[k] = line
        k += 1
    return k, nch, wide, 0, line


@njit(cache=True, nogil=True)
def _exact_canfd(b, s):
    return (b[s] == 67 and b[s + 1] == 65 and b[s + 2] == 78 and b[s + 3] == 70
            and b[s + 4] == 68)


@njit(cache=True, nogil=True, inline="always")
def _is_rx(b, s, e):
    return e - s == 2 and b[s] == 82 and b[s + 1] == 120  # exactly "Rx"


def _header(buf: bytes) -> tuple[int, int, int]:
    """(body offset, lines before it, base) as python-can's header reading leaves them: the
    first line that is no header line is consumed too."""
    pos = 0
    line = 0
    base = 16
    while pos < len(buf):
        end = buf.find(b"\n", pos)
        end = len(buf) if end < 0 else end
        if lone_cr(buf[pos:end]):
            return -1, line, base
        text = buf[pos:end].decode("utf-8", "replace").strip()
        pos = end + 1
        line += 1
        if _DATE.match(text):
            continue
        m = _BASE.match(text)
        if m:
            base = 10 if m.group("base") == "dec" else 16  # python-can: exact lower case
            if m.group("base") not in ("hex", "dec"):
                return -1, line, base
            continue
        if re.match(r"//.*", text):
            continue
        break
    return pos, line, base


def read_asc(path: str | os.PathLike[str], *, strict: bool = True, **kwargs: Any) -> FrameBatch:
    """Read a Vector ASC file (``.asc``, ``.asc.gz``) into a :class:`FrameBatch`.

    Parameters
    ----------
    path
        The file.
    strict
        Refuse damaged frames (default) naming the file and line; ``False`` keeps them as
        python-can reads them and warns once.
    **kwargs
        python-can's ``ASCReader`` options (``base``, ``relative_timestamp``); any other than
        the defaults is read by python-can's reader.

    Raises
    ------
    LogFormatError
        Naming the file and the line, and what was expected.

    Example
    -------
    >>> import os, tempfile, cantelem_sci as ct
    >>> from cantelem_sci.sources import write_log
    >>> raw = ct.simulate_vehicle(duration_s=0.05)
    >>> p = write_log(raw, os.path.join(tempfile.mkdtemp(), "x.asc"))
    >>> bool((read_asc(p).data == raw.data).all())
    True
    """
    path = os.fspath(path)
    if kwargs.get("base", "hex") != "hex" or kwargs.get("relative_timestamp", True) is not True \
            or set(kwargs) - {"base", "relative_timestamp"}:
        return read_pycan(path, strict=strict, **kwargs)
    buf = _read_gzip(path) if path.lower().endswith(".gz") else read_bytes(path)
    start, before, base = _header(buf)
    if start < 0:
        return read_pycan(path, strict=strict)
    parsed = parse_columns(_parse, buf, start, base, _COLUMNS)
    if parsed is None:
        return read_pycan(path, strict=strict)
    c, chans = parsed
    c["line"] = c["line"] + before
    big = np.flatnonzero((c["code"] > 15) & ~c["fd"])
    return batch_from_columns(path, c, [str(v) for v in chans], strict=strict,
                              where=lambda i: f"{path}:{c['line'][i]}: frame {i}",
                              written={int(i): int(c["code"][i]) for i in big})
