"""Every log format python-can reads (ASC, BLF, TRC, MF4, CSV, candump; gzip too)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import LogFormatError
from ..frames import FrameBatch, seconds_to_ns

NO_CHANNEL = "unknown"  # name of frames whose channel the log does not give


def read_pycan(path: str, **kwargs: Any) -> FrameBatch:
    """Read any python-can log into a :class:`FrameBatch` through ``can.LogReader``.

    Channel names are ``str(msg.channel)`` (``"unknown"`` where the log gives none) in
    order of first appearance; timestamps become int64 ns rounded from python-can's float.
    """
    import can

    times: list[float] = []
    ids: list[int] = []
    dlcs: list[int] = []
    flags: list[tuple[bool, bool, bool, bool]] = []
    rx: list[bool] = []
    chans: list[int] = []
    payloads: list[bytes] = []
    names: dict[str, int] = {}
    width = 8
    try:
        reader = can.LogReader(path, **kwargs)
    except Exception as err:  # readers parse headers in their constructors
        raise LogFormatError(
            f"{path}: cannot open as a CAN log: {type(err).__name__}: {err}") from err
    try:
        with reader:
            for msg in reader:
                times.append(msg.timestamp)
                ids.append(msg.arbitration_id)
                data = bytes(msg.data or b"")
                # error frames carry no payload length of meaning (BLF gives e.g. 102)
                dlcs.append(min(msg.dlc, len(data)) if msg.is_error_frame else msg.dlc)
                if len(data) > 8 or msg.dlc > 8:
                    width = 64
                flags.append((msg.is_extended_id, msg.is_fd, msg.is_remote_frame,
                              msg.is_error_frame))
                rx.append(bool(msg.is_rx))
                name = NO_CHANNEL if msg.channel is None else str(msg.channel)
                chans.append(names.setdefault(name, len(names)))
                payloads.append(data)
    except LogFormatError:
        raise
    except Exception as err:  # python-can raises many types on corrupt input
        raise LogFormatError(
            f"{path}: corrupt or truncated log after frame {len(times)} "
            f"(last good timestamp {times[-1] if times else 'none'}): {type(err).__name__}: {err}"
        ) from err
    n = len(times)
    if len(names) > 255:
        raise LogFormatError(f"{path}: {len(names)} channels; at most 255 are supported")
    buf = np.zeros((n, width), np.uint8)
    for i, p in enumerate(payloads):
        if p:
            buf[i, :min(len(p), width)] = np.frombuffer(p, np.uint8)[:width]
    fl = np.asarray(flags, bool).reshape(n, 4)
    dl = np.asarray(dlcs, np.int64)
    if n and (dl.max() > width or dl.min() < 0):
        bad = int(np.flatnonzero((dl > width) | (dl < 0))[0])
        raise LogFormatError(f"{path}: frame {bad} (id {ids[bad]:#x}) has dlc {dl[bad]}; "
                             f"expected 0..{width}")
    batch = FrameBatch(seconds_to_ns(np.asarray(times, np.float64)),
                       np.asarray(ids, np.int64).astype(np.uint32), dl.astype(np.uint8),
                       fl[:, 0].copy(), fl[:, 1].copy(), fl[:, 2].copy(), fl[:, 3].copy(),
                       np.asarray(chans, np.uint8), buf,
                       channel_names=list(names) or ["can0"])
    batch.is_rx = np.asarray(rx, bool)  # type: ignore[attr-defined]
    return batch
