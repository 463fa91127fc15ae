"""Passive OBD-II decoding: the request/response traffic of a log or segment into signals.

Frames on the OBD-II response identifiers (ISO 15765-4: 11-bit ``0x7E8``-``0x7EF``, 29-bit
``0x18DAF1xx``) are reassembled with ISO-TP (:mod:`._isotp`), each response is split into
its PIDs (service 01 answers may carry several), and each PID's data become the fields of
:mod:`._obd_pids`. The result has the layout of a DBC decode: one node per responding ECU
and PID (``OBD2_7E8_010C``: ECU ``7E8``, service 01, PID 0C; freeze frames ``02..``), with a
``time`` axis (when the response completed), ``channel``, and one float64 variable per field
with ``units``, ``minimum`` and ``maximum``, so queries, exports, alert rules and the
dashboard take them unchanged. Service 09 answers (VIN, calibration ids, ECU name), the
supported-PID lists, negative responses and ISO-TP problems are in the tree's
``attrs["obd2"]``.

The split of responses into PIDs is a numba kernel over all responses; the fields are
vectorised numpy per PID. Reference: python-OBD's decoders (``tests/decoder/test_obd.py``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from ..errors import ProtocolWarning
from ._isotp import PROBLEMS, reassemble
from ._obd_pids import (INFO_TYPES, NEGATIVE, PIDS, SERVICE_CURRENT, SERVICE_FREEZE,
                        SERVICE_INFO, decode_value, pid_lengths)

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["decode_obd", "is_obd_response", "ecu_name", "PROTOCOL"]

PROTOCOL = "obd2"
#: bump when the decoded form of OBD-II data changes (part of a catalog group's hash)
VERSION = 1
_EXT = 0x18DAF100


def is_obd_response(arbitration_id: np.ndarray, is_extended: np.ndarray) -> np.ndarray:
    """Which frames are on an OBD-II response identifier (ISO 15765-4).

    Example
    -------
    >>> is_obd_response(np.array([0x7E8, 0x7DF, 0x18DAF110]), np.array([False, False, True]))
    array([ True, False,  True])
    """
    i = np.asarray(arbitration_id, np.uint32)
    e = np.asarray(is_extended, bool)
    return np.where(e, (i & 0x1FFFFF00) == _EXT, (i >= 0x7E8) & (i <= 0x7EF))


def ecu_name(arbitration_id: int, is_extended: bool) -> str:
    """The name of a responding ECU in node names: its identifier in hex."""
    return f"{arbitration_id:08X}" if is_extended else f"{arbitration_id:03X}"


@njit(cache=True, nogil=True)
def _split(buf: np.ndarray, offset: np.ndarray, length: np.ndarray, lens: np.ndarray,
           rows: tuple) -> tuple[int, int]:
    """PIDs of every service 01/02 response: (message, service-1 << 8 | PID, data offset)
    into ``rows`` (three arrays; None-sized: count only); returns (rows, truncated
    responses: an unknown PID or too few bytes)."""
    msg, key, off = rows
    fill = msg.shape[0] > 0
    k = 0
    bad = 0
    for m in range(offset.shape[0]):
        o = offset[m]
        n = length[m]
        if n < 2:
            continue
        sid = buf[o]
        if sid == 0x41:
            head = 1
        elif sid == 0x42:
            head = 2
        else:
            continue
        i = 1
        while i < n:
            pid = np.int64(buf[o + i])
            ln = lens[pid]
            if ln == 0 or i + head + ln > n:
                bad += 1
                break
            if fill:
                msg[k] = m
                key[k] = (sid - 0x41) << 8 | pid
                off[k] = o + i + head
            k += 1
            i += head + ln
    return k, bad


def _node(name: str, ecu: str, ext: bool, svc: int, pid: int, t: np.ndarray, ch: np.ndarray,
          data: np.ndarray) -> "xr.Dataset":
    import xarray as xr

    p = PIDS[pid]
    prefix = "FF_" if svc == SERVICE_FREEZE else ""
    variables: dict[str, Any] = {}
    for f in p.fields:
        attrs = {"units": f.unit, "minimum": f.minimum, "maximum": f.maximum,
                 "scale": f.scale, "offset": f.offset, "length_bits": f.width,
                 "byte_order": "big_endian", "is_signed": f.signed, "is_float": False,
                 "out_of_range_count": 0, "comment": f.comment or p.title}
        variables[prefix + f.name] = ("time", decode_value(f, data).astype(np.float64), attrs)
    if svc == SERVICE_FREEZE:
        variables["FreezeFrame"] = ("time", data[:, -1].astype(np.float64),
                                    {"units": "", "comment": "freeze frame number"})
    return xr.Dataset(variables, coords={"time": t.view("datetime64[ns]"), "channel": ("time", ch)},
                      attrs={"message": name, "frame_id": f"0x{int(ecu, 16):X}",
                             "is_extended": int(ext), "is_fd": 0, "length": p.length,
                             "j1939": 0, "senders": [ecu], "comment": p.title,
                             "protocol": PROTOCOL, "service": svc, "pid": pid,
                             "dbc_file": "SAE J1979"})


def _text(b: bytes) -> str:
    return b.replace(b"\x00", b"").decode("ascii", "replace").strip()


def decode_obd(raw: Any) -> "xr.DataTree":
    """Decode the OBD-II responses of raw frames into a tree like :func:`decode`'s.

    Parameters
    ----------
    raw
        A raw-frame Dataset or :class:`~cantelem_sci.frames.FrameBatch` in time order
        (segments, logs, the decode job's frames are).

    Returns
    -------
    xarray.DataTree
        One child per responding ECU and PID; ``attrs["obd2"]`` per ECU: ``VIN``,
        ``CalibrationID``, ``ECUName`` (service 09), ``supported_pids``, ``negative``
        (negative responses by service and code), and ``problems`` (ISO-TP messages
        dropped, by cause). Lost or out-of-order frames drop their message and are
        counted there (and warned about with :class:`~cantelem_sci.errors.ProtocolWarning`);
        nothing is invented.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> raw = ct.simulate_obd_vehicle("CAR0001", duration_s=5)
    >>> tree = decode_obd(raw)
    >>> float(tree["OBD2_7E8_010D"]["VehicleSpeed"].max()) >= 0
    True
    """
    import xarray as xr

    from ._protocols import as_batch

    batch = as_batch(raw, "decode_obd")
    sel = np.flatnonzero(is_obd_response(batch.arbitration_id, batch.is_extended)
                         & ~batch.is_remote & ~batch.is_error)
    tree = xr.DataTree()
    info: dict[str, dict[str, Any]] = {}
    tree.attrs["obd2"] = info
    if not sel.size:
        return tree
    whole = sel.size == len(batch)  # (the decode job hands over OBD-II frames only)
    aid = batch.arbitration_id if whole else batch.arbitration_id[sel]
    ext = batch.is_extended if whole else batch.is_extended[sel]
    chan = batch.channel if whole else batch.channel[sel]
    # stream per channel and ECU without a sort: 8 standard and 256 extended ECUs a channel
    local = np.where(ext, 8 + (aid.astype(np.int64) & 0xFF), aid.astype(np.int64) - 0x7E8)
    code = chan.astype(np.int64) * 264 + local
    used = np.flatnonzero(np.bincount(code))
    remap = np.zeros(int(used[-1]) + 1, np.int64)
    remap[used] = np.arange(used.size)
    stream = remap[code]
    r = reassemble(stream, batch.data if whole else batch.data[sel],
                   batch.dlc if whole else batch.dlc[sel], used.size)
    names = []
    for c in used.tolist():
        lo = c % 264
        names.append(ecu_name(_EXT | (lo - 8), True) if lo >= 8 else ecu_name(0x7E8 + lo, False))
        info.setdefault(names[-1], {"channel": batch.channel_names[c // 264]})
    _problems(r, stream, names, info)
    buf = r.buf
    sid = buf[r.offset] if buf.size else np.zeros(0, np.uint8)
    # service 09 and negative responses: few, read one by one
    for m in np.flatnonzero((sid == 0x40 + SERVICE_INFO) | (sid == NEGATIVE)).tolist():
        p = bytes(buf[r.offset[m]:r.offset[m] + r.length[m]])
        e = info[names[r.stream[m]]]
        if p[0] == NEGATIVE and len(p) >= 3:
            neg = e.setdefault("negative", {})
            k = f"{p[1]:02X}:{p[2]:02X}"
            neg[k] = neg.get(k, 0) + 1
        elif len(p) >= 3 and p[1] in INFO_TYPES:
            name, size = INFO_TYPES[p[1]]
            e[name] = _text(p[3:3 + size * max(1, p[2])])
    lens = pid_lengths()
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    k, bad = _split(buf, r.offset, r.length, lens, none)  # count, then fill
    rows = (np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int64))
    _split(buf, r.offset, r.length, lens, rows)
    if bad:
        warnings.warn(ProtocolWarning(f"OBD-II: {bad} response(s) with an unknown PID or cut "
                                      f"short: the PIDs before it are decoded"), stacklevel=2)
    times = batch.time if whole else batch.time[sel]
    msg, key, off = rows
    gkey = r.stream[msg] << 9 | key
    order = np.argsort(gkey.astype(np.uint16) if used.size <= 128 else gkey, kind="stable")
    bounds = np.flatnonzero(np.diff(gkey[order])) + 1
    for part in np.split(order, bounds) if order.size else []:
        m = int(msg[part[0]])
        svc, pid = (int(key[part[0]]) >> 8) + 1, int(key[part[0]]) & 0xFF
        s = int(r.stream[m])
        p = PIDS[pid]
        freeze = svc == SERVICE_FREEZE
        start = off[part] - (1 if freeze else 0)
        data = buf[start[:, None] + np.arange(p.length + (1 if freeze else 0))]
        if freeze:  # the frame number first, then the data
            data = np.concatenate([data[:, 1:], data[:, :1]], axis=1)
        last = r.last[msg[part]]
        name = f"OBD2_{names[s]}_{svc:02X}{pid:02X}"
        ch = chan[last]
        tree[name] = xr.DataTree(_node(name, names[s], bool(ext[last[0]]), svc, pid, times[last],
                                       ch, data))
        if pid % 0x20 == 0 and svc == SERVICE_CURRENT:
            bits = int(decode_value(p.fields[0], data[-1]))
            sup = info[names[s]].setdefault("supported_pids", [])
            sup += [pid + 1 + b for b in range(32) if bits >> (31 - b) & 1 and
                    pid + 1 + b not in sup]
            sup.sort()
    return tree


def _problems(r: Any, stream: np.ndarray, names: list[str], info: dict) -> None:
    if not r.problem_code.size:
        return
    for code, frame in zip(r.problem_code.tolist(), r.problem_frame.tolist()):
        pr = info[names[stream[frame]]].setdefault("problems", {})
        pr[PROBLEMS[code]] = pr.get(PROBLEMS[code], 0) + 1
    warnings.warn(ProtocolWarning(
        "ISO-TP: " + "; ".join(f"ECU {n}: " + ", ".join(f"{v} {k}" for k, v in
                                                        info[n]["problems"].items())
                               for n in names if "problems" in info[n])
        + " (those messages are dropped, not mended)"), stacklevel=3)
