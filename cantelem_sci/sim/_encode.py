"""Vectorised encoding of physical values into payloads (the simulator's and the tests' tool)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import UnknownNameError


def _position(sig: Any) -> int:
    """The signal's start bit: little endian as the DBC gives it; big endian, its msb in
    network (sequential) bit numbering."""
    if sig.byte_order == "little_endian":
        return int(sig.start)
    return 8 * (sig.start // 8) + (7 - sig.start % 8)


def encode_signals(message: Any, values: Mapping[str, Any], n: int | None = None,
                   width: int | None = None) -> np.ndarray:
    """Encode arrays of physical values into payloads of one DBC message.

    Values are scaled (``raw = round((value - offset) / scale)``) and saturated to the
    signal's raw range; signals not given are zero. Multiplexed signals are written
    wherever given, so callers set the multiplexer and give NaN where a signal is absent
    (NaN writes nothing).

    Parameters
    ----------
    message
        A cantools message (``db.get_message(name)``).
    values
        ``{signal name: array of physical values}``.
    n
        Number of frames (default: the length of the first value array).
    width
        Payload width in bytes (default: the message length).

    Example
    -------
    >>> import cantelem_sci as ct
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> msg = db.get_message("VCU_Vehicle")
    >>> encode_signals(msg, {"VehicleSpeed": [12.5]}).shape
    (1, 8)
    """
    sigs = {s.name: s for s in message.signals}
    for name in values:
        if name not in sigs:
            raise UnknownNameError(f"signal of message {message.name}", name, list(sigs))
    if n is None:
        n = len(np.atleast_1d(next(iter(values.values())))) if values else 0
    width = width or message.length
    out = np.zeros((n, width), np.uint8)
    for name, val in values.items():
        sig = sigs[name]
        v = np.broadcast_to(np.asarray(val, np.float64), (n,))
        present = ~np.isnan(v)
        if sig.is_float:
            ftype, utype = (np.float32, np.uint32) if sig.length == 32 else (np.float64, np.uint64)
            raw = ((np.where(present, v, 0) - sig.offset) / sig.scale).astype(ftype).view(utype)
            raw = raw.astype(np.uint64)
        else:
            r = np.round((np.where(present, v, sig.offset) - sig.offset) / sig.scale)
            if sig.is_signed:
                lo, hi = -(2.0 ** (sig.length - 1)), 2.0 ** (sig.length - 1) - 1
            else:
                lo, hi = 0.0, 2.0 ** sig.length - 1
            r = np.clip(r, lo, hi)
            if sig.length >= 53:
                r = np.clip(r, -(2.0 ** 62), 2.0 ** 62)
            raw = r.astype(np.int64).view(np.uint64)
            if sig.length < 64:
                raw = raw & np.uint64((1 << sig.length) - 1)
        pos = _position(sig)
        big = sig.byte_order == "big_endian"
        rows = np.flatnonzero(present)
        for k in range(sig.length):
            if big:
                lin = pos + k
                byte, bit = lin // 8, 7 - lin % 8
                b = (raw[rows] >> np.uint64(sig.length - 1 - k)) & np.uint64(1)
            else:
                lin = pos + k
                byte, bit = lin // 8, lin % 8
                b = (raw[rows] >> np.uint64(k)) & np.uint64(1)
            if byte >= width:
                continue
            cur = out[rows, byte]
            out[rows, byte] = ((cur & np.uint8(~(1 << bit) & 0xFF))
                               | (b.astype(np.uint8) << np.uint8(bit)))
    return out
