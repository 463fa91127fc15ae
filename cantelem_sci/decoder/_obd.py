"""Passive OBD-II decoding: the request/response traffic of a log or segment into signals.

Frames on the OBD-II response identifiers (ISO 15765-4: 11-bit ``0x7E8``-``0x7EF``, 29-bit
``0x18DAF1xx``) are reassembled with ISO-TP (the rules of :mod:`._isotp`), each response is
split into its PIDs (service 01 answers may carry several), and each PID's data become the
fields of :mod:`._obd_pids`. The result has the layout of a DBC decode: one node per responding ECU
and PID (``OBD2_7E8_010C``: ECU ``7E8``, service 01, PID 0C; freeze frames ``02..``), with a
``time`` axis (when the response completed), ``channel``, and one float64 variable per field
with ``units``, ``minimum`` and ``maximum``, so queries, exports, alert rules and the
dashboard take them unchanged. Service 09 answers (VIN, calibration ids, ECU name), the
supported-PID lists, negative responses and ISO-TP problems are in the tree's
``attrs["obd2"]``.

One numba pass (:mod:`._obd_scan`, run twice: count, then fill) does the identifiers,
ISO-TP and the split into PIDs; the fields are vectorised numpy per PID. Reference:
python-OBD's decoders (``tests/decoder/test_obd.py``).
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ProtocolWarning
from ._isotp import PROBLEMS
from ._obd_scan import ECUS_PER_CHANNEL, N_BAD, N_OTHER, N_PROBLEMS, scan_obd
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


def stream_names(streams: list[int], channel_names: list[str]) -> dict[int, str]:
    """ECU names of streams (channel * 264 + ECU): the answering id, prefixed with its
    channel where the same id answers on several channels (``can1_7E8``)."""
    ids: dict[int, list[int]] = {}
    for c in streams:
        ids.setdefault(c % ECUS_PER_CHANNEL, []).append(c)
    out = {}
    for lo, cs in ids.items():
        e = ecu_name(_EXT | (lo - 8), True) if lo >= 8 else ecu_name(0x7E8 + lo, False)
        for c in cs:
            ch = re.sub(r"\W", "_", str(channel_names[c // ECUS_PER_CHANNEL]))
            out[c] = f"{ch}_{e}" if len(cs) > 1 else e
    return out


def _node(name: str, ecu: str, ext: bool, svc: int, pid: int, t: np.ndarray, ch: np.ndarray,
          data: np.ndarray) -> "xr.Dataset":
    import xarray as xr

    p = PIDS[pid]
    ecu = ecu.rsplit("_", 1)[-1]  # (the id, without a channel prefix)
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
    tree = xr.DataTree()
    info: dict[str, dict[str, Any]] = {}
    tree.attrs["obd2"] = info
    if not len(batch):
        return tree
    o = scan_obd(batch.arbitration_id, batch.is_extended, batch.is_remote, batch.is_error,
                 batch.channel, batch.dlc, batch.data, pid_lengths())
    names = stream_names(np.flatnonzero(o.seen).tolist(), batch.channel_names)
    for c, name in names.items():  # each stream that carried an answer frame
        info.setdefault(name, {"channel": batch.channel_names[c // ECUS_PER_CHANNEL]})
    _problems(o, names, info)
    # service 09 and negative answers: few, read one by one
    for m in range(int(o.n[N_OTHER])):
        p = bytes(o.o_buf[o.o_off[m]:o.o_off[m] + o.o_len[m]])
        e = info[names[int(o.o_stream[m])]]
        if len(p) >= 3 and p[0] == NEGATIVE:
            neg = e.setdefault("negative", {})
            k = f"{p[1]:02X}:{p[2]:02X}"
            neg[k] = neg.get(k, 0) + 1
        elif len(p) >= 3 and p[0] == 0x40 + SERVICE_INFO and p[1] in INFO_TYPES:
            name, size = INFO_TYPES[p[1]]
            e[name] = _text(p[3:3 + size * max(1, p[2])])
    if o.n[N_BAD]:
        warnings.warn(ProtocolWarning(f"OBD-II: {int(o.n[N_BAD])} response(s) with an unknown "
                                      f"PID or cut short: the PIDs before it are decoded"),
                      stacklevel=2)
    for g in np.flatnonzero(o.count).tolist():
        c, svc, pid = g // 512, (g % 512) // 256 + 1, g % 256
        p = PIDS[pid]
        freeze = svc == SERVICE_FREEZE
        rows = slice(int(o.start[g]), int(o.start[g] + o.count[g]))
        frames = o.row_frame[rows]
        data = o.row_data[rows, :p.length + (1 if freeze else 0)]
        if freeze:  # the frame number first, then the data
            data = np.concatenate([data[:, 1:], data[:, :1]], axis=1)
        name = f"OBD2_{names[c]}_{svc:02X}{pid:02X}"
        tree[name] = xr.DataTree(_node(name, names[c], c % ECUS_PER_CHANNEL >= 8, svc, pid,
                                       batch.time[frames], batch.channel[frames], data))
        if pid % 0x20 == 0 and svc == SERVICE_CURRENT:
            bits = int(decode_value(p.fields[0], data[-1]))
            sup = info[names[c]].setdefault("supported_pids", [])
            sup += [pid + 1 + b for b in range(32) if bits >> (31 - b) & 1 and
                    pid + 1 + b not in sup]
            sup.sort()
    return tree


def _problems(o: Any, names: dict[int, str], info: dict) -> None:
    n = int(o.n[N_PROBLEMS])
    if not n:
        return
    for code, c in zip(o.problems[:n, 1].tolist(), o.problems[:n, 2].tolist()):
        pr = info[names[c]].setdefault("problems", {})
        pr[PROBLEMS[code]] = pr.get(PROBLEMS[code], 0) + 1
    warnings.warn(ProtocolWarning(
        "ISO-TP: " + "; ".join(f"ECU {e}: " + ", ".join(f"{v} {k}" for k, v in
                                                        info[e]["problems"].items())
                               for e in names.values() if "problems" in info[e])
        + " (those messages are dropped, not mended)"), stacklevel=3)
