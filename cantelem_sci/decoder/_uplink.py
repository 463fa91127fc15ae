"""A compact radio uplink: signal snapshots packed for links of ~200 bytes a packet and ~1
packet a second (LoRa, Meshtastic), decoded back exactly at DBC resolution.

The schema is derived from the DBC and a signal list: each signal travels as its DBC raw
integer (the value quantized at the DBC's scale and offset, in the DBC's bit width; IEEE
bits for float signals), bit-packed without padding. A packet (big-endian bits)::

    version(4) flags(4) | schema digest (32) | vehicle (8-bit length + ASCII) | seq (16)
    | time, ms since the epoch (48) | [delta: base seq (16)] | presence bitmap (1 per signal)
    | values | zero bits to the byte | CRC-16/CCITT (16)

With ``delta``, each present value is the zigzag difference to the same signal in the base
snapshot, in ``DELTA_BITS`` bits, or the full raw value behind an escape bit when the
difference does not fit; the receiver needs that base (a keyframe every few packets bounds
what a lost packet costs). A value that does not fit its signal's raw range is refused,
naming the signal; a missing value (NaN) is a zero presence bit.

Example
-------
>>> import cantelem_sci as ct
>>> s = UplinkSchema.from_dbc(ct.load_dbc(ct.sample_dbc_path()), ["VehicleSpeed", "SOC"])
>>> p = s.encode({"VehicleSpeed": 87.25, "SOC": 61.5}, "EV0001", seq=7, time_ns=10**18)
>>> len(p), s.decode(p).values
(26, {'VehicleSpeed': 87.25, 'SOC': 61.5})
"""

from __future__ import annotations

import binascii
import hashlib
import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import UnknownNameError, UplinkError

__all__ = ["DELTA_BITS", "Snapshot", "UplinkField", "UplinkSchema", "peek_header"]

VERSION = 1
FLAG_DELTA = 1
DELTA_BITS = 6


@dataclass(frozen=True)
class UplinkField:
    """One signal of a schema: its raw width and conversion (from the DBC)."""

    name: str
    bits: int
    signed: bool
    scale: float
    offset: float
    is_float: bool = False
    unit: str = ""

    @property
    def raw_range(self) -> tuple[int, int]:
        if self.signed and not self.is_float:  # (a float's raw value is its IEEE bits)
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def to_raw(self, value: float) -> int:
        if self.is_float:
            fmt = ">f" if self.bits == 32 else ">d"
            return int.from_bytes(struct.pack(fmt, value), "big")
        raw = round((value - self.offset) / self.scale)
        lo, hi = self.raw_range
        if not lo <= raw <= hi:
            raise UplinkError(f"uplink: signal {self.name} = {value!r} does not fit its field "
                              f"({self.bits} bits, {lo * self.scale + self.offset:g} .. "
                              f"{hi * self.scale + self.offset:g} {self.unit})".rstrip())
        return raw

    def from_raw(self, raw: int) -> float:
        if self.is_float:
            fmt = ">f" if self.bits == 32 else ">d"
            return struct.unpack(fmt, raw.to_bytes(self.bits // 8, "big"))[0]
        return raw * self.scale + self.offset


@dataclass
class Snapshot:
    """A decoded packet: vehicle, sequence number, time (ns, ms resolution) and values
    (signals absent from the packet are left out)."""

    vehicle: str
    seq: int
    time_ns: int
    values: dict[str, float]
    delta: bool = False


class _Bits:
    def __init__(self) -> None:
        self.v = 0
        self.n = 0

    def put(self, value: int, bits: int) -> None:
        self.v = (self.v << bits) | (value & ((1 << bits) - 1))
        self.n += bits

    def bytes(self) -> bytes:
        pad = -self.n % 8
        return (self.v << pad).to_bytes((self.n + pad) // 8, "big")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.v = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def get(self, bits: int) -> int:
        if bits > self.left:
            raise UplinkError("uplink: packet shorter than its schema says")
        self.left -= bits
        return (self.v >> self.left) & ((1 << bits) - 1)


def _signed(raw: int, bits: int) -> int:
    return raw - (1 << bits) if raw >> (bits - 1) & 1 else raw


def _zigzag(d: int) -> int:
    return (d << 1) if d >= 0 else ((-d << 1) - 1)


def _unzigzag(z: int) -> int:
    return (z >> 1) if not z & 1 else -((z + 1) >> 1)


class UplinkSchema:
    """The fields of a snapshot, in order; ``digest`` identifies the schema in packets."""

    def __init__(self, fields: Sequence[UplinkField]) -> None:
        self.fields = tuple(fields)
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise UplinkError(f"uplink schema: a signal listed twice in {names}")
        text = json.dumps([[f.name, f.bits, f.signed, f.scale, f.offset, f.is_float]
                           for f in self.fields])
        self.digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")

    @classmethod
    def from_dbc(cls, db: Any, signals: Sequence[str]) -> "UplinkSchema":
        """The schema of ``signals`` (names, or ``Message.Signal``) of a DBC database."""
        from ._messages import message_infos

        every: dict[str, Any] = {}
        for m in message_infos(db):
            for s in m.signals:
                every.setdefault(s.name, s)
                every[f"{m.node}.{s.name}"] = s
        out = []
        for name in signals:
            s = every.get(name)
            if s is None:
                raise UnknownNameError("uplink signal", name, sorted(k for k in every
                                                                     if "." not in k))
            out.append(UplinkField(name, int(s.length), bool(s.is_signed),
                                   float(s.scale), float(s.offset), bool(s.is_float),
                                   s.unit or ""))
        return cls(out)

    def raw(self, values: Mapping[str, float]) -> list[int | None]:
        """Raw integers of ``values`` (None: absent), each checked against its field."""
        out: list[int | None] = []
        for f in self.fields:
            v = values.get(f.name)
            out.append(None if v is None or (isinstance(v, float) and math.isnan(v))
                       else f.to_raw(float(v)))
        return out

    def encode(self, values: Mapping[str, float], vehicle: str, seq: int, time_ns: int,
               base: Mapping[str, float] | None = None, base_seq: int | None = None) -> bytes:
        """One packet; with ``base`` (the values of packet ``base_seq``), delta-encoded."""
        vid = vehicle.encode("ascii")
        if not 0 < len(vid) <= 64:
            raise UplinkError(f"uplink: vehicle id {vehicle!r}: 1-64 ASCII characters")
        unknown = sorted(set(values) - {f.name for f in self.fields})
        if unknown:
            raise UnknownNameError("uplink signal (not in the schema)", unknown[0],
                                   [f.name for f in self.fields])
        raw = self.raw(values)
        b = _Bits()
        delta = base is not None
        b.put(VERSION << 4 | (FLAG_DELTA if delta else 0), 8)
        b.put(self.digest, 32)
        b.put(len(vid), 8)
        b.put(int.from_bytes(vid, "big"), 8 * len(vid))
        b.put(seq, 16)
        b.put(round(time_ns / 1e6), 48)
        if delta:
            b.put(base_seq if base_seq is not None else (seq - 1), 16)
        for r in raw:
            b.put(r is not None, 1)
        old = self.raw(base) if delta else [None] * len(raw)
        for f, r, o in zip(self.fields, raw, old):
            if r is None:
                continue
            if delta:
                d = None if o is None else _zigzag(r - o)
                if d is not None and d < (1 << DELTA_BITS):
                    b.put(0, 1)
                    b.put(d, DELTA_BITS)
                    continue
                b.put(1, 1)
            b.put(r, f.bits)
        body = b.bytes()
        return body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")

    def decode(self, packet: bytes, base: Snapshot | None = None) -> Snapshot:
        """The snapshot of a packet (its base snapshot given for a delta packet)."""
        head = peek_header(packet)
        if head["schema"] != self.digest:
            raise UplinkError(f"uplink: packet of schema {head['schema']:08x}, expected "
                              f"{self.digest:08x} (a different DBC or signal list)")
        if head["delta"] and (base is None or (base.seq & 0xFFFF) != head["base_seq"]):
            raise UplinkError(f"uplink: delta packet {head['seq']} of {head['vehicle']} needs "
                              f"snapshot {head['base_seq']} first")
        rd = _Reader(packet[head["size"]:-2])
        present = [rd.get(1) for _ in self.fields]
        old = self.raw(base.values) if head["delta"] else None
        values: dict[str, float] = {}
        for i, (f, p) in enumerate(zip(self.fields, present)):
            if not p:
                continue
            if head["delta"] and not rd.get(1):
                r = old[i] + _unzigzag(rd.get(DELTA_BITS))  # type: ignore[index,operator]
            else:
                r = rd.get(f.bits)
                if f.signed and not f.is_float:
                    r = _signed(r, f.bits)
            values[f.name] = f.from_raw(r)
        return Snapshot(head["vehicle"], head["seq"], head["time_ns"], values, head["delta"])


def peek_header(packet: bytes) -> dict[str, Any]:
    """Check a packet's CRC and read its header: version, delta, schema, vehicle, seq,
    time_ns, base_seq, and the header's size in bytes."""
    if not isinstance(packet, (bytes, bytearray)) or len(packet) < 16:
        raise UplinkError(f"uplink: packet of {len(packet) if hasattr(packet, '__len__') else '?'}"
                          " bytes: too short")
    body, crc = bytes(packet[:-2]), int.from_bytes(packet[-2:], "big")
    if binascii.crc_hqx(body, 0xFFFF) != crc:
        raise UplinkError("uplink: CRC mismatch (damaged packet)")
    if body[0] >> 4 != VERSION:
        raise UplinkError(f"uplink: packet version {body[0] >> 4}, expected {VERSION}")
    n = body[5]
    o = 6 + n
    if not 0 < n <= 64 or len(body) < o + 8:
        raise UplinkError("uplink: damaged header")
    head = {"version": body[0] >> 4, "delta": bool(body[0] & FLAG_DELTA),
            "schema": int.from_bytes(body[1:5], "big"),
            "vehicle": body[6:o].decode("ascii", "replace"),
            "seq": int.from_bytes(body[o:o + 2], "big"),
            "time_ns": int.from_bytes(body[o + 2:o + 8], "big") * 1_000_000}
    o += 8
    if head["delta"]:
        head["base_seq"] = int.from_bytes(body[o:o + 2], "big")
        o += 2
    head["size"] = o
    return head
