"""Every log format python-can reads (ASC, BLF, TRC, MF4, CSV; gzip too), read strictly,
message by message.

The registered readers of ASC, BLF, TRC and MF4 are the whole-column ones (``_asc``, ``_blf``,
``_trc``, ``_mf4``); this one reads python-can's CSV, any format by name (``format="pycan"``)
and the ASC and TRC files (or options) outside the compiled parsers' exact grammar. Damage is
refused by the shared rules of :mod:`._damage`, with the file and the line (text formats) or
the frame number (binary formats); ``strict=False`` keeps the frames as python-can gives them
and warns once (:class:`~cantelem_sci.errors.LogDamageWarning`)."""

from __future__ import annotations

import gzip
import os
from typing import Any, Iterator

import numpy as np

from ..errors import FrameFormatError, LogFormatError
from ..frames import FrameBatch, from_messages
from ._damage import check_damage

NO_CHANNEL = "unknown"  # name of frames whose channel the log does not give
_TEXT = {".asc": "ASCReader", ".trc": "TRCReader", ".csv": "CSVReader"}


class _CountedLines:
    """A text file that counts the lines taken from it: python-can's text readers iterate
    their file and yield each message right after its line, so the count is its line."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.line = 0
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        self.line += 1  # counted first: an error while reading names the line it reads
        self.text = next(self._fh)
        return self.text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _suffix(path: str) -> str:
    low = path.lower()
    return os.path.splitext(low[:-3] if low.endswith(".gz") else low)[1]


def _open(path: str, kwargs: dict[str, Any]) -> tuple[Any, _CountedLines | None]:
    import can

    cls = _TEXT.get(_suffix(path))
    if cls is None:
        return can.LogReader(path, **kwargs), None
    enc = kwargs.pop("encoding", "utf-8")
    fh = (gzip.open(path, "rt", encoding=enc, errors="replace") if path.lower().endswith(".gz")
          else open(path, encoding=enc, errors="replace"))
    lines = _CountedLines(fh)
    try:
        return getattr(can, cls)(lines, **kwargs), lines
    except BaseException:
        fh.close()
        raise


def _where(path: str, lines: list[int] | None, i: int) -> str:
    return f"{path}:{lines[i]}: frame {i}" if lines else f"{path}: frame {i}"


def _asc_code(line: str, base: int) -> int:
    """The DLC as written on an ASC classic-frame line, ``ts ch id dir d|r dlc ...`` (python-can
    maps a data frame's through the FD table, so 0x40 and 0xF both read as 64)."""
    tokens = line.split()
    try:
        return int(tokens[5], base)
    except (IndexError, ValueError):
        return 99


def _columns(msgs: list[Any]) -> dict[str, np.ndarray]:
    n = len(msgs)
    return dict(
        ext=np.fromiter((m.is_extended_id for m in msgs), bool, n),
        aid=np.fromiter((m.arbitration_id for m in msgs), np.int64, n),
        dlc=np.fromiter((m.dlc for m in msgs), np.int64, n),
        size=np.fromiter((len(m.data or b"") for m in msgs), np.int64, n),
        fd=np.fromiter((m.is_fd for m in msgs), bool, n),
        rtr=np.fromiter((m.is_remote_frame for m in msgs), bool, n),
        err=np.fromiter((m.is_error_frame for m in msgs), bool, n))


def read_pycan(path: str, *, strict: bool = True, **kwargs: Any) -> FrameBatch:
    """Read any python-can log into a :class:`FrameBatch`.

    Parameters
    ----------
    path
        An ASC, BLF, TRC, MF4 or python-can CSV file, optionally ``.gz``.
    strict
        Refuse damaged frames (default); ``False`` keeps them as python-can reads them
        (short payloads zero-padded) and warns once with the count and the first one.
    **kwargs
        Passed to python-can's reader (e.g. ``base="dec"`` for an ASC file).

    Returns
    -------
    FrameBatch
        Channel names ``str(msg.channel)`` (``"unknown"`` where the log gives none) in order
        of first appearance; timestamps to the ns (:func:`cantelem_sci.frames.from_messages`).

    Raises
    ------
    LogFormatError
        Naming the file and the line (ASC, TRC, CSV) or the frame number (BLF, MF4), and what
        was expected.

    Example
    -------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> _ = open(p, "w").write("timestamp,arbitration_id,extended,remote,error,dlc,data\\n"
    ...                        "1.5,0x123,0,0,0,2,3q0=\\n")
    >>> read_pycan(p).data[0, :2].tolist()
    [222, 173]
    >>> _ = open(p, "a").write("1.6,0x123,0,0,0,4,3q0=\\n")
    >>> try:
    ...     read_pycan(p)
    ... except LogFormatError as err:
    ...     print(os.path.basename(str(err)).split(" (")[0])
    x.csv:3: frame 1: id 0x123 has 2 data bytes for dlc 4; expected 4
    """
    path = os.fspath(path)
    msgs: list[Any] = []
    lines: list[int] = []
    written: dict[int, int] = {}
    try:
        reader, counter = _open(path, dict(kwargs))
    except Exception as err:  # readers parse headers in their constructors
        raise LogFormatError(
            f"{path}: cannot open as a CAN log: {type(err).__name__}: {err}") from err
    try:
        with reader:
            for msg in reader:
                msgs.append(msg)
                if counter is not None:
                    lines.append(counter.line)
                    if msg.dlc > 8 and not msg.is_fd and _suffix(path) == ".asc":
                        written[len(msgs) - 1] = _asc_code(
                            counter.text, getattr(reader, "_converted_base", 16))
    except Exception as err:  # python-can and zlib raise many types on corrupt input
        at = f"{path}:{counter.line}" if counter is not None else path
        raise LogFormatError(
            f"{at}: corrupt or truncated log after frame {len(msgs)} (last good timestamp "
            f"{msgs[-1].timestamp if msgs else 'none'}): {type(err).__name__}: {err}"
        ) from err
    if not msgs:
        return FrameBatch.empty()
    code = check_damage(**_columns(msgs), written=written, strict=strict,
                        where=lambda i: _where(path, lines, i))
    for i in np.flatnonzero(code):
        msgs[i].dlc = 8  # a classic DLC code above 8 means 8 bytes
    try:
        return from_messages(msgs, default_channel=NO_CHANNEL)
    except FrameFormatError as err:
        raise LogFormatError(f"{path}: {err}") from err
