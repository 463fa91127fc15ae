"""PEAK TRC read by a compiled text parser (numba), frame by frame equal to python-can's.

The header (``;$FILEVERSION``, ``;$STARTTIME``, ``;$COLUMNS``) is read as python-can's
``TRCReader`` reads it; the body lines are parsed in one pass of :func:`_parse` with
python-can's rules for versions 1.0, 1.1, 1.3 and 2.x (the 2.x columns located by the header):
data, remote and CAN FD frames; other record types (bus status, errors, events) skipped, as a
line with too few columns is. A line outside the grammar it knows exactly (a number written
as ``1e3`` or ``+5``, a non-ASCII character) sends the file to python-can's reader, so the two
never differ; times are exact to the nanosecond from the file's start.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

import numpy as np
from numba import njit

from ..frames import FrameBatch
from ._candump import _read_gzip
from ._damage import batch_from_columns
from ._pycan import read_pycan
from ._textscan import (FALLBACK, TOO_MANY_CHANNELS, WIDE, channel_index, digits, hexval,
                        lone_cr, parse_columns, read_bytes, tokens)

__all__ = ["read_trc"]

_MAX_TOKENS = 96
_COLUMNS = ("time", "aid", "dlc", "size", "ext", "rtr", "fd", "rx", "chan", "line")
_SKIP = 3  # python-can drops the line (an IndexError it catches, or a record type it skips)
# layout: version kind, then the 2.x column indexes (-1: absent) and the split limit
_V10, _V11, _V13, _V2 = 0, 1, 3, 2
_T, _B, _BIG_L, _SMALL_L, _O, _I, _D, _DIR, _NCOL = range(1, 10)
_FD_LEN = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64], np.int64)


@njit(cache=True, nogil=True)
def _ms(b, s, e):
    """ns of a time offset in ms written ``digits[.digits]``; -1 for anything else."""
    v = np.int64(0)
    q = s
    while q < e and 48 <= b[q] <= 57:
        v = v * 10 + (b[q] - 48)
        q += 1
    nd = q - s
    if nd == 0 or nd > 12:
        return -1
    frac = np.int64(0)
    nf = 0
    if q < e and b[q] == 46:
        q += 1
        while q < e and 48 <= b[q] <= 57:
            if nf < 6:
                frac = frac * 10 + (b[q] - 48)
                nf += 1
            q += 1
    if q != e:
        return -1
    while nf < 6:
        frac *= 10
        nf += 1
    return v * 1_000_000 + frac


@njit(cache=True, nogil=True)
def _is(b, s, e, c0, c1):
    """Token ``b[s:e]`` is exactly the two letters ``c0 c1``."""
    return e - s == 2 and b[s] == c0 and b[s + 1] == c1


@njit(cache=True, nogil=True)
def _span(tok, nt, idx, last):
    """(start, end) of column ``idx`` after ``split(maxsplit=last)``: the last column runs
    to the end of the line; (-1, -1) when the line has no such column."""
    if idx < 0 or idx >= nt or (last >= 0 and idx > last):
        return -1, -1
    if last >= 0 and idx == last:
        return tok[idx, 0], tok[nt - 1, 1]
    return tok[idx, 0], tok[idx, 1]


@njit(cache=True, nogil=True)
def _number(b, tok, nt, idx, last, base, most):
    """The number in column ``idx``: -1 when the line has no such column (python-can drops
    the line), -2 when it is not a plain number (python-can raises)."""
    s, e = _span(tok, nt, idx, last)
    if s < 0:
        return -1
    v = digits(b, s, e, base, most)
    return v if v >= 0 else -2


@njit(cache=True, nogil=True)
def _fromhex(b, s, e, out, k):
    """``bytearray.fromhex(b[s:e])`` into ``out[k]`` (when ``k`` >= 0); the byte count, or -1
    where Python would raise, -2 beyond 64 bytes."""
    n = 0
    q = s
    while q < e:
        c = b[q]
        if c == 32 or 9 <= c <= 13:
            q += 1
            continue
        if q + 1 >= e:
            return -1
        hi = np.int64(hexval(b[q]))
        lo = np.int64(hexval(b[q + 1]))
        if hi > 15 or lo > 15:
            return -1
        if n >= 64:
            return -2
        if k >= 0 and n < out.shape[1]:  # a wider payload: the caller parses again
            out[k, n] = hi * 16 + lo
        n += 1
        q += 2
    return n


@njit(cache=True, nogil=True)
def _line_v1(b, tok, nt, kind, row, data, k):
    """A version 1.x line into ``row`` (time offset, id, ext, dlc, size, rtr, rx, channel):
    0 a frame, _SKIP, or FALLBACK."""
    # column positions: type, id, channel, dlc, first data
    if kind == _V10:
        ti, ii, ci, di = -1, 2, -1, 3
    elif kind == _V11:
        ti, ii, ci, di = 2, 3, -1, 4
    else:
        ti, ii, ci, di = 3, 4, 2, 6
    if ti >= 0:
        if ti >= nt:
            return _SKIP
        if not (_is(b, tok[ti, 0], tok[ti, 1], 84, 120) or _is(b, tok[ti, 0], tok[ti, 1], 82, 120)):
            return _SKIP  # neither Tx nor Rx
    if ii >= nt:
        return _SKIP
    s, e = tok[ii, 0], tok[ii, 1]
    if kind == _V10 and e - s == 8:
        every = True
        for q in range(s, e):
            if b[q] != 70:
                every = False
        if every:
            return _SKIP  # FFFFFFFF: a bus information line
    t = _ms(b, tok[1, 0], tok[1, 1])
    ident = digits(b, s, e, 16, 8)
    if t < 0 or ident < 0:
        return FALLBACK
    ch = 1
    if ci >= 0:
        ch = digits(b, tok[ci, 0], tok[ci, 1], 10, 9)
        if ch < 0:
            return FALLBACK
    if di >= nt:
        return _SKIP
    dlc = digits(b, tok[di, 0], tok[di, 1], 10, 6)
    if dlc < 0:
        return FALLBACK
    first = di + 1
    rtr = nt > first and e - s >= 0 and tok[first, 1] - tok[first, 0] == 3 and \
        b[tok[first, 0]] == 82 and b[tok[first, 0] + 1] == 84 and b[tok[first, 0] + 2] == 82
    size = 0
    if not rtr:
        for r in range(dlc):  # python-can's order: a missing column drops the line
            if first + r >= nt:
                return _SKIP
            v = digits(b, tok[first + r, 0], tok[first + r, 1], 16, 4)
            if v < 0 or v > 255 or r >= 64:
                return FALLBACK
            if k >= 0 and r < data.shape[1]:  # a wider payload: the caller parses again
                data[k, r] = v
        size = dlc
    row[0] = t
    row[1] = ident
    row[2] = e - s > 4
    row[3] = dlc
    row[4] = size
    row[5] = rtr
    row[6] = True if ti < 0 else b[tok[ti, 0]] == 82
    row[7] = ch
    return 0


@njit(cache=True, nogil=True)
def _line_v2(b, tok, nt, lay, row, data, k):
    """A version 2.x line (columns from the header) into ``row``; also ``row[8]``: CAN FD."""
    last = lay[_NCOL]
    s, e = _span(tok, nt, lay[_T], last)
    if s < 0:
        return _SKIP
    fd = _is(b, s, e, 70, 68) or _is(b, s, e, 70, 66) or _is(b, s, e, 70, 69) or \
        _is(b, s, e, 66, 73)
    rtr = _is(b, s, e, 82, 82)
    if not (fd or rtr or _is(b, s, e, 68, 84)):
        return _SKIP  # DT FD FB FE BI RR only
    if lay[_SMALL_L] >= 0:
        length = _number(b, tok, nt, lay[_SMALL_L], last, 10, 6)
        dlc = length
        if length > 8:
            dlc = 15
            for c in range(16):
                if _FD_LEN[c] >= length:
                    dlc = c
                    break
    else:
        dlc = _number(b, tok, nt, lay[_BIG_L], last, 10, 6)
    if dlc < 0:
        return _SKIP if dlc == -1 else FALLBACK
    s, e = _span(tok, nt, lay[_O], last)
    if s < 0:
        return _SKIP
    t = _ms(b, s, e)
    if t < 0:
        return FALLBACK
    s, e = _span(tok, nt, lay[_I], last)
    if s < 0:
        return _SKIP
    ident = digits(b, s, e, 16, 8)
    if ident < 0:
        return FALLBACK
    ext = e - s > 4
    ch = 1 if lay[_B] < 0 else _number(b, tok, nt, lay[_B], last, 10, 9)
    if ch < 0:
        return _SKIP if ch == -1 else FALLBACK
    size = 0
    if dlc and not rtr:
        s, e = _span(tok, nt, lay[_D], last)
        if s < 0:
            return _SKIP
        size = _fromhex(b, s, e, data, k)
        if size < 0:
            return FALLBACK
    ds, de = _span(tok, nt, lay[_DIR], last)
    if ds < 0:
        return _SKIP
    row[0] = t
    row[1] = ident
    row[2] = ext
    row[3] = dlc
    row[4] = size
    row[5] = rtr
    row[6] = _is(b, ds, de, 82, 120)
    row[7] = ch
    row[8] = fd
    return 0


@njit(cache=True, nogil=True)
def _parse(b, start, lay, cols, data, chans):
    """One pass over the body ``b[start:]`` (the first line is the one the header ended on),
    filling ``cols`` (time offset ns, id, dlc, size, ext, rtr, fd, rx, channel index, line;
    a row per line at least) and ``data``. Returns (frames, channels, wide, status, line);
    status WIDE when ``data`` has 8-byte rows and a frame needs 64."""
    off, aid, dlcs, sizes, ext, rtr, fd, rx, chan, lines = cols
    tok = np.zeros((_MAX_TOKENS, 2), np.int64)
    row = np.zeros(9, np.int64)
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
        if nt == 0 or (line > 1 and b[tok[0, 0]] == 59):  # empty, or a ';' comment
            continue
        if strange or nt >= _MAX_TOKENS:
            return k, nch, wide, FALLBACK, line
        row[:] = 0
        if lay[0] == _V2:
            status = _line_v2(b, tok, nt, lay, row, data, k)
        else:
            status = _line_v1(b, tok, nt, lay[0], row, data, k)
        if status == _SKIP:
            data[k, :] = 0  # bytes a dropped line wrote (k < rows: a row per line)
            continue
        if status:
            return k, nch, wide, status, line
        if row[8] or row[3] > 8 or row[4] > 8:
            wide = True
            if data.shape[1] < 64:
                return k, nch, wide, WIDE, line
        c = channel_index(chans, nch, row[7])
        if c < 0:
            return k, nch, wide, TOO_MANY_CHANNELS, line
        if c == nch:
            nch += 1
        off[k] = row[0]
        aid[k] = row[1]
        ext[k] = row[2] != 0
        dlcs[k] = row[3]
        sizes[k] = row[4]
        rtr[k] = row[5] != 0
        rx[k] = row[6] != 0
        fd[k] = row[8] != 0
        chan[k] = c
        lines[k] = line
        k += 1
    return k, nch, wide, 0, line


def _header(buf: bytes) -> tuple[int, int, np.ndarray, int] | None:
    """(offset of the line the header ends on, lines before it, layout, start ns) as
    python-can reads the header; None where python-can would raise."""
    pos = 0
    line = 0
    version = "1.0"
    start_ns = 0
    columns: list[str] = []
    last = 0
    while pos < len(buf):
        last = pos
        end = buf.find(b"\n", pos)
        end = len(buf) if end < 0 else end
        if lone_cr(buf[pos:end]):
            return None
        text = buf[pos:end].decode("utf-8", "replace").strip()
        if text.startswith(";$FILEVERSION"):
            parts = text.split("=")
            if len(parts) > 1:
                version = parts[1] if parts[1] in ("1.1", "1.3", "2.0", "2.1") else "1.0"
        elif text.startswith(";$STARTTIME"):
            parts = text.split("=")
            if len(parts) > 1:
                try:
                    t = (_dt.datetime(1899, 12, 30, tzinfo=_dt.timezone.utc)
                         + _dt.timedelta(days=float(parts[1])))
                except (ValueError, OverflowError):
                    return None
                start_ns = (t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
                            ) // _dt.timedelta(microseconds=1) * 1000
        elif text.startswith(";$COLUMNS"):
            parts = text.split("=")
            if len(parts) > 1:
                columns = parts[1].split(",")
        elif not text.startswith(";"):
            break
        pos = end + 1
        line += 1
    else:
        if line:  # python-can parses the header's last line as the first frame line
            pos, line = last, line - 1
    lay = np.full(10, -1, np.int64)
    if version.startswith("2"):
        if not columns or "T" not in columns or not ({"l", "L"} & set(columns)):
            return None
        for slot, name in ((_T, "T"), (_B, "B"), (_BIG_L, "L"), (_SMALL_L, "l"), (_O, "O"),
                           (_I, "I"), (_D, "D"), (_DIR, "d")):
            lay[slot] = columns.index(name) if name in columns else -1
        if min(lay[_O], lay[_I], lay[_D], lay[_DIR]) < 0:
            return None
        lay[_NCOL] = len(columns) - 1
        lay[0] = _V2
    else:
        lay[0] = {"1.0": _V10, "1.1": _V11, "1.3": _V13}[version]
        if version == "1.0":
            start_ns = 0  # python-can adds no start time to version 1.0 offsets
    return pos, line, lay, start_ns


def read_trc(path: str | os.PathLike[str], *, strict: bool = True, **kwargs: Any) -> FrameBatch:
    """Read a PEAK TRC file (versions 1.0 to 2.1; ``.trc``, ``.trc.gz``) into a
    :class:`FrameBatch`.

    Parameters
    ----------
    path
        The file.
    strict
        Refuse damaged frames (default) naming the file and line; ``False`` keeps them as
        python-can reads them and warns once.

    Raises
    ------
    LogFormatError
        Naming the file and the line, and what was expected.

    Example
    -------
    >>> import os, tempfile, cantelem_sci as ct
    >>> from cantelem_sci.sources import write_log
    >>> raw = ct.simulate_vehicle(duration_s=0.05)
    >>> p = write_log(raw, os.path.join(tempfile.mkdtemp(), "x.trc"))
    >>> bool((read_trc(p).arbitration_id == raw.arbitration_id).all())
    True
    """
    path = os.fspath(path)
    if kwargs:
        return read_pycan(path, strict=strict, **kwargs)
    buf = _read_gzip(path) if path.lower().endswith(".gz") else read_bytes(path)
    head = _header(buf)
    if head is None:
        return read_pycan(path, strict=strict)
    start, before, lay, start_ns = head
    parsed = parse_columns(_parse, buf, start, lay, _COLUMNS)
    if parsed is None:
        return read_pycan(path, strict=strict)
    c, chans = parsed
    c["time"] = c["time"] + start_ns
    c["err"] = np.zeros(c["time"].shape[0], bool)
    line = c["line"] + before
    return batch_from_columns(path, c, [str(v) for v in chans], strict=strict,
                              where=lambda i: f"{path}:{line[i]}: frame {i}")
