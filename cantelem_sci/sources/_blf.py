"""Vector BLF read as whole columns: log containers decompressed in bulk, objects parsed by a
numba kernel.

A BLF file is a header and a stream of ``LOBJ`` objects; the CAN frames sit in zlib-compressed
log containers whose contents run on from one container into the next. The containers are
inflated into one buffer (zlib in C), then one pass of :func:`_parse` over it fills the
columns. The frames, their order and their fields are python-can's ``BLFReader``'s (CAN
message, message 2, FD message, FD message 64, error frame ext; other objects skipped), but
times are exact to the nanosecond (python-can goes via float).
"""

from __future__ import annotations

import datetime as _dt
import os
import struct
import zlib
from typing import Any

import numpy as np
from numba import njit

from ..errors import LogFormatError
from ..frames import FrameBatch
from ._damage import batch_from_columns, inflate_whole

__all__ = ["read_blf"]

_FILE_HEADER = struct.Struct("<4sLBBBBBBBBQQLL8H8H")
_OBJ_BASE = struct.Struct("<4sHHLL")
_CONTAINER = struct.Struct("<H6xL4x")
_LOG_CONTAINER = 10
_CAN_FD_DLC = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64], np.int64)
_NOT_AN_OBJECT = 1
_TOO_MANY_CHANNELS = 2


@njit(cache=True, nogil=True, inline="always")
def _u16(b, p):
    return np.int64(b[p]) | (np.int64(b[p + 1]) << 8)


@njit(cache=True, nogil=True, inline="always")
def _u32(b, p):
    return _u16(b, p) | (_u16(b, p + 2) << 16)


@njit(cache=True, nogil=True, inline="always")
def _u64(b, p):
    return np.uint64(_u32(b, p)) | (np.uint64(_u32(b, p + 4)) << np.uint64(32))


@njit(cache=True, nogil=True)
def _find(b, pos):
    """Where ``LOBJ`` starts in ``b[pos:pos + 8]``, or -1."""
    for q in range(pos, min(pos + 5, b.shape[0] - 3)):
        if b[q] == 76 and b[q + 1] == 79 and b[q + 2] == 66 and b[q + 3] == 74:
            return q
    return -1


@njit(cache=True, nogil=True)
def _parse(b, start, cols, data, chans):
    """Walk the objects of the inflated stream ``b``. With empty ``cols`` it only counts;
    else it writes frame ``k`` into ``cols`` (time ns, id, dlc, size, ext, rtr, fd, err, rx,
    channel index) and ``data``, and the raw channel numbers in order of first appearance
    into ``chans``. Returns (frames, channels, wide, error, byte offset); ``wide`` when a
    frame needs 64-byte rows."""
    time, aid, dlcs, sizes, ext, rtr, fd, err, rx, chan = cols
    fill = time.shape[0] > 0
    L = b.shape[0]
    pos = 0
    k = 0
    nch = 0
    wide = False
    while True:
        at = _find(b, pos)
        if at < 0:
            if pos + 8 > L:
                return k, nch, wide, 0, pos
            return k, nch, wide, _NOT_AN_OBJECT, pos
        pos = at
        if pos + 16 > L:
            return k, nch, wide, 0, pos
        header_size = _u16(b, pos + 4)
        version = _u16(b, pos + 6)
        obj_size = _u32(b, pos + 8)
        obj_type = _u32(b, pos + 12)
        nxt = pos + obj_size
        if nxt > L:
            return k, nch, wide, 0, pos
        p = pos + 16
        if version == 1:
            need = 16
        elif version == 2:
            need = 24
        else:
            pos = nxt
            continue
        if p + need > L:
            return k, nch, wide, 0, pos
        flags = _u32(b, p)
        ticks = _u64(b, p + 8)
        p += need
        if obj_type == 1 or obj_type == 86:
            body = 16
        elif obj_type == 73:
            body = 32
        elif obj_type == 100:
            body = 84
        elif obj_type == 101:
            body = 40
        else:
            pos = nxt
            continue
        if p + body > L:
            return k, nch, wide, 0, pos
        is_fd = False
        if obj_type == 1 or obj_type == 86 or obj_type == 73:
            dlc = np.int64(b[p + 3]) if obj_type != 73 else np.int64(b[p + 10])
            size = min(dlc, 8)
        elif obj_type == 100:
            code = np.int64(b[p + 3])
            dlc = _CAN_FD_DLC[code] if code <= 15 else 64
            size = min(np.int64(b[p + 14]), 64)
            is_fd = (b[p + 13] & 1) != 0
        else:
            code = np.int64(b[p + 1])
            dlc = _CAN_FD_DLC[code] if code <= 15 else 64
            size = np.int64(b[p + 2])  # zero-padded to its valid bytes (python-can)
            is_fd = (_u32(b, p + 12) & 0x1000) != 0
        if is_fd or dlc > 8 or size > 8:
            wide = True
        if fill:
            time[k] = start + np.int64(ticks) * (10_000 if flags == 1 else 1)
            dlcs[k] = dlc
            sizes[k] = size
            fd[k] = is_fd
            rx[k] = True
            width = data.shape[1]
            if obj_type == 1 or obj_type == 86:
                cid = _u32(b, p + 4)
                rtr[k] = (b[p + 2] & 0x80) != 0
                rx[k] = (b[p + 2] & 1) == 0
                src = p + 8
                m = size
            elif obj_type == 73:
                cid = _u32(b, p + 16)
                err[k] = True
                src = p + 24
                m = size
            elif obj_type == 100:
                cid = _u32(b, p + 4)
                rtr[k] = (b[p + 2] & 0x80) != 0
                rx[k] = (b[p + 2] & 1) == 0
                src = p + 20
                m = size
            else:
                cid = _u32(b, p + 4)
                rtr[k] = (_u32(b, p + 12) & 0x10) != 0
                rx[k] = b[p + 34] == 0
                ext_off = np.int64(b[p + 35])
                src = p + 40
                m = max(min(size, (ext_off if ext_off else obj_size) - header_size - 40,
                            L - src), 0)
            for r in range(min(m, width)):
                data[k, r] = b[src + r]
            aid[k] = cid & 0x1FFFFFFF
            ext[k] = (cid & 0x80000000) != 0
            raw = (_u16(b, p) if obj_type != 101 else np.int64(b[p])) - 1
            c = -1
            for q in range(nch):
                if chans[q] == raw:
                    c = q
                    break
            if c < 0:
                if nch == chans.shape[0]:
                    return k, nch, wide, _TOO_MANY_CHANNELS, pos
                chans[nch] = raw
                c = nch
                nch += 1
            chan[k] = c
        k += 1
        pos = nxt


def _start_ns(header: tuple[Any, ...]) -> int:
    """The file's start (its SYSTEMTIME, UTC) in ns; 0 where it is no date (python-can)."""
    y, mo, _, d, h, mi, s, ms = header[14:22]
    try:
        t = _dt.datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=_dt.timezone.utc)
    except ValueError:
        return 0
    return (t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)) // _dt.timedelta(
        microseconds=1) * 1000


def _inflate(path: str, raw: bytes) -> tuple[int, bytearray, str | None]:
    """(start ns, the containers' contents joined, the damage that stopped reading)."""
    if len(raw) < _FILE_HEADER.size:
        raise LogFormatError(f"{path}: cannot open as a CAN log: {len(raw)} bytes; expected a "
                             f"BLF header of {_FILE_HEADER.size}")
    header = _FILE_HEADER.unpack_from(raw)
    if header[0] != b"LOGG":
        raise LogFormatError(f"{path}: cannot open as a CAN log: it starts with {header[0]!r}; "
                             "expected b'LOGG' (a BLF file)")
    pos = max(header[1], _FILE_HEADER.size)
    out = bytearray()
    while pos < len(raw):
        if pos + _OBJ_BASE.size > len(raw):
            return _start_ns(header), out, f"a truncated object header at byte {pos}"
        sig, _, _, size, kind = _OBJ_BASE.unpack_from(raw, pos)
        if sig != b"LOBJ":
            return _start_ns(header), out, f"no object ('LOBJ') at byte {pos}"
        body = raw[pos + _OBJ_BASE.size:pos + max(size, _OBJ_BASE.size)]
        pos += max(size, _OBJ_BASE.size) + size % 4
        if kind != _LOG_CONTAINER:
            continue
        if len(body) < _CONTAINER.size:
            return _start_ns(header), out, f"a truncated log container before byte {pos}"
        method, size_out = _CONTAINER.unpack_from(body)
        if method == 0:
            out += body[_CONTAINER.size:]
        elif method == 2:
            packed = body[_CONTAINER.size:]
            whole = inflate_whole(packed, size_out)
            if whole is not None:
                out += whole
                continue
            try:  # damaged or of another size: zlib's stream gives what it can
                out += zlib.decompressobj().decompress(packed)
            except zlib.error as err:
                return _start_ns(header), out, f"damaged zlib data before byte {pos}: {err}"
    return _start_ns(header), out, None


def read_blf(path: str | os.PathLike[str], *, strict: bool = True, **_: Any) -> FrameBatch:
    """Read a Vector BLF file into a :class:`FrameBatch`.

    Parameters
    ----------
    path
        A ``.blf`` file.
    strict
        Refuse damaged frames (default) naming the frame; ``False`` keeps them and warns once.

    Raises
    ------
    LogFormatError
        A file that is no BLF, damaged compression or object stream (after how many frames),
        or a damaged frame, naming the file and the frame number.

    Example
    -------
    >>> import os, tempfile, cantelem_sci as ct
    >>> from cantelem_sci.sources import write_log
    >>> raw = ct.simulate_vehicle(duration_s=0.05)
    >>> p = write_log(raw, os.path.join(tempfile.mkdtemp(), "x.blf"))
    >>> len(read_blf(p)) == len(raw)
    True
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise LogFormatError(f"{path}: cannot read: {err}") from err
    start, stream, damage = _inflate(path, raw)
    buf = np.frombuffer(stream, np.uint8)
    chans = np.zeros(255, np.int64)
    n, _, wide, code, at = _parse(buf, start, _columns(0), np.zeros((0, 8), np.uint8), chans)
    if damage is None and code == _NOT_AN_OBJECT:
        damage = f"no object ('LOBJ') at byte {at} of the inflated stream"
    if damage is not None:
        raise LogFormatError(f"{path}: corrupt or truncated log after frame {n}: {damage}")
    cols = _columns(n)
    data = np.zeros((n, 64 if wide else 8), np.uint8)
    _, nch, _, code, _ = _parse(buf, start, cols, data, chans)
    if code == _TOO_MANY_CHANNELS:
        raise LogFormatError(f"{path}: more than 255 channels")
    c = dict(zip(("time", "aid", "dlc", "size", "ext", "rtr", "fd", "err", "rx", "chan"), cols))
    c["data"] = data
    return batch_from_columns(path, c, [str(v) for v in chans[:nch]], strict=strict)


def _columns(n: int) -> tuple[np.ndarray, ...]:
    return (tuple(np.zeros(n, np.int64) for _ in range(4))
            + tuple(np.zeros(n, np.bool_) for _ in range(5)) + (np.zeros(n, np.uint8),))
