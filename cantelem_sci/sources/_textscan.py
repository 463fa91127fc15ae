"""Byte-level helpers of the compiled text-log parsers (ASC, TRC): Python's ``str.split``
whitespace, digits in a base, channel numbering in order of first appearance."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from ..errors import LogFormatError

FALLBACK = 1  # a line outside the parser's exact grammar: python-can reads the file
TOO_MANY_CHANNELS = 2
WIDE = 4  # a frame needs 64-byte rows: the caller parses again with them

# byte classes: 0 a token byte, 1 whitespace, 2 whitespace only to str.split (\x1c-\x1f),
# 3 a non-ASCII byte
_CLASS = np.zeros(256, np.uint8)
_CLASS[[9, 11, 12, 32]] = 1
_CLASS[10] = 5  # LF: the end of the line
_CLASS[28:32] = 2
_CLASS[13] = 4  # CR: a line's last one is cut by the caller; any other is a line break to
# Python's text reading
_CLASS[128:] = 3
# hex digit values (255: not a hex digit)
_HEX = np.full(256, 255, np.uint8)
_HEX[48:58] = np.arange(10)
_HEX[65:71] = np.arange(10, 16)
_HEX[97:103] = np.arange(10, 16)


@njit(cache=True, nogil=True, inline="always")
def odd(c):
    """A byte where ``str.split``/``str.strip`` and ASCII ``re`` disagree, or a non-ASCII one."""
    return 28 <= c <= 31 or c >= 128


@njit(cache=True, nogil=True)
def tokens(b, a, tok):
    """Split the line that starts at ``b[a]`` as ``str.split()`` does, into ``tok`` (start,
    end rows; the count may exceed its rows). Returns (count, strange, end): ``end`` is the
    offset of the line's LF (or of the end of ``b``); ``strange`` 1 when the line holds a
    byte where Python's text reading and this split could disagree (``\\x1c``-``\\x1f``,
    non-ASCII), 2 when it holds a CR other than the last (a line break to Python)."""
    nt = 0
    strange = 0
    rows = tok.shape[0]
    L = b.shape[0]
    q = a
    while q < L:
        c = _CLASS[b[q]]
        if c == 5:
            break
        if c != 0 and c != 3:  # whitespace
            if c == 2:
                strange = max(strange, 1)
            elif c == 4 and not (q + 1 == L or b[q + 1] == 10):
                strange = 2
            q += 1
            continue
        s = q
        while q < L:
            c = _CLASS[b[q]]
            if c == 3:
                strange = max(strange, 1)
            elif c != 0:
                break
            q += 1
        if nt < rows:
            tok[nt, 0] = s
            tok[nt, 1] = q
        nt += 1
    return nt, strange, q


_KINDS = {"ext": np.bool_, "rtr": np.bool_, "fd": np.bool_, "err": np.bool_, "rx": np.bool_,
          "chan": np.uint8}  # every other column: int64


def parse_columns(parse: Any, buf: bytes, start: int, arg: Any,
                  names: tuple[str, ...]) -> tuple[dict[str, np.ndarray], list[int]] | None:
    """Run a compiled text parser ``parse(bytes, start, arg, columns, data, channels)`` over
    ``buf[start:]`` with a row per line: 8-byte payload rows first, 64-byte ones when it
    reports WIDE. Returns its columns by ``names`` (and ``data``) cut to the frames found and
    the channel numbers in order of first appearance, or None where python-can must read the
    file (FALLBACK, more than 255 channels)."""
    arr = np.frombuffer(buf, np.uint8)
    rows = buf.count(b"\n", start) + 1
    cols = tuple(np.zeros(rows, _KINDS.get(name, np.int64)) for name in names)
    for width in (8, 64):
        chans = np.zeros(255, np.int64)
        data = np.zeros((rows, width), np.uint8)
        n, nch, _, status, _ = parse(arr, start, arg, cols, data, chans)
        if status != WIDE:
            break
    if status:
        return None
    out = {name: col[:n] for name, col in zip(names, cols)}
    out["data"] = data[:n]
    return out, chans[:nch].tolist()


@njit(cache=True, nogil=True)
def all_digits(b, s, e):
    """``str.isdigit`` of an ASCII token."""
    if e <= s:
        return False
    for q in range(s, e):
        if not 48 <= b[q] <= 57:
            return False
    return True


@njit(cache=True, nogil=True)
def digits(b, s, e, base, most):
    """The value of ``b[s:e]`` written with at most ``most`` digits of ``base`` (10 or 16),
    or -1 when it is anything else (empty, a sign, a prefix, too long)."""
    if e <= s or e - s > most:
        return -1
    v = np.int64(0)
    for q in range(s, e):
        h = _HEX[b[q]]
        if h >= base:
            return -1
        v = v * base + h
    return v


@njit(cache=True, nogil=True, inline="always")
def hexval(c):
    """The value of hex digit ``c``, 255 for any other byte."""
    return _HEX[c]


@njit(cache=True, nogil=True)
def channel_index(chans, nch, raw):
    """Index of channel number ``raw`` among the ``nch`` seen (``nch`` when it is new, and
    then recorded), or -1 when ``chans`` is full."""
    for q in range(nch):
        if chans[q] == raw:
            return q
    if nch == chans.shape[0]:
        return -1
    chans[nch] = raw
    return nch


def lone_cr(line: bytes) -> bool:
    """A CR in ``line`` (without its LF) that Python's text reading takes as a line break."""
    return b"\r" in line[:-1]


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as err:
        raise LogFormatError(f"{path}: cannot read: {err}") from err
