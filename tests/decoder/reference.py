"""Independent references of the decoder tests: Python-int bit extraction, and cantools'
values for every frame of a batch."""

from __future__ import annotations

import cantools
import numpy as np

from cantelem_sci.decoder._layout import _position

J1939_MASK = 0x3FFFF00


def extract_reference(payload: bytes, pos: int, length: int, big_endian: bool) -> int:
    """Slow, obviously-correct bit extraction with Python ints.

    ``pos`` is the little-endian start bit, or for big endian the msb's index in
    network (big-endian sequential) bit numbering.
    """
    if big_endian:
        whole = int.from_bytes(payload, "big")
        total = len(payload) * 8
        return (whole >> (total - pos - length)) & ((1 << length) - 1)
    whole = int.from_bytes(payload, "little")
    return (whole >> pos) & ((1 << length) - 1)


def reference_value(sig, payload: bytes, length: int) -> float:
    """Independent slow decode of one signal from Python ints (no cantools codec)."""
    avail = min(len(payload), length) * 8
    pos = _position(sig)
    if pos + sig.length > avail:
        return float("nan")
    buf = payload[:length].ljust(length, b"\0")
    raw = extract_reference(buf, pos, sig.length, sig.byte_order == "big_endian")
    if sig.is_float:
        fmt = np.float32 if sig.length == 32 else np.float64
        ut = np.uint32 if sig.length == 32 else np.uint64
        x = float(np.array([raw], ut).view(fmt)[0])
        return sig.conversion.raw_to_scaled(x, False)
    if sig.is_signed and raw >> (sig.length - 1):
        raw -= 1 << sig.length
    return float(sig.conversion.raw_to_scaled(raw, False))


def _expected(msg, payload: bytes) -> dict:
    """cantools' values of a frame; where cantools refuses it (a multiplexer value that
    selects no group), the signals no multiplexer deselects, by :func:`reference_value`."""
    try:
        return msg.decode(payload, decode_choices=False, scaling=True, allow_truncated=True)
    except cantools.database.DecodeError:
        pass
    out: dict = {}
    for s in msg.signals:  # (multiplexers come before the signals they select)
        parent = s.multiplexer_signal
        if parent is not None and out.get(parent, float("nan")) not in (s.multiplexer_ids or []):
            continue
        v = reference_value(s, payload, msg.length)
        if v == v:
            out[s.name] = v
    return out


def assert_tree_equals_cantools(tree, batch, layout) -> int:
    """Every message node of a dense ``tree`` (``decode(batch, db)``) against cantools'
    ``Message.decode`` of each of its frames (``scaling=True, decode_choices=False,
    allow_truncated=True``; NaN where cantools gives no value), bit for bit, with time,
    channel and, for J1939 messages, the source address. Returns the values compared."""
    usable = ~(batch.is_remote | batch.is_error)
    compared = 0
    for info in layout.messages:
        msg = info.message
        ids = batch.arbitration_id.astype(np.int64)
        if info.j1939:
            sel = usable & batch.is_extended & ((ids & J1939_MASK) == (msg.frame_id & J1939_MASK))
        else:
            sel = usable & (batch.is_extended == bool(msg.is_extended_frame)) & (
                ids == msg.frame_id)
        rows = np.flatnonzero(sel)
        if info.node not in tree.children:
            assert rows.shape[0] == 0, info.node
            continue
        ds = tree[info.node].dataset
        np.testing.assert_array_equal(ds["time"].values.view(np.int64),
                                      batch.time.view(np.int64)[rows])
        np.testing.assert_array_equal(ds["channel"].values, batch.channel[rows])
        if info.j1939:
            np.testing.assert_array_equal(ds["source_address"].values, ids[rows] & 0xFF)
        for k, f in enumerate(rows):
            payload = bytes(batch.data[f, :min(int(batch.dlc[f]), msg.length)])
            want = _expected(msg, payload)
            for s in info.signals:
                got = float(ds[s.name].values[k])
                if s.name in want:
                    assert np.float64(want[s.name]).view(np.uint64) == np.float64(got).view(
                        np.uint64), (info.node, s.name, k, want[s.name], got)
                else:
                    assert got != got, (info.node, s.name, k, got)
                compared += 1
    return compared
