"""Every log format python-can reads (ASC, BLF, TRC, MF4, CSV, candump; gzip too)."""

from __future__ import annotations

from typing import Any

from ..errors import FrameFormatError, LogFormatError
from ..frames import FrameBatch, from_messages

NO_CHANNEL = "unknown"  # name of frames whose channel the log does not give


def read_pycan(path: str, **kwargs: Any) -> FrameBatch:
    """Read any python-can log into a :class:`FrameBatch` through ``can.LogReader``.

    Channel names are ``str(msg.channel)`` (``"unknown"`` where the log gives none) in
    order of first appearance; the frames are converted by
    :func:`cantelem_sci.frames.from_messages` (timestamps to the ns).
    """
    import can

    msgs: list[Any] = []
    try:
        reader = can.LogReader(path, **kwargs)
    except Exception as err:  # readers parse headers in their constructors
        raise LogFormatError(
            f"{path}: cannot open as a CAN log: {type(err).__name__}: {err}") from err
    try:
        with reader:
            for msg in reader:
                msgs.append(msg)
    except Exception as err:  # python-can raises many types on corrupt input
        raise LogFormatError(
            f"{path}: corrupt or truncated log after frame {len(msgs)} (last good timestamp "
            f"{msgs[-1].timestamp if msgs else 'none'}): {type(err).__name__}: {err}"
        ) from err
    if not msgs:
        return FrameBatch.empty()
    try:
        return from_messages(msgs, default_channel=NO_CHANNEL)
    except FrameFormatError as err:
        raise LogFormatError(f"{path}: {err}") from err
