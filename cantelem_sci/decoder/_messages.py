"""The messages of a :class:`Database` as the decoder sees them: a unique node name each,
J1939 or not, signals in decoding order (multiplexers first), and how each signal's bits and
conversion are read. numpy and cantools only (no numba): the edge's live decoder
(:mod:`._lean`) and the kernels' tables (:mod:`._layout`) share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError
from ._dbc import Database, DbcFile
from ._tables import CONV_IDENTITY, CONV_INTEGER, CONV_LINEAR

__all__ = ["EXT_BIT", "J1939_MASK", "MessageInfo", "match_keys", "message_infos"]

#: Bit 31 marks an extended (29-bit) id in a match key; J1939 matches on the PGN part.
EXT_BIT = 1 << 31
J1939_MASK = 0x3FFFF00


@dataclass
class MessageInfo:
    index: int
    node: str  # unique node name
    message: Any  # cantools Message
    file: DbcFile
    j1939: bool
    signals: list[Any]  # cantools signals in kernel order (multiplexers first)
    sig0: int
    sig1: int


def _conversion(sig: Any) -> tuple[int, float, float, int, int]:
    conv = sig.conversion
    inner = getattr(conv, "_conversion", conv)
    name = type(inner).__name__
    scale, offset = inner.scale, inner.offset
    if name == "IdentityConversion":
        return CONV_IDENTITY, 1.0, 0.0, 1, 0
    if name == "LinearIntegerConversion":
        s_i, o_i = int(scale), int(offset)
        # exact in int64 unless the product can overflow: then float64 (documented limit)
        if sig.length + abs(s_i).bit_length() + 1 < 63 and abs(o_i) < 2**61:
            return CONV_INTEGER, float(scale), float(offset), s_i, o_i
        return CONV_LINEAR, float(scale), float(offset), 1, 0
    return CONV_LINEAR, float(scale), float(offset), 1, 0


def _position(sig: Any) -> int:
    if sig.byte_order == "little_endian":
        return int(sig.start)
    return 8 * (sig.start // 8) + (7 - sig.start % 8)


def _ordered_signals(msg: Any) -> list[Any]:
    sigs = list(msg.signals)
    names = {s.name for s in sigs}
    done: set[str] = set()
    out: list[Any] = []
    pending = sigs
    while pending:
        rest = []
        for s in pending:
            parent = s.multiplexer_signal
            if parent is None or parent in done or parent not in names:
                out.append(s)
                done.add(s.name)
            else:
                rest.append(s)
        if len(rest) == len(pending):  # a multiplexer cycle: keep them, unselected
            out.extend(rest)
            break
        pending = rest
    return out


def message_infos(db: Database) -> list[MessageInfo]:
    """Every message of ``db`` but containers, in file order; a name already taken is made
    unique as ``Name_0x1a2`` (then ``_2``, ``_3``, ...); ``sig0``/``sig1`` number the
    signals of all messages in a row.

    Example
    -------
    >>> from cantelem_sci.decoder import load_dbc
    >>> from cantelem_sci.sim import sample_dbc_path
    >>> info = message_infos(load_dbc(sample_dbc_path()))[0]
    >>> info.node, info.sig0, info.signals[0].name
    ('BMS_PackStatus', 0, 'PackVoltage')
    """
    if not isinstance(db, Database):
        raise ArgumentError(f"message_infos: expected a Database (load_dbc), got "
                            f"{type(db).__name__}")
    out: list[MessageInfo] = []
    seen_names: dict[str, int] = {}
    n_sig = 0
    for f in db.files:
        auto_j1939 = db.j1939 == "auto"
        for msg in f.db.messages:
            if msg.is_container:
                continue
            j1939 = bool(msg.is_extended_frame) and (
                db.j1939 is True or (auto_j1939 and (msg.protocol == "j1939")))
            name = msg.name
            if name in seen_names:
                name = f"{msg.name}_{msg.frame_id:#x}"
                k = 2
                while name in seen_names:
                    name = f"{msg.name}_{msg.frame_id:#x}_{k}"
                    k += 1
            seen_names[name] = 1
            sigs = _ordered_signals(msg)
            out.append(MessageInfo(len(out), name, msg, f, j1939, sigs, n_sig, n_sig + len(sigs)))
            n_sig += len(sigs)
    return out


def match_keys(info: MessageInfo, channel_names: tuple[str, ...] | list[str]
               ) -> tuple[int | None, int, int | None] | None:
    """How frames find message ``info`` in a batch with ``channel_names``: the channel (an
    index into the names; None: any channel), the exact key (id, bit 31 when extended) and
    the J1939 key (the id's PGN part with bit 31; None unless a J1939 message). None when
    the message's DBC is bound to a channel the batch does not have.

    Example
    -------
    >>> from cantelem_sci.decoder import load_dbc
    >>> from cantelem_sci.sim import sample_dbc_path
    >>> match_keys(message_infos(load_dbc(sample_dbc_path()))[0], ["can0"])
    (None, 256, None)
    """
    ch = info.file.channel
    if isinstance(ch, str):
        if ch not in channel_names:
            return None
        ch = list(channel_names).index(ch)
    k = int(info.message.frame_id) | (EXT_BIT if info.message.is_extended_frame else 0)
    return ch, k, ((k & J1939_MASK) | EXT_BIT) if info.j1939 else None
