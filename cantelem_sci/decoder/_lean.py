"""A few signals decoded with numpy alone: the edge logger's live decoder.

The kernels of :mod:`._decode` decode every signal of every message at tens of millions of
frames a second, but they need numba, about 70 MB of resident memory that a Raspberry Pi
class logger does not have. Live publishing and alerts want a handful of signals of batches
of a few hundred frames: vectorised numpy over the matched rows does that in well under a
millisecond. The rules are the kernels' own (tested value for value against them): frames
match by id, channel and J1939 PGN as :class:`._match.Matcher` does; a signal is NaN where the
frame (or the message) is too short for it, or its multiplexer does not select it; values
are converted as cantools converts them (integer conversions exact in int64).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ArgumentError
from ._messages import EXT_BIT, J1939_MASK, MessageInfo, _conversion, _position, match_keys
from ._tables import CONV_IDENTITY, CONV_INTEGER

__all__ = ["LeanDecoder"]


def _raw(data: np.ndarray, pos: int, length: int, big_endian: bool) -> np.ndarray:
    """The unsigned field of ``length`` bits at bit ``pos`` of each row of ``data`` (uint8,
    ``(n, width)``); ``pos`` counts as :func:`._messages._position` does."""
    n, width = data.shape
    b0 = pos // 8
    b1 = (pos + length - 1) // 8
    if b1 - b0 >= 8:  # an unaligned field of 58-64 bits spans 9 bytes: Python integers
        order = "big" if big_endian else "little"
        total = 8 * width
        out = np.empty(n, np.uint64)
        for i in range(n):
            x = int.from_bytes(data[i].tobytes(), order)
            sh = total - pos - length if big_endian else pos
            out[i] = (x >> sh) & ((1 << length) - 1)
        return out
    w0 = min(b0, max(width - 8, 0))
    win = np.zeros((n, 8), np.uint8)
    k = min(8, width - w0)
    win[:, :k] = data[:, w0:w0 + k]
    p = pos - 8 * w0
    if big_endian:
        word = win.view(">u8")[:, 0].astype(np.uint64)
        shift = 64 - p - length
    else:
        word = win.view("<u8")[:, 0].astype(np.uint64)
        shift = p
    mask = np.uint64((1 << length) - 1) if length < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    return (word >> np.uint64(shift)) & mask


def _physical(raw: np.ndarray, sig: Any) -> np.ndarray:
    """The float64 values of raw fields, as the kernels' ``convert`` computes them."""
    conv, scale, offset, scale_i, offset_i = _conversion(sig)
    if sig.is_float:
        x = (raw.astype(np.uint32).view(np.float32).astype(np.float64) if sig.length == 32
             else raw.view(np.float64).copy())
        return x if conv == CONV_IDENTITY else x * scale + offset
    ln = int(sig.length)
    if sig.is_signed:
        iv = ((raw << np.uint64(64 - ln)).view(np.int64) >> np.int64(64 - ln)
              if ln < 64 else raw.view(np.int64))
    else:
        iv = None
    if conv == CONV_INTEGER:
        base = iv if iv is not None else raw.view(np.int64)
        return (base * np.int64(scale_i) + np.int64(offset_i)).astype(np.float64)
    x = (iv if iv is not None else raw).astype(np.float64)
    return x if conv == CONV_IDENTITY else x * scale + offset


class LeanDecoder:
    """Decode the signals ``wanted`` (``(message index, signal index)`` pairs, indices as in
    :func:`._messages.message_infos`) of frame batches.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> from cantelem_sci.decoder import load_dbc
    >>> from cantelem_sci.decoder import message_infos
    >>> infos = message_infos(load_dbc(ct.sample_dbc_path()))
    >>> m = next(i for i in infos if i.node == "VCU_Vehicle")
    >>> s = m.sig0 + [x.name for x in m.signals].index("VehicleSpeed")
    >>> batch = ct.simulate_vehicle(duration_s=1)
    >>> t, v = LeanDecoder(infos, [(m.index, s)]).decode(batch)[(m.index, s)]
    >>> bool(len(t) > 0 and (v >= 0).all())
    True
    """

    def __init__(self, infos: Sequence[MessageInfo], wanted: Sequence[tuple[int, int]]) -> None:
        self.infos = list(infos)
        self.wanted = [(int(m), int(s)) for m, s in wanted]
        for m, s in self.wanted:
            if not (0 <= m < len(self.infos) and self.infos[m].sig0 <= s < self.infos[m].sig1):
                raise ArgumentError(f"LeanDecoder: signal {s} of message {m} does not exist "
                                    f"({len(self.infos)} messages; see message_infos)")
        self._keys: dict[tuple[str, ...], list[tuple[int, Any, bool, int]]] = {}

    def _claims(self, channel_names: tuple[str, ...]) -> list[tuple[int, Any, bool, int]]:
        """(message, channel index or None, J1939 pass, key) in the order frames are
        claimed: each channel's DBCs before the any-channel ones, exact ids before PGNs,
        earlier messages first (a later message sharing an id is never matched)."""
        if channel_names in self._keys:
            return self._keys[channel_names]
        bound, anywhere = [], []
        for info in self.infos:
            keys = match_keys(info, channel_names)
            if keys is None:
                continue
            ch, k, pgn = keys
            rows = bound if ch is not None else anywhere
            rows.append((info.index, ch, False, k))
            if pgn is not None:
                rows.append((info.index, ch, True, pgn))
        order = []
        for rows in (bound, anywhere):
            order += [r for r in rows if not r[2]] + [r for r in rows if r[2]]
        self._keys[channel_names] = order
        return order

    def match(self, batch: Any) -> np.ndarray:
        """The message index of each frame (-1: none)."""
        n = len(batch)
        out = np.full(n, -1, np.int64)
        ext = batch.is_extended.astype(bool)
        aid = batch.arbitration_id.astype(np.int64)
        exact = aid | np.where(ext, EXT_BIT, 0)
        pgn = np.where(ext, (aid & J1939_MASK) | EXT_BIT, -1)
        usable = ~(batch.is_remote.astype(bool) | batch.is_error.astype(bool))
        keys = {int(k) for k in np.unique(exact)} | {int(k) for k in np.unique(pgn)}
        for m, ch, j1939, key in self._claims(tuple(batch.channel_names)):
            if key not in keys:  # (most messages are not in a given batch)
                continue
            hit = usable & (out < 0) & ((pgn if j1939 else exact) == key)
            if ch is not None:
                hit &= batch.channel == ch
            out[hit] = m  # claimed even when not wanted: it hides later messages' ids
        return out

    def decode(self, batch: Any) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
        """``{(message, signal): (time ns, values)}`` of the wanted signals (every frame of
        the message; NaN where absent or not selected)."""
        msg_of = self.match(batch) if len(batch) else np.zeros(0, np.int64)
        out: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        cache: dict[tuple[int, int], np.ndarray] = {}
        for m, s in self.wanted:
            rows = np.flatnonzero(msg_of == m)
            out[(m, s)] = (batch.time[rows], self._values(batch, rows, m, s, cache))
        return out

    def _values(self, batch: Any, rows: np.ndarray, m: int, s: int,
                cache: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
        if (m, s) in cache:
            return cache[(m, s)]
        info = self.infos[m]
        sig = info.signals[s - info.sig0]
        pos, ln = _position(sig), int(sig.length)
        data = batch.data[rows]
        avail = np.minimum(np.minimum(batch.dlc[rows].astype(np.int64),
                                      int(info.message.length)), data.shape[1])
        present = pos + ln <= avail * 8
        vals = np.full(rows.shape[0], np.nan)
        if present.any() and pos + ln <= 8 * data.shape[1]:
            vals = np.where(present, _physical(_raw(data, pos, ln, sig.byte_order ==
                                                    "big_endian"), sig), np.nan)
        parent = sig.multiplexer_signal
        k = next((j for j, x in enumerate(info.signals) if x.name == parent), None)
        if parent is not None and k is not None:
            pv = self._values(batch, rows, m, info.sig0 + k, cache)
            ok = ~np.isnan(pv)
            sel = np.zeros(rows.shape[0], bool)
            sel[ok] = np.isin(pv[ok].astype(np.int64),
                              np.asarray([int(v) for v in (sig.multiplexer_ids or [])],
                                         np.int64))
            vals = np.where(sel, vals, np.nan)
        cache[(m, s)] = vals
        return vals
