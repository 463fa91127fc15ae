"""The CAN bus-logging channel groups of an MDF 4 file, read from its blocks directly.

asammdf opens a file by parsing every block into Python objects and, for an unsorted file
(CANedge and most loggers write one data group holding every channel group's records, each
led by its record id), by sorting the records into groups; then it converts the channels.
For the bus-logging layout this reader needs only a few blocks: the header's start time,
each data group's records (``##DT``, ``##DZ`` deflated or transposed, lists ``##DL`` and
``##HL``), and per channel group its acquisition source, its master time channel and the
fields of its ``CAN_DataFrame`` / ``CAN_ErrorFrame`` / ``CAN_RemoteFrame`` structure. The
records are split by one numba pass and each field is cut out of them as a column.

It reads what these loggers write: fixed-size records, unsigned little-endian integer
fields and byte arrays, virtual channels, identity, linear and value-to-value conversions,
no invalidation bytes. Anything else raises :class:`NotSimple`, and the caller reads the
file with asammdf instead (same frames, slower). Tested frame for frame against the
asammdf path on the corpus's real captures and on generated files.
"""

from __future__ import annotations

import re
import struct
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from ._damage import inflate_whole
from ._mdf_kernels import entries, rows, signal_data, split, uint_field

__all__ = ["Damaged", "NotSimple", "read_bus_groups"]

_KINDS = ("CAN_DataFrame", "CAN_ErrorFrame", "CAN_RemoteFrame")
_FLAG_CG_VLSD, _FLAG_CG_BUS_EVENT = 1, 2
_SOURCE_BUS, _BUS_TYPE_CAN = 2, 2
_FLAG_HD_LOCAL_TIME = 1
_UNFIN_CYCLES, _UNFIN_DT_LENGTH, _UNFIN_VLSD = 1, 4, 32
#: block headers as asammdf's scan of an unfinalized file finds them
_BLOCK_RE = re.compile(rb"##(DG\x00\x00\x00\x00\x40\x00{7}\x04\x00{7}|(D[VTZIL]|AT|C[AGHNC]|EV"
                       rb"|FH|HL|LD|MD|R[DVI]|S[IRD]|TX|GD)\x00\x00\x00\x00)", re.DOTALL)


class NotSimple(Exception):
    """A file or block this reader does not handle (the caller uses asammdf); never leaves
    the package."""


class Damaged(NotSimple):
    """A file whose blocks or records contradict each other (truncated, overwritten): the
    caller refuses it, naming the file, and does not hand it to asammdf (whose compiled
    parts can crash the process on such a file)."""


class _File:
    """The bytes of an MDF 4 file and its blocks' links and data."""

    def __init__(self, buf: bytes) -> None:
        if buf[:8] not in (b"MDF     ", b"UnFinMF ") or len(buf) < 64:
            raise NotSimple("not an MDF file")
        if struct.unpack_from("<H", buf, 28)[0] < 400:
            raise NotSimple("MDF 3")
        self.buf = buf
        # an unfinalized file (a logger's, still open or cut off): its groups' cycle counts
        # and the length of its last data block were not written; both are found as
        # asammdf finds them (any other unfinished part: asammdf reads the file)
        self.unfin = struct.unpack_from("<HH", buf, 60) if buf[:8] == b"UnFinMF " else (0, 0)
        if self.unfin[1] or self.unfin[0] & ~(_UNFIN_CYCLES | _UNFIN_DT_LENGTH | _UNFIN_VLSD):
            raise NotSimple(f"unfinalized parts {self.unfin}")

    def next_block(self, at: int) -> int:
        """Where the first block header after ``at`` starts at an 8-byte boundary (the end
        of the file if none): asammdf's scan for headers, from ``at`` on."""
        pos = self.buf.find(b"##", at + 1)
        while pos >= 0:
            if not pos % 8 and _BLOCK_RE.match(self.buf, pos):
                return pos
            pos = self.buf.find(b"##", pos + 1)
        return len(self.buf)

    def block(self, at: int, want: bytes | None = None) -> tuple[bytes, list[int], int, int]:
        """(id, links, offset of its data, end of the block) of the block at ``at``."""
        if at <= 0 or at + 24 > len(self.buf):
            raise Damaged(f"no block at byte {at} (the file has {len(self.buf)})")
        kind, _, length, nlinks = struct.unpack_from("<4s4sQQ", self.buf, at)
        if kind[:2] != b"##":
            raise Damaged(f"no block header at byte {at}")
        if want is not None and kind != want:
            raise Damaged(f"a {kind.decode('latin-1')} block at byte {at}, expected "
                          f"{want.decode('latin-1')}")
        if at + length > len(self.buf) or 24 + 8 * nlinks > length:
            raise Damaged(f"the {kind.decode('latin-1')} block at byte {at} runs past the "
                          "end of the file")
        links = list(struct.unpack_from(f"<{nlinks}Q", self.buf, at + 24))
        return kind, links, at + 24 + 8 * nlinks, at + length

    def text(self, at: int) -> str:
        if not at:
            return ""
        _, _, data, end = self.block(at)
        return self.buf[data:end].split(b"\0", 1)[0].decode("utf-8", "replace")

    def chain(self, at: int) -> list[int]:
        """Blocks linked by their first link (next), from ``at``."""
        out = []
        while at:
            out.append(at)
            if len(out) > 100_000:
                raise Damaged("a chain of blocks loops")
            at = self.block(at)[1][0]
        return out

    def records(self, at: int, size: int = 0) -> np.ndarray:
        """The data bytes a data group links to, its blocks joined; with ``size`` (a sorted
        group's record size), where every block is zipped transposed in rows of that size,
        the records as an n x size view of their columns (no transposing back)."""
        parts: list[np.ndarray] = []
        if self.unfin[0] & _UNFIN_DT_LENGTH:  # its one data block: up to the next block
            kind, links, data, _ = self.block(at) if at else (b"", [], 0, 0)
            if kind != b"##DT" or links:
                raise NotSimple(f"an unfinalized data group's data in {kind!r}")
            return np.frombuffer(self.buf[data:self.next_block(at)], np.uint8)
        self._collect(at, parts)
        if size and parts and all(p.ndim == 2 and p.shape[0] == size or not p.size
                                  for p in parts):
            cols = [p for p in parts if p.size]
            if len(cols) == 1:
                return cols[0].T
            out2 = np.empty((size, sum(p.shape[1] for p in cols)), np.uint8)
            r = 0
            for p in cols:
                out2[:, r:r + p.shape[1]] = p
                r += p.shape[1]
            return out2.T
        if len(parts) == 1 and parts[0].ndim == 1:
            return parts[0]
        out = np.empty(sum(p.size for p in parts), np.uint8)
        pos = 0
        for p in parts:  # a transposed block (2-D: param x rows) written back in rows
            if p.ndim == 2:
                out[pos:pos + p.size].reshape(p.shape[1], p.shape[0])[:] = p.T
            else:
                out[pos:pos + p.size] = p
            pos += p.size
        return out

    def _collect(self, at: int, parts: list[np.ndarray]) -> None:
        if not at:
            return
        kind, links, data, end = self.block(at)
        if kind == b"##DT":
            parts.append(np.frombuffer(self.buf, np.uint8, end - data, data))
        elif kind == b"##DZ":
            org, ztype, param, org_len, z_len = struct.unpack_from("<2sBxIQQ", self.buf, data)
            if org != b"DT":
                raise NotSimple(f"zipped {org!r} block")
            raw = np.frombuffer(_inflate(self.buf[data + 24:data + 24 + z_len], org_len),
                                np.uint8)
            if raw.size != org_len:
                raise Damaged("a zipped block's length differs")
            if ztype == 1 and param:  # transposed: columns of ``param`` bytes, then the rest
                n_rows = org_len // param
                parts.append(raw[:n_rows * param].reshape(param, n_rows))
                raw = raw[n_rows * param:]
            elif ztype != 0:
                raise NotSimple(f"zip type {ztype}")
            parts.append(raw)
        elif kind == b"##DL":
            for dl in self.chain(at):
                for link in self.block(dl, b"##DL")[1][1:]:
                    self._collect(link, parts)
        elif kind == b"##HL":
            self._collect(links[0], parts)
        else:
            raise NotSimple(f"data block {kind!r}")


def _inflate(data: bytes, size: int) -> bytes:
    """A zipped block's zlib data (libdeflate where installed, as asammdf uses it)."""
    got = inflate_whole(data, size)
    if got is not None:
        return got
    try:
        return zlib.decompress(data)
    except zlib.error as err:
        raise Damaged(f"a zipped block does not inflate: {err}") from err


def _start_seconds(f: _File, hd: int) -> float:
    """The header's start time as asammdf's ``header.start_time.timestamp()`` gives it."""
    _, _, data, _ = f.block(hd, b"##HD")
    abs_ns, tz_min, dst_min, flags = struct.unpack_from("<QhhB", f.buf, data)
    if flags & _FLAG_HD_LOCAL_TIME:
        return datetime.fromtimestamp(abs_ns / 10**9, timezone.utc).replace(
            tzinfo=None).timestamp()
    tz = timezone(timedelta(minutes=tz_min + dst_min))
    return datetime.fromtimestamp(abs_ns / 10**9, tz).timestamp()


def _conversion(f: _File, at: int, values: np.ndarray) -> np.ndarray:
    """``values`` through the conversion block at ``at`` (0: none)."""
    if not at:
        return values
    _, _, data, _ = f.block(at, b"##CC")
    ctype, _, _, _, nval = struct.unpack_from("<BBHHH", f.buf, data)
    vals = np.frombuffer(f.buf, np.float64, nval, data + 24)
    if ctype == 0:
        return values
    if ctype == 1:
        b, a = vals[0], vals[1]
        if (a, b) == (1, 0):
            return values
        out = values * a
        return out + b if b else out
    if ctype == 5 and nval >= 2:  # value to value, no interpolation: every raw value a key
        keys, phys = vals[0::2], vals[1::2]
        order = np.argsort(keys, kind="stable")
        keys, phys = keys[order], phys[order]
        i = np.clip(np.searchsorted(keys, values), 0, keys.size - 1)
        if values.size and not (keys[i] == values).all():
            raise NotSimple("a value outside a value-to-value table")
        return phys[i]
    raise NotSimple(f"conversion type {ctype}")


def _channel(f: _File, at: int) -> dict[str, Any]:
    _, links, data, _ = f.block(at, b"##CN")
    ctype, _, dtype, bit_off, byte_off, bits = struct.unpack_from("<BBBBII", f.buf, data)
    return {"next": links[0], "composition": links[1], "name": f.text(links[2]),
            "conversion": links[4], "data": links[5], "type": ctype, "data_type": dtype, "bit": bit_off,
            "byte": byte_off, "bits": bits}


def _column(f: _File, ch: dict[str, Any], rec: np.ndarray) -> np.ndarray:
    """One channel's values in the records ``rec`` (n x record bytes), converted."""
    n = rec.shape[0]
    if ch["type"] == 6:  # virtual: the record number, through the conversion
        return _conversion(f, ch["conversion"], np.arange(n, dtype=np.uint64))
    if ch["type"] not in (0, 2):
        raise NotSimple(f"channel type {ch['type']}")
    b0, nbits = ch["byte"], ch["bits"]
    if ch["data_type"] == 10:  # byte array
        if ch["bit"] or nbits % 8:
            raise NotSimple("a byte array off byte boundaries")
        if b0 + nbits // 8 > rec.shape[1]:
            raise Damaged("a channel past its record")
        return rec[:, b0:b0 + nbits // 8]
    if ch["data_type"] == 4 and not ch["bit"] and nbits in (32, 64):  # float, little end
        if b0 + nbits // 8 > rec.shape[1]:
            raise Damaged("a channel past its record")
        raw = np.ascontiguousarray(rec[:, b0:b0 + nbits // 8]).view(f"<f{nbits // 8}")[:, 0]
        return _conversion(f, ch["conversion"], raw.astype(np.float64))
    if ch["data_type"] != 0 or not 0 < nbits <= 64 or ch["bit"] + nbits > 64:
        raise NotSimple(f"data type {ch['data_type']} of {nbits} bits")
    nbytes = (ch["bit"] + nbits + 7) // 8
    if b0 + nbytes > rec.shape[1]:
        raise Damaged("a channel past its record")
    if not ch["bit"] and nbits in (8, 16, 32, 64):  # a whole little-endian integer
        if nbytes == 1:
            raw = rec[:, b0]
        else:
            raw = np.ascontiguousarray(rec[:, b0:b0 + nbytes]).view(f"<u{nbytes}")[:, 0]
        return _conversion(f, ch["conversion"], raw)
    raw = uint_field(rec, b0, nbytes, ch["bit"], (1 << nbits) - 1 if nbits < 64 else -1,
                      np.empty(n, np.uint64))
    return _conversion(f, ch["conversion"], raw)


def _vlsd_column(ch: dict[str, Any], rec: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """A variable-length byte array (its values in ``sd``, the records holding u64 offsets)
    as n x (longest) bytes, zero-padded."""
    if ch["data_type"] != 10 or ch["bits"] != 64 or ch["bit"] or ch["byte"] + 8 > rec.shape[1]:
        raise NotSimple("a variable-length channel of another layout")
    offsets = np.ascontiguousarray(rec[:, ch["byte"]:ch["byte"] + 8]).view("<u8")[:, 0]
    longest = 0
    if offsets.size:
        ok = offsets.astype(np.int64) + 4 <= sd.size
        if not ok.all():
            raise Damaged("a signal-data offset past its data")
        o = offsets.astype(np.int64)
        lens = (sd[o].astype(np.int64) | sd[o + 1].astype(np.int64) << 8
                | sd[o + 2].astype(np.int64) << 16 | sd[o + 3].astype(np.int64) << 24)
        longest = int(lens.max())
        if longest > 64:  # CAN FD carries 64 bytes at most
            raise Damaged(f"a payload of {longest} bytes")
    out = np.zeros((offsets.size, longest), np.uint8)
    if not signal_data(sd, offsets, out):
        raise Damaged("signal data past its end")
    return out


def _group_records(f: _File, dg: int) -> list[tuple[dict[str, Any], np.ndarray]]:
    """(channel group, its records n x bytes) of each channel group of a data group; a
    variable-length (VLSD) group's records are given as its signal-data stream."""
    _, links, data, _ = f.block(dg, b"##DG")
    id_size = f.buf[data]
    cgs = []
    for cg in f.chain(links[1]):
        _, cl, cdata, _ = f.block(cg, b"##CG")
        rid, cycles, flags, _, nbytes, inval = struct.unpack_from("<QQHH4xII", f.buf, cdata)
        cgs.append({"address": cg, "links": cl, "record_id": rid, "cycles": cycles,
                    "flags": flags, "bytes": nbytes, "inval": inval})
    if id_size not in (0, 1, 2, 4, 8):
        raise NotSimple(f"record ids of {id_size} bytes")
    if id_size == 0:
        if len(cgs) != 1 or f.unfin[0]:
            raise NotSimple("a sorted data group of several channel groups")
        size = cgs[0]["bytes"] + cgs[0]["inval"]
        stream = f.records(links[2], size)
        if stream.ndim == 2:  # its columns, as the zipped blocks hold them
            return [(cgs[0], stream)]
        n = stream.size // size if size else 0
        return [(cgs[0], stream[:n * size].reshape(n, size))]
    stream = f.records(links[2])
    ids = np.array([c["record_id"] for c in cgs], np.int64)
    sizes = np.array([-1 if c["flags"] & _FLAG_CG_VLSD else c["bytes"] + c["inval"]
                      for c in cgs], np.int64)
    group, where, stop = split(stream, id_size, ids, sizes)
    if stop != stream.size and not f.unfin[0] & _UNFIN_DT_LENGTH:
        raise Damaged(f"records end at byte {stop} of {stream.size}")
    out = []
    for g, cg in enumerate(cgs):
        at = where[group == g]
        if sizes[g] < 0:  # VLSD: the entries joined, as a signal-data block holds them
            sd = np.empty(stream.size, np.uint8)
            out.append((cg, sd[:entries(stream, at, sd)]))
            continue
        rec = rows(stream, at, np.zeros((at.size, int(sizes[g])), np.uint8))
        if f.unfin[0] & _UNFIN_CYCLES:
            cg["cycles"] = rec.shape[0]
        out.append((cg, rec))
    return out


def _bus_fields(f: _File, cg: dict[str, Any], rec: np.ndarray, vlsd: dict[int, np.ndarray]
                ) -> tuple[str, np.ndarray, dict[str, np.ndarray]] | None:
    """(kind, raw times in s, {"<kind>.<field>": values}) of a CAN bus-event channel group
    with records, else None (a group python-can skips)."""
    if not cg["flags"] & _FLAG_CG_BUS_EVENT or cg["flags"] & _FLAG_CG_VLSD or not cg["cycles"]:
        return None
    si = cg["links"][3]
    if not si:
        return None
    _, _, sdata, _ = f.block(si, b"##SI")
    stype, sbus = f.buf[sdata], f.buf[sdata + 1]
    if not stype & _SOURCE_BUS or sbus != _BUS_TYPE_CAN:
        return None
    if cg["inval"]:
        raise NotSimple("invalidation bytes")
    if rec.shape[0] != cg["cycles"]:
        raise Damaged(f"{rec.shape[0]} records, the group says {cg['cycles']}")
    chans = [_channel(f, at) for at in f.chain(cg["links"][1])]
    kind = next((c for c in chans if c["name"] in _KINDS), None)
    master = next((c for c in chans if c["type"] == 2), None)
    if kind is None:
        return None
    if master is None:
        raise NotSimple("no master channel")
    fields = {}
    at = kind["composition"]
    if at and f.block(at)[0] != b"##CN":
        raise NotSimple("a composition that is not a structure")
    for c in ([_channel(f, a) for a in f.chain(at)] if at else []):
        name = c["name"] if c["name"].startswith(kind["name"] + ".") \
            else f"{kind['name']}.{c['name']}"
        if c["type"] == 1:  # variable length: its bytes in a VLSD group of this data group
            if c["data"] not in vlsd:
                raise NotSimple("variable-length data outside a VLSD group")
            fields[name] = _vlsd_column(c, rec, vlsd[c["data"]])
        else:
            fields[name] = _column(f, c, rec)
    times = _column(f, master, rec)
    return kind["name"], np.asarray(times, np.float64), fields


def read_bus_groups(path: str) -> tuple[float, list[tuple[str, np.ndarray, dict]]]:
    """The header's start time (s) and, in file order, (kind, times in s from the start,
    {"<kind>.<field>": values}) of each CAN bus-event channel group with frames.

    Raises :class:`NotSimple` for a layout it does not read (the caller uses asammdf), and
    :class:`Damaged` for a damaged file, naming the block or byte."""
    with open(path, "rb") as fh:
        f = _File(fh.read())
    try:
        _, hl, _, _ = f.block(64, b"##HD")
        start = _start_seconds(f, 64)
        out = []
        for dg in f.chain(hl[0]):
            groups = _group_records(f, dg)
            vlsd = {cg["address"]: rec for cg, rec in groups if cg["flags"] & _FLAG_CG_VLSD}
            for cg, rec in groups:
                got = _bus_fields(f, cg, rec, vlsd)
                if got is not None:
                    out.append(got)
    except (struct.error, zlib.error, ValueError, IndexError, OverflowError) as err:
        raise Damaged(f"{type(err).__name__}: {err}") from err
    return start, out
