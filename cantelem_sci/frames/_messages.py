"""python-can messages to a :class:`FrameBatch`: the one converter the live capture and the
log readers share.

Timestamps become int64 ns rounded from each float's exact value (:func:`seconds_to_ns`:
a BLF or ASC log keeps its ns, a bus its µs); payloads are zero padded to 8 bytes, or to 64
when any frame is CAN FD or longer than 8 bytes. python-can is not imported: any objects
with the attributes of ``can.Message`` will do.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import FrameFormatError
from ._schema import FrameBatch, seconds_to_ns


def from_messages(msgs: Iterable[Any], channel_names: Sequence[str] = (),
                  default_channel: str | None = None) -> FrameBatch:
    """The frames of python-can ``msgs`` as a :class:`FrameBatch`.

    Parameters
    ----------
    msgs
        ``can.Message`` objects (or alike).
    channel_names
        Names that come first, in this order; every other ``str(msg.channel)`` is added in
        order of first appearance (at most 255 in all).
    default_channel
        The channel of a message whose ``channel`` is None (default: the first of
        ``channel_names``, else ``"can0"``).

    Returns
    -------
    FrameBatch
        With ``is_rx`` (received, not sent) as an extra attribute.

    Raises
    ------
    FrameFormatError
        A frame with a dlc or data beyond 64 bytes, or more than 255 channels; the message
        names the frame and its id.

    Example
    -------
    >>> import can
    >>> m = can.Message(timestamp=1.000000001, arbitration_id=0x123, data=[1, 2],
    ...                 is_extended_id=False)
    >>> b = from_messages([m], ["can0"])
    >>> b.dlc.tolist(), b.data.shape, int(b.time[0])
    ([2], (1, 8), 1000000001)
    """
    msgs = list(msgs)
    n = len(msgs)
    names = {str(c): i for i, c in enumerate(channel_names)}
    default = default_channel if default_channel is not None else (
        next(iter(names), "can0"))
    payloads = [bytes(m.data or b"") for m in msgs]
    fd = np.fromiter((m.is_fd for m in msgs), bool, n)
    # an error frame's dlc has no meaning as a length (BLF gives e.g. 102)
    dlc = np.fromiter((min(m.dlc, len(p)) if m.is_error_frame else m.dlc
                       for p, m in zip(payloads, msgs)), np.int64, n)
    size = np.fromiter((len(p) for p in payloads), np.int64, n)
    # rows of 64 bytes when any frame is FD or says it is longer than 8 bytes (logs hold
    # classic frames with a dlc above 8: kept as the log gives them)
    width = 64 if n and (fd.any() or dlc.max() > 8 or size.max() > 8) else 8
    bad = np.flatnonzero((dlc > width) | (dlc < 0) | (size > width))
    if bad.shape[0]:
        i = int(bad[0])
        raise FrameFormatError(f"frame {i} (id {msgs[i].arbitration_id:#x}): dlc {dlc[i]} and "
                               f"{size[i]} data bytes; expected at most {width}")
    data = np.zeros((n, width), np.uint8)
    for i, p in enumerate(payloads):
        if p:
            data[i, :min(len(p), width)] = np.frombuffer(p, np.uint8)[:width]
    ch = np.zeros(n, np.uint8)
    for i, m in enumerate(msgs):
        c = default if m.channel is None else str(m.channel)
        k = names.setdefault(c, len(names))
        if k > 254:
            raise FrameFormatError(f"frame {i}: more than 255 channels")
        ch[i] = k
    batch = FrameBatch(
        seconds_to_ns(np.fromiter((m.timestamp for m in msgs), np.float64, n)),
        np.fromiter((m.arbitration_id for m in msgs), np.int64, n).astype(np.uint32),
        dlc.astype(np.uint8),
        np.fromiter((m.is_extended_id for m in msgs), bool, n),
        fd,
        np.fromiter((m.is_remote_frame for m in msgs), bool, n),
        np.fromiter((m.is_error_frame for m in msgs), bool, n),
        ch, data, channel_names=list(names) or [default])
    batch.is_rx = np.fromiter((bool(m.is_rx) for m in msgs), bool, n)  # type: ignore[attr-defined]
    return batch
