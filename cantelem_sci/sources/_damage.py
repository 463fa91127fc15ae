"""The damage rules every strict log reader applies, on whole columns.

python-can's readers are forgiving: a line with fewer data bytes than its DLC is zero-padded,
a classic frame may say it has 64 bytes, an id may be wider than 29 bits. Each reader of this
package gives its frames' columns to :func:`check_damage`, which refuses such frames with the
file and the line or frame number (strict) or warns once and keeps them.

One rule is not damage: a classic frame's DLC code 9-15 means 8 data bytes (ISO 11898-1);
such frames carrying their 8 bytes are kept with ``dlc`` 8.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from ..errors import LogDamageWarning, LogFormatError
from ..frames import FrameBatch

# a classic DLC code 9..15 as python-can reports it: raw (BLF, TRC, CSV) or as a length (ASC)
_CODES_ABOVE_8 = np.array(list(range(9, 16)) + [12, 16, 20, 24, 32, 48, 64])


def _why(i: int, aid: np.ndarray, ext: np.ndarray, dlc: np.ndarray, size: np.ndarray,
         fd: np.ndarray, wide: np.ndarray, classic_long: np.ndarray) -> str:
    if wide[i]:
        return (f"id {aid[i]:#x} is wider than {29 if ext[i] else 11} bits; expected at most "
                f"{0x1FFFFFFF if ext[i] else 0x7FF:#x} for a"
                f"{'n extended' if ext[i] else ' standard'} id")
    if classic_long[i]:
        return (f"classic CAN frame (id {aid[i]:#x}) with dlc {dlc[i]} and {size[i]} data "
                "bytes; expected dlc 0-8, or a DLC code 9-15 with 8 bytes")
    return (f"id {aid[i]:#x} has {size[i]} data bytes for dlc {dlc[i]}; expected "
            f"{dlc[i] if fd[i] else min(dlc[i], 8)}")


def check_damage(*, aid: np.ndarray, ext: np.ndarray, dlc: np.ndarray, size: np.ndarray,
                 fd: np.ndarray, rtr: np.ndarray, err: np.ndarray,
                 where: Callable[[int], str], strict: bool,
                 written: dict[int, int] | None = None) -> np.ndarray:
    """Refuse (``strict``) or warn about damaged frames; return the mask of classic frames
    whose DLC code 9-15 stands for 8 bytes (the caller sets their ``dlc`` to 8).

    ``aid`` is the id as the log gives it (before masking to 29 bits), ``size`` the payload
    bytes the log holds, ``written`` the DLC as written on the line where a text reader
    changed it; ``where(i)`` names frame ``i`` (file and line or frame number).

    Example
    -------
    >>> z = np.zeros(1, bool)
    >>> check_damage(aid=np.array([0x100]), ext=z, dlc=np.array([9]), size=np.array([8]),
    ...              fd=z, rtr=z, err=z, where=str, strict=True).tolist()
    [True]
    """
    dlc = np.asarray(dlc, np.int64).copy()
    aid = np.asarray(aid, np.int64)
    size = np.asarray(size, np.int64)
    frame = ~err
    wide = frame & (aid > np.where(ext, 0x1FFFFFFF, 0x7FF))
    code = frame & ~fd & (dlc > 8) & np.isin(dlc, _CODES_ABOVE_8) & ((size == 8) | rtr)
    for i, raw in (written or {}).items():
        if raw > 15:
            code[i] = False
            dlc[i] = raw
    classic_long = frame & ~fd & (dlc > 8) & ~code
    short = frame & ~rtr & ~classic_long & (size < np.where(fd, dlc, np.minimum(dlc, 8)))
    bad = wide | classic_long | short
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = f"{where(i)}: {_why(i, aid, ext, dlc, size, fd, wide, classic_long)}"
        if strict:
            raise LogFormatError(f"{what} (strict=False keeps such frames as python-can reads "
                                 "them)")
        warnings.warn(f"{int(bad.sum())} damaged frame(s) kept as python-can reads them; the "
                      f"first: {what}", LogDamageWarning, stacklevel=4)
    return code


def channel_codes(values: np.ndarray, name: Callable[[int], str]) -> tuple[np.ndarray, list[str]]:
    """Channel indexes and names (``name(value)``) in order of first appearance.

    Example
    -------
    >>> channel_codes(np.array([3, 1, 3]), str)
    (array([0, 1, 0], dtype=uint8), ['3', '1'])
    """
    values = np.asarray(values)
    if values.size and values.dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 4096:  # small numbers (bus channels): counted in a table, no sort
            shifted = (values - lo).astype(np.intp)
            present = np.flatnonzero(np.bincount(shifted, minlength=hi - lo + 1))
            if present.shape[0] <= 16:  # (each one's first appearance: one pass each)
                first = [int(np.argmax(shifted == p)) for p in present]
                order = present[np.argsort(first, kind="stable")]
                code = np.zeros(hi - lo + 1, np.uint8)
                code[order] = np.arange(order.shape[0])
                return code[shifted], [name(int(v) + lo) for v in order]
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    if uniq.shape[0] > 255:
        raise LogFormatError(f"more than 255 channels ({uniq.shape[0]})")
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(uniq.shape[0], np.int64)
    rank[by_first] = np.arange(uniq.shape[0])
    return rank[inverse.reshape(-1)].astype(np.uint8), [name(int(v)) for v in uniq[by_first]]


def batch_from_columns(path: str, c: dict[str, np.ndarray], channel_names: list[str], *,
                       strict: bool, where: Callable[[int], str] | None = None,
                       written: dict[int, int] | None = None) -> FrameBatch:
    """The frames a reader parsed into columns, checked as python-can's frames would be.

    ``c`` holds ``time`` (int64 ns), ``aid`` (as the log gives it), ``ext``, ``fd``, ``rtr``,
    ``err``, ``rx`` (bool), ``dlc`` and ``size`` (int64: the DLC the frame says it has and the
    payload bytes the log holds), ``chan`` (uint8 index into ``channel_names``) and ``data``
    (n x 8 or n x 64, zero beyond ``size``); ``written`` as for :func:`check_damage`.
    """
    if not c["time"].shape[0]:
        return FrameBatch.empty()  # as python-can's readers give no frames
    where = where or (lambda i: f"{path}: frame {i}")
    code = check_damage(aid=c["aid"], ext=c["ext"], dlc=c["dlc"], size=c["size"], fd=c["fd"],
                        rtr=c["rtr"], err=c["err"], strict=strict, where=where,
                        written=written)
    dlc = c["dlc"].astype(np.int64)
    dlc[code] = 8  # a classic DLC code above 8 means 8 bytes
    err = c["err"]
    dlc[err] = np.minimum(dlc[err], c["size"][err])  # an error frame's dlc is no length
    n = dlc.shape[0]
    wide = bool(n and (c["fd"].any() or dlc.max() > 8 or c["size"].max() > 8))
    width = 64 if wide else 8
    over = np.flatnonzero((dlc > width) | (c["size"] > width))
    if over.shape[0]:
        i = int(over[0])
        raise LogFormatError(f"{where(i)} (id {int(c['aid'][i]):#x}): dlc {dlc[i]} and "
                             f"{c['size'][i]} data bytes; expected at most {width}")
    data = c["data"]
    if data.shape[1] < width:
        data = np.pad(data, ((0, 0), (0, width - data.shape[1])))
    batch = FrameBatch(c["time"].astype(np.int64), c["aid"].astype(np.uint32),
                       dlc.astype(np.uint8), c["ext"].astype(bool), c["fd"].astype(bool),
                       c["rtr"].astype(bool), err.astype(bool), c["chan"].astype(np.uint8),
                       np.ascontiguousarray(data[:, :width]),
                       channel_names=channel_names or ["unknown"])
    batch.is_rx = c["rx"].astype(bool)  # type: ignore[attr-defined]
    return batch


def inflate_whole(packed: bytes, size: int) -> bytes | None:
    """zlib data inflated at once by libdeflate (installed with asammdf; about 2x zlib) when
    it is whole and of the stated ``size``; else None (the caller asks zlib, which says what
    is wrong or gives what it can).

    Example
    -------
    >>> import zlib
    >>> inflate_whole(zlib.compress(b"frames"), 6) in (b"frames", None)
    True
    """
    try:
        from deflate import zlib_decompress
    except ImportError:
        return None
    try:
        got = zlib_decompress(packed, originalsize=size)
    except Exception:  # noqa: BLE001 - deflate's own error type: zlib says what is wrong
        return None
    return got if len(got) == size else None
